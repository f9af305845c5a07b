package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/transports"
)

// The idle scenario measures what an IRC user costs the transport while
// nothing is said: users join one channel of a real InspIRCd through the
// irc package, in this process, step by step (10 → 100 → 500), and stay.
// After each step, once every user's connection has seen every other
// member, it prints the live Go heap (after a collection), the goroutine
// count and the process's RSS, in all and per joined user. No XMPP server
// and no component run, so the figures are the IRC transport's alone.

// idleStep is the state after one step of the idle scenario.
type idleStep struct {
	users      int
	heap       uint64 // live heap after GC, bytes
	stacks     uint64 // goroutine stacks, bytes
	goroutines int
	rss        int64 // bytes
}

// runIdle runs the idle scenario for the given user counts (ascending)
// and writes its table to w; with heapProfile set, a heap profile is
// written there after the last step.
func runIdle(w io.Writer, steps []int, heapProfile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ircd, err := testenv.LaunchInspIRCd(testenv.InspIRCdOptions{})
	if err != nil {
		return err
	}
	defer ircd.Close()
	logf("InspIRCd %s", ircd.Addr())

	n := irc.New(irc.Config{
		DefaultServer: ircd.Name,
		Servers:       map[string]irc.Server{ircd.Name: {Address: ircd.Addr(), Plaintext: true}},
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	room := transports.ID(channel + "%" + ircd.Name)

	base := idleSample(0)
	logf("baseline: heap %s, %d goroutines, RSS %s", mib(int64(base.heap)), base.goroutines, mib(base.rss))
	var (
		users   []*idleUser
		results []idleStep
	)
	defer func() {
		var wg sync.WaitGroup
		for _, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u.a.Close()
			}()
		}
		wg.Wait()
	}()
	for _, total := range steps {
		start := time.Now()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
		)
		sem := make(chan struct{}, 16)
		added := make([]*idleUser, total-len(users))
		for i := range added {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				u, err := joinIdle(ctx, n, "idle"+strconv.Itoa(k), room)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && first == nil {
					first = err
				}
				added[k-len(users)] = u
			}(len(users) + i)
		}
		wg.Wait()
		for _, u := range added {
			if u != nil {
				users = append(users, u)
			}
		}
		if first != nil {
			return first
		}
		if err := waitMembers(ctx, users, total-1, 5*time.Minute); err != nil {
			return err
		}
		logf("%d users joined in %v", total, time.Since(start).Round(time.Millisecond))
		time.Sleep(2 * time.Second) // let the connections settle before the sample
		s := idleSample(total)
		results = append(results, s)
		logf("%d users: heap %s, %d goroutines, RSS %s", total, mib(int64(s.heap)), s.goroutines, mib(s.rss))
	}
	if heapProfile != "" {
		f, err := os.Create(heapProfile)
		if err != nil {
			return err
		}
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		logf("heap profile written to %s (go tool pprof -top -sample_index=inuse_space %s)", heapProfile, heapProfile)
	}
	printIdle(w, base, results)
	return nil
}

// idleUser is one user of the idle scenario: an adapter and the number of
// other members its connection reported in the channel.
type idleUser struct {
	a      transports.Adapter
	others atomic.Int64
}

// joinIdle connects a registered user with nick and joins room.
func joinIdle(ctx context.Context, n *irc.Network, nick string, room transports.ID) (*idleUser, error) {
	u := &idleUser{}
	sink := transports.SinkFunc(func(ev transports.Event) {
		if o, ok := ev.(*transports.OccupantEvent); ok && !o.Self && o.NewNick == "" {
			if o.Left {
				u.others.Add(-1)
			} else {
				u.others.Add(1)
			}
		}
	})
	acct := transports.Account{
		User:        nick + "@localhost",
		Credentials: transports.Credentials{"nick": nick},
		Reconnect:   transports.NewReconnect(transports.Backoff{Min: time.Second, Max: 10 * time.Second}, nil, func(transports.Status) {}),
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	a, err := n.Connect(cctx, acct, sink)
	if err != nil {
		return nil, fmt.Errorf("%s connecting: %w", nick, err)
	}
	u.a = a
	if err := a.(transports.Rooms).JoinRoom(cctx, room, nick); err != nil {
		a.Close()
		return nil, fmt.Errorf("%s joining: %w", nick, err)
	}
	return u, nil
}

// waitMembers waits until every user's connection reported want other
// members in the channel.
func waitMembers(ctx context.Context, users []*idleUser, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		behind := 0
		for _, u := range users {
			if u.others.Load() < int64(want) {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d users did not see all %d other members in time", behind, len(users), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// idleSample measures this process after a collection.
func idleSample(users int) idleStep {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return idleStep{users: users, heap: ms.HeapAlloc, stacks: ms.StackInuse, goroutines: runtime.NumGoroutine(), rss: selfRSS()}
}

// selfRSS is this process's resident set size in bytes.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func printIdle(w io.Writer, base idleStep, rs []idleStep) {
	fmt.Fprintf(w, "\nIdle IRC users in one InspIRCd channel, irc package in process (baseline: heap %s, %d goroutines, RSS %s).\n\n",
		mib(int64(base.heap)), base.goroutines, mib(base.rss))
	fmt.Fprintln(w, "| users | live heap | heap per user | goroutines per user | stacks per user | RSS | RSS per user |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		u := float64(r.users)
		fmt.Fprintf(w, "| %d | %s | %.1f KiB | %.1f | %.1f KiB | %s | %.1f KiB |\n", r.users,
			mib(int64(r.heap)), float64(int64(r.heap)-int64(base.heap))/u/1024,
			float64(r.goroutines-base.goroutines)/u, float64(int64(r.stacks)-int64(base.stacks))/u/1024,
			mib(r.rss), float64(r.rss-base.rss)/u/1024)
	}
}

// parseSteps reads "10,100,500".
func parseSteps(s string) ([]int, error) {
	var steps []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || len(steps) > 0 && n <= steps[len(steps)-1] {
			return nil, fmt.Errorf("bad -steps %q: ascending positive user counts, e.g. 10,100,500", s)
		}
		steps = append(steps, n)
	}
	return steps, nil
}
