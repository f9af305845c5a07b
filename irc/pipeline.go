package irc

import (
	"context"
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// Pipelining (transports.Queuer): a user's messages are queued on their
// server's connection one behind the other and written at the
// connection's pace while the earlier ones still wait for the server's
// confirmation. Without echo-message the PING written after the last of
// the lines queued back to back confirms them all (wroteLocked), so a
// burst costs one fence, not one per message.

var _ transports.Queuer = (*adapter)(nil)

// Queue implements transports.Queuer: msg's lines are queued on the
// connection to its server behind what was queued before; the Pending
// waits for the server's confirmation. A raw command to a server is
// confirmed by nothing: its Pending is done once its lines are queued.
// Queue does no I/O.
func (a *adapter) Queue(ctx context.Context, msg transports.Message) (transports.Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := a.target(msg.To)
	if err != nil {
		return nil, err
	}
	if err := a.n.allowed(t.Server); err != nil {
		return nil, err
	}
	c, err := a.existing(t.Server)
	if err != nil {
		return nil, err
	}
	var w *echoWait
	switch {
	case t.Channel != "":
		w, err = c.queueMessage(t.Channel, msg.To, true, msg)
	case t.Nick != "":
		w, err = c.queueMessage(t.Nick, msg.To, false, msg)
	default:
		err = c.sendRaw(ctx, msg.Body, a.registered())
	}
	if err != nil {
		return nil, err
	}
	if w == nil {
		return transports.Done{}, nil
	}
	return &sent{c: c, w: w}, nil
}

// sent is a queued message's wait for its confirmation.
type sent struct {
	c *conn
	w *echoWait

	mu   sync.Mutex // held while waiting: one waiter at a time
	done bool
	id   transports.RemoteID
	err  error
}

// Wait implements transports.Pending (conn.waitSent, once).
func (s *sent) Wait(ctx context.Context) (transports.RemoteID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.id, s.err = s.c.waitSent(ctx, s.w)
		s.done = true
	}
	return s.id, s.err
}
