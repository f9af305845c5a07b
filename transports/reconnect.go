package transports

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Clock is the time the reconnect policy reads and waits on. The
// supervisor uses the real one; tests give it a fake (Supervisor.SetClock)
// so that backoff is checked without sleeping.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed. It must
	// not block.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Retryable reports whether a session or a connection that failed with err
// is worth another attempt under the same credentials. A refused login
// (ErrBadCredentials) and the gateway's own policy (ErrPolicy) are not:
// trying again cannot change them.
func Retryable(err error) bool {
	return !errors.Is(err, ErrBadCredentials) && !errors.Is(err, ErrPolicy)
}

// Reconnect is the one reconnect policy of a user's session, as the
// supervisor hands it to the network in Account.Reconnect. The supervisor
// retries the session itself (Connect again after Adapter.Done); a network
// whose adapter keeps connections of its own that must survive a drop
// (IRC: one per server, with the channels to rejoin) redials them through
// a Link, so it has no backoff of its own, and the connection that is the
// session's reports its state through it, so the user sees one state,
// built here.
//
// A nil *Reconnect is valid: its links wait with the default backoff and
// report nothing. Methods are safe for concurrent use.
type Reconnect struct {
	backoff Backoff
	clock   Clock

	mu     sync.Mutex
	report func(Status) // nil once detached
}

// NewReconnect returns a policy that waits b's delays on clock (nil: real
// time) and gives the states of reporting links to report (which may be
// nil). The supervisor makes one per Connect; tests that connect an
// adapter without a supervisor make their own.
func NewReconnect(b Backoff, clock Clock, report func(Status)) *Reconnect {
	if clock == nil {
		clock = realClock{}
	}
	return &Reconnect{backoff: b, clock: clock, report: report}
}

// detach stops r from reporting: its adapter is being closed, and a state
// it reported now would arrive after the supervisor's own.
func (r *Reconnect) detach() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.report = nil
	r.mu.Unlock()
}

func (r *Reconnect) setStatus(st Status) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.report != nil {
		r.report(st)
	}
}

func (r *Reconnect) clockOrReal() Clock {
	if r == nil {
		return realClock{}
	}
	return r.clock
}

func (r *Reconnect) delay(attempt int) time.Duration {
	if r == nil {
		return Backoff{}.Delay(attempt)
	}
	return r.backoff.Delay(attempt)
}

// Link returns the retry state of one connection. When reports is true
// the connection's state is the session's (IRC: the registered server's
// connection): Up and Lost report it to the user. Other links only pace
// their redials.
func (r *Reconnect) Link(reports bool) *Link {
	return &Link{r: r, reports: reports}
}

// Link is one connection's place in the reconnect policy: how many
// attempts failed since it was last up. Its methods are safe for
// concurrent use (a connection may come up on its reader's goroutine and
// be redialled by another).
type Link struct {
	r       *Reconnect
	reports bool

	mu      sync.Mutex
	attempt int
}

// Up says the connection is (again) up: the backoff starts over, and a
// reporting link reports StateConnected.
func (l *Link) Up() {
	l.mu.Lock()
	l.attempt = 0
	l.mu.Unlock()
	if l.reports {
		l.r.setStatus(Status{State: StateConnected})
	}
}

// Lost says the connection failed or dropped because of err, and decides
// whether to dial it again. It returns false at once when err is not
// Retryable or ctx ended; the caller then gives up (a reporting link's
// adapter ends its session with End(err), and the supervisor reports
// it). Otherwise a reporting link reports StateTransientDisconnect with
// err's text and the time of the retry; Lost waits the backoff and
// returns true, or false if ctx ended first. It blocks at most the
// backoff and does no I/O.
func (l *Link) Lost(ctx context.Context, err error) bool {
	if err == nil {
		err = ErrUnavailable
	}
	if !Retryable(err) || ctx.Err() != nil {
		return false
	}
	l.mu.Lock()
	d := l.r.delay(l.attempt)
	l.attempt++
	l.mu.Unlock()
	clock := l.r.clockOrReal()
	if l.reports {
		l.r.setStatus(Status{State: StateTransientDisconnect, Text: err.Error(), Retry: clock.Now().Add(d)})
	}
	select {
	case <-ctx.Done():
		return false
	case <-clock.After(d):
		return true
	}
}
