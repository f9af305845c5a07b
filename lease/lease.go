// Package lease runs the active/standby election of one name (a
// component's domain) among the instances that share a store: an
// instance waits as a standby until it takes the lease, then runs the
// work that needs it (the component's XMPP stream, its adapters, the
// outbox flush) for as long as it keeps renewing the lease, and stops
// that work the moment it can no longer be sure it holds it.
//
// The lease and its fencing token live in the store ([storage.Leaser]):
// an XMPP server takes one component stream per domain, and a holder that
// was paused (a long GC, a stopped VM) past its TTL wakes up as a former
// holder whose fenced writes fail, since a standby took over with a larger
// token meanwhile. With a store that is not shared (bbolt, one process)
// the lease is held at once and never lost.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/storage"
)

// ErrLost is returned by [Elector.Run] when the lease was lost while the
// work ran: the work was stopped, and the process, no longer the holder,
// should start again as a standby (exiting and being restarted does that
// most simply, and leaves no state of the holding behind).
var ErrLost = errors.New("lease lost")

// DefaultTTL is the lease's time to live when Config.TTL is zero: a
// standby takes over at most this long (plus its poll interval) after the
// holder died.
const DefaultTTL = 3 * time.Second

// Config says what to elect and how.
type Config struct {
	// Leaser is the shared store; nil means a store of this process
	// alone: the lease is held at once, with token 0, and never lost.
	Leaser storage.Leaser
	// Name is the lease's name, Owner this instance's name (shown by
	// `switchboard status`).
	Name, Owner string
	// TTL is how long a holding lasts without renewal; zero means
	// DefaultTTL. The holder renews every TTL/3, and gives the work up
	// when no renewal succeeded for TTL/3*2 (before the lease can
	// expire); a standby tries to take it every TTL/6.
	TTL    time.Duration
	Logger *slog.Logger
}

// Status is what an Elector says about itself, for /readyz and metrics.
type Status struct {
	// Holder is true while this instance holds the lease and its work
	// runs.
	Holder bool
	// Lease is the current holding when Holder, otherwise the last one
	// this instance had (zero if none).
	Lease storage.Lease
	// Acquired counts the holdings this instance has taken.
	Acquired uint64
	// Err is the last error talking to the store, nil once a call
	// succeeds again: a standby with an error cannot take over.
	Err error
}

// Elector elects one name. Make it with New; Run it once.
type Elector struct {
	cfg      Config
	log      *slog.Logger
	holder   atomic.Bool
	acquired atomic.Uint64

	mu      sync.Mutex
	lease   storage.Lease
	lastErr error
}

// New returns an Elector for cfg. It does no I/O.
func New(cfg Config) *Elector {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Elector{cfg: cfg, log: log.With("lease", cfg.Name, "instance", cfg.Owner)}
}

// Shared reports whether the lease is in a shared store (a standby is
// possible), not held at once by this process alone.
func (e *Elector) Shared() bool { return e.cfg.Leaser != nil }

// Status returns the Elector's state now. It does no I/O.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{Holder: e.holder.Load(), Lease: e.lease, Acquired: e.acquired.Load(), Err: e.lastErr}
}

// Run waits until it holds the lease, then runs work with a context that
// is cancelled when the lease is lost or ctx is done, and returns once
// work has returned: nil when ctx was done (the lease is released, so a
// standby takes over at once), ErrLost (wrapped) when the lease was lost,
// or work's error (wrapped; the lease is released). work must return soon
// after its context is cancelled; the lease it gets carries the fencing
// token its writes must use.
func (e *Elector) Run(ctx context.Context, work func(ctx context.Context, l storage.Lease) error) error {
	if e.cfg.Leaser == nil {
		l := storage.Lease{Name: e.cfg.Name, Owner: e.cfg.Owner, Since: time.Now()}
		e.took(l)
		defer e.holder.Store(false)
		if err := work(ctx, l); err != nil {
			return fmt.Errorf("lease %s: %w", e.cfg.Name, err)
		}
		return nil
	}
	l, err := e.campaign(ctx)
	if err != nil {
		return nil // ctx done while a standby
	}
	e.took(l)
	e.log.Info("holding the lease", "fence", l.Token)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if e.keep(wctx, l) {
			close(lost)
			cancel()
		}
	}()
	werr := work(wctx, l)
	cancel()
	wg.Wait()
	e.holder.Store(false)
	select {
	case <-lost:
		e.log.Warn("lease lost: the work stopped", "fence", l.Token)
		return fmt.Errorf("lease %s token %d: %w", e.cfg.Name, l.Token, ErrLost)
	default:
	}
	// Released with a fresh context: ctx is done by now, and a standby
	// should not wait out the TTL.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.TTL)
	defer rcancel()
	if err := e.cfg.Leaser.ReleaseLease(rctx, l); err != nil {
		e.log.Warn("releasing the lease", "err", err)
	}
	if werr != nil {
		return fmt.Errorf("lease %s: %w", e.cfg.Name, werr)
	}
	return nil
}

// took records that l is now held.
func (e *Elector) took(l storage.Lease) {
	e.mu.Lock()
	e.lease, e.lastErr = l, nil
	e.mu.Unlock()
	e.acquired.Add(1)
	e.holder.Store(true)
}

// campaign tries to take the lease every TTL/6 until it does or ctx is
// done, announcing the instance each time (a standby shows in
// `switchboard status`).
func (e *Elector) campaign(ctx context.Context) (storage.Lease, error) {
	t := time.NewTicker(e.cfg.TTL / 6)
	defer t.Stop()
	for {
		actx, cancel := context.WithTimeout(ctx, e.cfg.TTL/3)
		l, ok, err := e.cfg.Leaser.AcquireLease(actx, e.cfg.Name, e.cfg.Owner, e.cfg.TTL)
		if err == nil {
			err = e.cfg.Leaser.Announce(actx, e.cfg.Owner, e.cfg.TTL)
		}
		cancel()
		e.setErr(err)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("standby: cannot reach the lease", "err", err)
		}
		if ok {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return storage.Lease{}, ctx.Err()
		case <-t.C:
		}
	}
}

// keep renews l every TTL/3 until ctx is done (false) or the lease is, or
// may be, lost (true): a renewal said so, or none succeeded for 2/3 of the
// TTL, counted from before the last successful renewal was sent — past
// that the lease may expire before this instance hears of it.
func (e *Elector) keep(ctx context.Context, l storage.Lease) bool {
	ttl := e.cfg.TTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	valid := time.Now().Add(ttl * 2 / 3)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, valid)
		err := e.cfg.Leaser.RenewLease(rctx, l, ttl)
		if err == nil {
			// Only for `switchboard status`: its failure is not the lease's.
			if aerr := e.cfg.Leaser.Announce(rctx, e.cfg.Owner, ttl); aerr != nil {
				e.log.Debug("announcing the instance", "err", aerr)
			}
		}
		cancel()
		if ctx.Err() != nil {
			return false
		}
		e.setErr(err)
		switch {
		case err == nil:
			valid = sent.Add(ttl * 2 / 3)
		case errors.Is(err, storage.ErrFenced):
			return true
		default:
			e.log.Warn("renewing the lease", "err", err)
			if !time.Now().Before(valid) {
				return true
			}
		}
	}
}

func (e *Elector) setErr(err error) {
	e.mu.Lock()
	e.lastErr = err
	e.mu.Unlock()
}
