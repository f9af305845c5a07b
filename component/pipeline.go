package component

import (
	"context"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// Pipelining: where the network claims it (Capabilities.Pipelining,
// transports.Queuer), the user's lane queues each of their messages and
// goes on with their next stanza; the wait for the network's
// confirmation, and what follows it (the message-ID pair, the receipt,
// or the error for that message's id), runs on the user's confirm
// goroutine, in the order the messages were queued. So a burst of one
// user's messages is on its way at once (IRC: one PING fences them all)
// while each message keeps its exactly-once pairing and its answer.
//
// Bounded: at most maxInFlight of a user's messages are unconfirmed;
// the lane waits for the oldest confirmation beyond that. Lane work
// that needs what the confirmations write (the message-ID map:
// corrections, retractions, replies, reactions) or that ends the session
// they travel on waits until the user's messages in flight are settled
// (settle).

// maxInFlight bounds a user's messages queued to the network and not
// confirmed yet. It is above a client's usual burst (the load tool's 30
// messages at once) so that a burst is written back to back, and small
// beside what the network's own queue bounds (IRC: 200 lines per
// connection), so one user's backlog stays a short wait.
const maxInFlight = 32

// confirmTimeout bounds the wait for one message's confirmation, from
// when the earlier messages of the user were settled: never the time it
// waited its turn behind them.
const confirmTimeout = time.Minute

// inflight counts each user's unconfirmed messages.
type inflight struct {
	mu   sync.Mutex
	n    map[string]int
	wake map[string]chan struct{} // closed when the user's count drops
}

// acquire takes one of user's max places, waiting while they are all
// taken; an error means ctx ended first.
func (f *inflight) acquire(ctx context.Context, user string, max int) error {
	return f.wait(ctx, user, func(n int) bool { return n < max }, true)
}

// settle waits until none of user's messages is in flight.
func (f *inflight) settle(ctx context.Context, user string) error {
	return f.wait(ctx, user, func(n int) bool { return n == 0 }, false)
}

func (f *inflight) wait(ctx context.Context, user string, ok func(int) bool, take bool) error {
	for {
		f.mu.Lock()
		if n := f.n[user]; ok(n) {
			if take {
				if f.n == nil {
					f.n = make(map[string]int)
				}
				f.n[user] = n + 1
			}
			f.mu.Unlock()
			return nil
		}
		if f.wake == nil {
			f.wake = make(map[string]chan struct{})
		}
		ch := f.wake[user]
		if ch == nil {
			ch = make(chan struct{})
			f.wake[user] = ch
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back one of user's places.
func (f *inflight) release(user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[user]--; f.n[user] <= 0 {
		delete(f.n, user)
	}
	if ch := f.wake[user]; ch != nil {
		close(ch)
		delete(f.wake, user)
	}
}

// count is how many of user's messages are in flight.
func (f *inflight) count(user string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[user]
}

// settle waits until the user's messages in flight are confirmed and
// their follow-ups (message-ID pairs, receipts, errors) done. Lane work:
// never on the user's confirm goroutine, which it waits for. An error
// means ctx ended first.
func (c *Component) settle(ctx context.Context, user string) error {
	return c.flight.settle(ctx, user)
}

// pipelines reports whether msg to a goes out through
// transports.Queuer: the network claims Pipelining, and the message
// carries no files for FileSender.SendFiles (which has no queued form).
func (c *Component) pipelines(a transports.Adapter, shared []sharedFile) (transports.Queuer, bool) {
	caps := c.netCaps()
	q, ok := a.(transports.Queuer)
	if !ok || !caps.Pipelining {
		return nil, false
	}
	if _, files := a.(transports.FileSender); files && caps.SendFiles && len(shared) > 0 {
		return nil, false
	}
	return q, true
}

// sendThen sends msg for user through a (sendWithFiles) and calls done
// with the network's ID or error. The done calls of a user's messages
// run in the order of the messages: where the network pipelines, done
// runs on the user's confirm goroutine once the network confirmed msg,
// and sendThen returns as soon as msg is queued (or waits for a place
// among the user's maxInFlight); otherwise, after the user's earlier
// messages settled, it sends and runs done before it returns. Lane work.
func (c *Component) sendThen(ctx context.Context, user jid.JID, a transports.Adapter, msg transports.Message, shared []sharedFile,
	done func(ctx context.Context, rid transports.RemoteID, err error)) {
	u := user.String()
	q, ok := c.pipelines(a, shared)
	if !ok {
		if err := c.settle(ctx, u); err != nil {
			done(ctx, "", err)
			return
		}
		rid, err := c.sendWithFiles(ctx, user, a, msg, shared)
		done(ctx, rid, err)
		return
	}
	if err := c.flight.acquire(ctx, u, maxInFlight); err != nil {
		// Shutting down; the answer still comes after the earlier ones.
		c.confirms.Post(ctx, u, func(ctx context.Context) { done(ctx, "", err) })
		return
	}
	qctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	p, err := q.Queue(qctx, msg)
	cancel()
	c.confirms.Post(ctx, u, func(ctx context.Context) {
		defer c.flight.release(u)
		rid := transports.RemoteID("")
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, confirmTimeout)
			rid, err = p.Wait(wctx)
			cancel()
		}
		done(ctx, rid, err)
	})
}
