// Package userloop runs each user's work in order, on one goroutine per
// user that exists only while the user has work queued.
//
// The component keeps two groups (see doc/architecture.md): the owner
// group, whose goroutine is the only one that reads or changes a user's
// protocol state (rooms, occupants, dialogs), so that protocol logic takes
// no locks; and the lane group, which runs a user's blocking calls to the
// legacy network in the order the user's stanzas arrived.
//
// The rule that keeps them free of deadlocks: work running on a group's
// goroutine never waits for work of the same key in the same group (Call
// runs inline when the context says it is already there), and owner work
// never waits for a lane or for the legacy network.
package userloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Group runs work per key (a user's bare JID), in order. The zero value
// is not usable; use New.
type Group struct {
	name string
	log  *slog.Logger
	max  int // bound on waiting jobs for TryPost; 0: none

	mu     sync.Mutex
	queues map[string]*queue
	closed bool
	wg     sync.WaitGroup
}

// ErrClosed is Call's error once the group is closed.
var ErrClosed = errors.New("userloop: closed")

type queue struct {
	jobs []job
}

type job struct {
	ctx context.Context
	fn  func(context.Context)
}

// New returns a group. name appears in logs; max bounds the jobs TryPost
// lets wait per key (0: no bound); log receives the panics of jobs (nil:
// slog.Default()).
func New(name string, max int, log *slog.Logger) *Group {
	if log == nil {
		log = slog.Default()
	}
	return &Group{name: name, log: log, max: max, queues: make(map[string]*queue)}
}

// onKey marks a context as running on a group's goroutine for a key.
type onKey struct{ g *Group }

// On reports whether ctx belongs to work running on g's goroutine for key.
func (g *Group) On(ctx context.Context, key string) bool {
	k, _ := ctx.Value(onKey{g}).(string)
	return k == key && key != ""
}

// Post queues fn for key, whatever the queue's length: for the
// component's own follow-up work, whose number the component bounds.
// fn gets ctx marked as running on key's goroutine; it runs even when ctx
// is already done (fn checks). After Close, fn is dropped.
func (g *Group) Post(ctx context.Context, key string, fn func(context.Context)) {
	g.add(ctx, key, fn, 0)
}

// TryPost queues fn for key unless the group's bound of jobs is waiting
// already, or the group is closed; it reports whether it did. For work a peer can multiply
// (stanzas), which is refused rather than queued without bound.
func (g *Group) TryPost(ctx context.Context, key string, fn func(context.Context)) bool {
	return g.add(ctx, key, fn, g.max)
}

// Call runs fn on key's goroutine and waits until it returned. It runs fn
// inline when ctx already belongs to key's goroutine (work calling back
// into its own user). When ctx ends before fn started, fn never runs and
// Call returns ctx's error; once fn started, Call waits for it. After
// Close, fn never runs and Call returns ErrClosed.
func (g *Group) Call(ctx context.Context, key string, fn func(context.Context)) error {
	if g.On(ctx, key) {
		fn(ctx)
		return nil
	}
	const (
		waiting int32 = iota
		running
		abandoned
	)
	var state atomic.Int32
	done := make(chan struct{})
	if !g.add(ctx, key, func(ctx context.Context) {
		if !state.CompareAndSwap(waiting, running) {
			return
		}
		defer close(done)
		fn(ctx)
	}, 0) {
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if state.CompareAndSwap(waiting, abandoned) {
			return ctx.Err()
		}
		<-done
		return nil
	}
}

// Wait waits until every key's goroutine has ended, for tests that stop
// posting first; Close is the way to stop a group that others may still
// post to.
func (g *Group) Wait() { g.wg.Wait() }

// Close refuses new work and waits until the work already queued has run:
// its jobs may still post to other groups, and Call into this one from
// them fails with ErrClosed.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// Busy returns how many keys have work queued or running.
func (g *Group) Busy() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queues)
}

func (g *Group) add(ctx context.Context, key string, fn func(context.Context), max int) bool {
	j := job{ctx: context.WithValue(ctx, onKey{g}, key), fn: fn}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	q := g.queues[key]
	if q != nil {
		if max > 0 && len(q.jobs) >= max {
			g.mu.Unlock()
			return false
		}
		q.jobs = append(q.jobs, j)
		g.mu.Unlock()
		return true
	}
	q = &queue{jobs: []job{j}}
	g.queues[key] = q
	g.wg.Add(1)
	g.mu.Unlock()
	go g.loop(key, q)
	return true
}

// loop runs key's jobs until its queue is empty, then forgets the queue.
func (g *Group) loop(key string, q *queue) {
	defer g.wg.Done()
	for {
		g.mu.Lock()
		if len(q.jobs) == 0 {
			delete(g.queues, key)
			g.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs[0] = job{}
		q.jobs = q.jobs[1:]
		g.mu.Unlock()
		g.run(key, j)
	}
}

// run runs one job; a panic in it (a network's adapter code, a library
// callback) is logged with its stack and ends that job only, never the
// process or the user's later work.
func (g *Group) run(key string, j job) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("panic in a user's work", "group", g.name, "user", key, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	j.fn(j.ctx)
}
