package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// The gateways' idle scenario: XMPP users join one IRC channel through a
// gateway step by step (10 → 100 → 500) and stay; after each step the
// gateway's RSS, in all and per joined user. Each gateway runs on a fresh
// Prosody and InspIRCd, as in the load scenario, so Switchboard and
// biboumi are measured side by side on the same servers.

// idleGatewayResult is one gateway's RSS after each step.
type idleGatewayResult struct {
	gateway string
	base    int64   // RSS before any join, bytes
	rss     []int64 // 3 s after each step's joins
	settled []int64 // idleOptions.settle after them (with settle set)
	// warmBase is RSS after the warm-up user joined and left (with
	// idleOptions.warmup), bytes: the base of the marginal figures.
	warmBase int64
	// mem is a Go gateway's MemStats settle after the warm-up (or the
	// start), then settle after each step's joins, and memRSS its RSS at
	// those times; nil for biboumi, or without settle.
	mem    []goMem
	memRSS []int64
}

// idleOptions are the gateways' idle scenario's settings beside the steps.
type idleOptions struct {
	// profDir, when set, receives Switchboard's heap and goroutine
	// profiles after each step (the binary must be built with -tags
	// pprof).
	profDir string
	// memProfileRate is Switchboard's GODEBUG=memprofilerate with
	// profDir (0: the runtime's default).
	memProfileRate int
	// settle, when longer than the 3 s every step waits, is how long
	// after the step's joins RSS is measured again: Go's background
	// scavenger returns freed pages to the system over minutes, so the
	// figure right after the joins counts pages an idle gateway gives
	// back.
	settle time.Duration
	// warmup: before the steps, one more user joins the channel and
	// leaves it, and RSS is taken again; each step is then also shown
	// against that base. The cold figure counts what the first join
	// costs once for all (code pages touched for the first time, the
	// runtime's first stacks and heap pages); the warm one is what a
	// further user costs. Both gateways are warmed up alike.
	warmup bool
}

// runIdleGateways runs the idle scenario through each gateway and writes
// one table to w.
func runIdleGateways(w io.Writer, gateways []string, bin string, steps []int, opt idleOptions) error {
	var rs []*idleGatewayResult
	for _, g := range gateways {
		fmt.Fprintf(os.Stderr, "\n=== %s: idle users in one channel, steps %v\n", g, steps)
		r, err := idleGateway(g, bin, steps, opt)
		if err != nil {
			return fmt.Errorf("%s: %w", g, err)
		}
		rs = append(rs, r)
	}
	cold := func(r *idleGatewayResult) int64 { return r.base }
	fmt.Fprintf(w, "\nIdle XMPP users in one IRC channel, joined step by step; the gateway's RSS per joined user 3 s after each step's joins (RSS before joins in brackets).\n\n")
	idleTable(w, rs, steps, func(r *idleGatewayResult) []int64 { return r.rss }, cold)
	if opt.settle > 3*time.Second {
		fmt.Fprintf(w, "\nThe same, %v after each step's joins.\n\n", opt.settle)
		idleTable(w, rs, steps, func(r *idleGatewayResult) []int64 { return r.settled }, cold)
	}
	if opt.warmup {
		warm := func(r *idleGatewayResult) int64 { return r.warmBase }
		fmt.Fprintf(w, "\nWarmed up: the same figures against the RSS after one user joined and left before the steps (in brackets).\n\n")
		idleTable(w, rs, steps, func(r *idleGatewayResult) []int64 { return r.rss }, warm)
		if opt.settle > 3*time.Second {
			fmt.Fprintf(w, "\nWarmed up, %v after each step's joins.\n\n", opt.settle)
			idleTable(w, rs, steps, func(r *idleGatewayResult) []int64 { return r.settled }, warm)
		}
	}
	for _, r := range rs {
		if len(r.mem) == len(steps)+1 {
			against := "the start"
			if opt.warmup {
				against = "the warm-up"
			}
			fmt.Fprintf(w, "\nWhere %s's RSS grew, %v after each step's joins, per joined user against its state %v after %s, RSS %s (the runtime's MemStats from its /metrics; \"live heap\": what the last collection found live; \"since\": heap allocated after it; \"free in spans\": room that dead objects left in heap spans still holding a live one; \"kept\": empty heap spans not yet given back; \"rest\": RSS growth MemStats does not account for: pages of the binary and libraries, and the gap between what the runtime counts as held and what is resident).\n\n", r.gateway, opt.settle, opt.settle, against, mib(r.memRSS[0]))
			memTable(w, r, steps)
		}
	}
	return nil
}

// memTable writes where a Go gateway's RSS grew at each step, per joined
// user above the base of r.mem[0].
func memTable(w io.Writer, r *idleGatewayResult, steps []int) {
	base, rssBase := r.mem[0], r.memRSS[0]
	fmt.Fprintf(w, "| users | RSS | live heap | since | free in spans | kept | stacks | GC metadata | runtime other | rest | heap held / goal, in all |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	per := func(d int64, n int) string { return fmt.Sprintf("%.1f", float64(d)/float64(n)/1024) }
	for i, n := range steps {
		m, rss := r.mem[i+1], r.memRSS[i+1]
		parts := []int64{m.live - base.live, m.since() - base.since(), m.slack() - base.slack(), m.held - base.held, m.stacks - base.stacks, m.gcMeta - base.gcMeta, m.runtime - base.runtime}
		rest := rss - rssBase
		fmt.Fprintf(w, "| %d | %s |", n, per(rss-rssBase, n))
		for _, d := range parts {
			fmt.Fprintf(w, " %s |", per(d, n))
			rest -= d
		}
		fmt.Fprintf(w, " %s | %s / %s (%s / %s) |\n", per(rest, n), mib(m.heapHeld()), mib(m.heapGoal), mib(base.heapHeld()), mib(base.heapGoal))
	}
	fmt.Fprintf(w, "\n(KiB per user; \"heap held\": heap spans in use and kept, what the heap has resident; the base's in brackets.)\n")
}

// idleTable writes one table of the figures rss picks from each result,
// per joined user above the RSS base picks.
func idleTable(w io.Writer, rs []*idleGatewayResult, steps []int, rss func(*idleGatewayResult) []int64, base func(*idleGatewayResult) int64) {
	fmt.Fprintf(w, "| users |")
	for _, r := range rs {
		fmt.Fprintf(w, " %s (%s) |", r.gateway, mib(base(r)))
	}
	fmt.Fprintf(w, "\n|---:|%s\n", strings.Repeat("---:|", len(rs)))
	for i, n := range steps {
		fmt.Fprintf(w, "| %d |", n)
		for _, r := range rs {
			v := rss(r)[i]
			fmt.Fprintf(w, " %s, %.0f KiB/user |", mib(v), float64(v-base(r))/float64(n)/1024)
		}
		fmt.Fprintln(w)
	}
}

func idleGateway(gateway, bin string, steps []int, opt idleOptions) (*idleGatewayResult, error) {
	profDir := opt.profDir
	r := &idleGatewayResult{gateway: gateway}
	dir, err := os.MkdirTemp("", "switchboard-idle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	p, err := testenv.LaunchProsody(dir, testenv.ProsodyOptions{Components: map[string]string{domain: secret}, Quiet: true})
	if err != nil {
		return nil, err
	}
	defer p.Shutdown()
	ircd, err := testenv.LaunchInspIRCd(testenv.InspIRCdOptions{ClientAddr: ircAddr})
	if err != nil {
		return nil, err
	}
	defer ircd.Close()
	var env []string
	pprofAddr := ""
	if profDir != "" && strings.HasPrefix(gateway, "switchboard") {
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		env = append(env, "SWITCHBOARD_PPROF="+pprofAddr)
		if opt.memProfileRate > 0 {
			env = append(env, fmt.Sprintf("GODEBUG=memprofilerate=%d", opt.memProfileRate))
		}
	}
	gw, err := startGateway(ctx, gateway, bin, dir, p.ComponentAddr, env...)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	last := steps[len(steps)-1]
	logf("creating %d XMPP users", last+1)
	if err := createUsers(p, last+1); err != nil { // u<last>: the warm-up's
		return nil, err
	}
	if err := waitGateway(ctx, p); err != nil {
		return nil, err
	}
	// The breakdown of a Go gateway's growth (memTable) reads its
	// MemStats settle after the warm-up (or the start) and after each
	// step's joins, each time once it has collected since: its live heap
	// is then the step's, not one from before.
	breakdown := gw.httpAddr != "" && opt.settle > 3*time.Second
	var gcs int64
	markGCs := func() error {
		if !breakdown {
			return nil
		}
		m, err := readGoMem(ctx, gw.httpAddr)
		gcs = m.gcs
		return err
	}
	readMem := func() error {
		if !breakdown {
			return nil
		}
		m, err := collectedGoMem(ctx, gw.httpAddr, gcs)
		if err != nil {
			return err
		}
		r.mem = append(r.mem, m)
		r.memRSS = append(r.memRSS, gw.rss())
		return nil
	}
	// The first scrape runs the gateway's metrics code for the first
	// time: those pages are in RSS before any base is taken, not in a
	// step's growth.
	if err := markGCs(); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	r.base = gw.rss()
	baseAnon, baseFile := gw.status("RssAnon"), gw.status("RssFile")
	logf("before the joins: RSS %s (anonymous %s, file-backed %s)", mib(r.base), mib(baseAnon), mib(baseFile))
	if pprofAddr != "" {
		if err := saveProfiles(ctx, pprofAddr, profDir, gateway, "0"); err != nil {
			return nil, err
		}
	}
	room := channel + "%" + ircHost + "@" + domain
	r.warmBase = r.base
	if opt.warmup {
		if err := warmUp(ctx, p, last, room); err != nil {
			return nil, err
		}
		r.warmBase = gw.rss()
		baseAnon, baseFile = gw.status("RssAnon"), gw.status("RssFile")
		logf("after the warm-up: RSS %s (anonymous %s, file-backed %s)", mib(r.warmBase), mib(baseAnon), mib(baseFile))
		if pprofAddr != "" {
			if err := saveProfiles(ctx, pprofAddr, profDir, gateway, "warm"); err != nil {
				return nil, err
			}
		}
	}
	if breakdown {
		if err := markGCs(); err != nil {
			return nil, err
		}
		logf("the breakdown's base: %v more", opt.settle)
		time.Sleep(opt.settle)
		if err := readMem(); err != nil {
			return nil, err
		}
	}
	var clients []*client
	defer func() {
		for _, c := range clients {
			c.c.Shutdown()
		}
	}()
	for _, n := range steps {
		start := time.Now()
		added := make([]*client, n-len(clients))
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
		)
		sem := make(chan struct{}, 16)
		for i := range added {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c, err := joinRoom(ctx, p, len(clients)+k, room)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && first == nil {
					first = err
				}
				added[k] = c
			}(i)
		}
		wg.Wait()
		for _, c := range added {
			if c != nil {
				clients = append(clients, c)
			}
		}
		if first != nil {
			return nil, first
		}
		time.Sleep(3 * time.Second) // the last joins' presences settle
		rss := gw.rss()
		if err := markGCs(); err != nil { // after RSS: the request allocates
			return nil, err
		}
		r.rss = append(r.rss, rss)
		logf("%d users joined in %v; RSS %s, %.0f KiB per user (%.0f warmed up)", n, time.Since(start).Round(time.Millisecond), mib(rss), float64(rss-r.base)/float64(n)/1024, float64(rss-r.warmBase)/float64(n)/1024)
		// What grew: private memory (heap, stacks), or pages of the
		// binary touched for the first time (code run by the first joins).
		anon, file := gw.status("RssAnon"), gw.status("RssFile")
		logf("  anonymous %s (%+.0f KiB per user), file-backed %s (%+.0f KiB per user)", mib(anon), float64(anon-baseAnon)/float64(n)/1024, mib(file), float64(file-baseFile)/float64(n)/1024)
		if opt.settle > 3*time.Second {
			time.Sleep(opt.settle - 3*time.Second)
			rss := gw.rss()
			r.settled = append(r.settled, rss)
			logf("%v after the joins: RSS %s, %.0f KiB per user (%.0f warmed up)", opt.settle, mib(rss), float64(rss-r.base)/float64(n)/1024, float64(rss-r.warmBase)/float64(n)/1024)
			if err := readMem(); err != nil {
				return nil, err
			}
		}
		if pprofAddr != "" {
			if err := saveProfiles(ctx, pprofAddr, profDir, gateway, strconv.Itoa(n)); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// warmUp has user u<i> join room and leave it, and the gateway settle
// for 3 s after: what the first join costs once is paid before the base
// of the warmed-up figures is taken.
func warmUp(ctx context.Context, p *testenv.Prosody, i int, room string) error {
	logf("warm-up: u%d joins and leaves", i)
	c, err := joinRoom(ctx, p, i, room)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	err = c.c.SendRaw(ctx, `<presence type="unavailable" to="`+room+`/u`+strconv.Itoa(i)+`"/>`)
	time.Sleep(2 * time.Second) // the part reaches IRC
	c.c.Shutdown()
	if err != nil {
		return fmt.Errorf("warm-up: leaving: %w", err)
	}
	time.Sleep(3 * time.Second)
	return nil
}
