package component

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context that ends at a deadline, as one from
// context.WithDeadline does, but that arms a timer only when something
// waits for its end (Done, AfterFunc, a context derived from it). A
// user's events are each handled under a bound (userSink.Deliver), and
// most of them (occupant presences: N² of them when N users join one
// room) only ever check Err: a timer for each would be made and stopped
// for nothing, and stopped timers stay in the runtime's timer heap, with
// their contexts, until it is cleaned, seconds later.
//
// Its parent must never end (Done nil: a context.WithoutCancel's);
// withLazyDeadline falls back to context.WithDeadline for any other.
type lazyDeadline struct {
	context.Context // the parent, for Value
	deadline        time.Time

	mu         sync.Mutex
	armed      context.Context // nil until something waits
	cancel     context.CancelFunc
	released   bool
	releasedAt time.Time
}

// withLazyDeadline returns parent bounded by d, and its release, as
// context.WithTimeout does.
func withLazyDeadline(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if parent.Done() != nil {
		return context.WithTimeout(parent, d)
	}
	c := &lazyDeadline{Context: parent, deadline: time.Now().Add(d)}
	return c, c.release
}

// arm returns the context that really ends: made at the first wait,
// already ended when the deadline passed or the context was released.
func (c *lazyDeadline) arm() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		if c.released && c.releasedAt.Before(c.deadline) {
			c.armed, c.cancel = context.WithCancel(c.Context)
			c.cancel()
		} else {
			// Released at or after the deadline: ended by it, as a
			// timer would have.
			c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		}
	}
	return c.armed
}

func (c *lazyDeadline) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return
	}
	c.released, c.releasedAt = true, time.Now()
	if c.cancel != nil {
		c.cancel()
	}
}

// Deadline implements context.Context.
func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements context.Context; it arms the timer.
func (c *lazyDeadline) Done() <-chan struct{} { return c.arm().Done() }

// Err implements context.Context without arming a timer: whichever came
// first of the deadline (DeadlineExceeded) and the release (Canceled).
func (c *lazyDeadline) Err() error {
	c.mu.Lock()
	armed, released, releasedAt := c.armed, c.released, c.releasedAt
	c.mu.Unlock()
	switch {
	case armed != nil:
		return armed.Err()
	case released && releasedAt.Before(c.deadline):
		return context.Canceled
	case released || !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc lets context.AfterFunc, and the contexts derived from this
// one, wait for its end without a goroutine of their own.
func (c *lazyDeadline) AfterFunc(f func()) func() bool { return context.AfterFunc(c.arm(), f) }

// String names the context for debugging, as the context package's do.
func (c *lazyDeadline) String() string { return "component.lazyDeadline" }
