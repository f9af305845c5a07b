package transportstest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// Pipelining mode: a network whose Caps claim Pipelining has its
// messages queued (Adapter.Queue) by the component rather than sent. A
// queued message reaches the network at once (Sent shows it) and is
// confirmed at once, as Send would: its Pending is already done. After
// HoldQueued(true) the confirmations wait for the test instead: Held
// lists the messages in flight, in order, and Confirm or Fail settles
// the oldest, so a test sees how many of a user's messages are in flight
// at once and in which order they are settled.

// pipeState is an adapter's queued messages awaiting confirmation.
type pipeState struct {
	held    []*pending
	queued  int
	changed chan struct{} // closed and replaced when held grows
}

// pending is a held message's transports.Pending.
type pending struct {
	a    *Adapter
	msg  transports.Message
	done chan struct{}

	mu      sync.Mutex
	settled bool
	id      transports.RemoteID
	err     error
}

// HoldQueued makes the confirmations of messages queued from now on
// wait for Confirm or Fail (true), or come at once (false).
func (n *Network) HoldQueued(hold bool) {
	n.mu.Lock()
	n.holdQueued = hold
	n.mu.Unlock()
}

func (n *Network) holding() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.holdQueued
}

// Queue implements transports.Queuer: m reaches the network now (Sent
// shows it) and is confirmed at once, or, after HoldQueued(true), when
// the test calls Confirm or Fail. A message to "nobody" fails with
// ErrNotFound when confirmed, as a legacy server's error arrives before
// its confirmation. Queue fails with ErrNotConnected after Close, and
// with ctx's error when ctx is done.
func (a *Adapter) Queue(ctx context.Context, m transports.Message) (transports.Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hold := a.net.holding()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, transports.ErrNotConnected
	}
	a.pipe.queued++
	var p *pending
	if hold {
		p = &pending{a: a, msg: m, done: make(chan struct{})}
		a.pipe.held = append(a.pipe.held, p)
		if a.pipe.changed != nil {
			close(a.pipe.changed)
			a.pipe.changed = nil
		}
	}
	a.mu.Unlock()
	select {
	case a.sent <- m:
	default:
	}
	if !hold {
		id, err := a.confirm(m)
		return transports.Done{ID: id, Err: err}, nil
	}
	return p, nil
}

// confirm is the network's confirmation of m: its ID, or its error.
func (a *Adapter) confirm(m transports.Message) (transports.RemoteID, error) {
	if m.To == "nobody" {
		return "", fmt.Errorf("%w: nobody: No such nick", transports.ErrNotFound)
	}
	id := transports.RemoteID("m" + strconv.FormatInt(a.net.seq.Add(1), 10))
	if a.net.Unnamed {
		id = ""
	} else {
		a.remember(m.To, id)
	}
	return a.arrived(m, id)
}

// Queued counts the messages Queue took.
func (a *Adapter) Queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pipe.queued
}

// Held returns the held messages not settled yet, oldest first.
func (a *Adapter) Held() []transports.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	ms := make([]transports.Message, len(a.pipe.held))
	for i, p := range a.pipe.held {
		ms[i] = p.msg
	}
	return ms
}

// WaitHeld waits until at least n messages are held, and returns them.
func (a *Adapter) WaitHeld(ctx context.Context, n int) ([]transports.Message, error) {
	for {
		a.mu.Lock()
		if len(a.pipe.held) >= n {
			a.mu.Unlock()
			return a.Held(), nil
		}
		if a.pipe.changed == nil {
			a.pipe.changed = make(chan struct{})
		}
		ch := a.pipe.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return a.Held(), fmt.Errorf("%d messages held, want %d: %w", len(a.Held()), n, ctx.Err())
		}
	}
}

// Confirm confirms the oldest held message, as Send would have (an ID,
// a room's echo, or the error for "nobody"), and returns it; false when
// none is held.
func (a *Adapter) Confirm() (transports.Message, bool) {
	p := a.popHeld()
	if p == nil {
		return transports.Message{}, false
	}
	p.settle(a.confirm(p.msg))
	return p.msg, true
}

// Fail fails the oldest held message with err and returns it; false
// when none is held.
func (a *Adapter) Fail(err error) (transports.Message, bool) {
	p := a.popHeld()
	if p == nil {
		return transports.Message{}, false
	}
	p.settle("", err)
	return p.msg, true
}

func (a *Adapter) popHeld() *pending {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pipe.held) == 0 {
		return nil
	}
	p := a.pipe.held[0]
	a.pipe.held = a.pipe.held[1:]
	return p
}

// failHeld fails every held message with err (the session ended).
func (a *Adapter) failHeld(err error) {
	a.mu.Lock()
	held := a.pipe.held
	a.pipe.held = nil
	a.mu.Unlock()
	for _, p := range held {
		p.settle("", err)
	}
}

// unhold forgets p, abandoned by its waiter.
func (a *Adapter) unhold(p *pending) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.pipe.held {
		if x == p {
			a.pipe.held = append(a.pipe.held[:i:i], a.pipe.held[i+1:]...)
			return
		}
	}
}

// settle records the result, once.
func (p *pending) settle(id transports.RemoteID, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.settled {
		return
	}
	p.settled, p.id, p.err = true, id, err
	close(p.done)
}

// Wait implements transports.Pending.
func (p *pending) Wait(ctx context.Context) (transports.RemoteID, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.a.unhold(p)
		p.settle("", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id, p.err
}

var _ transports.Queuer = (*Adapter)(nil)
