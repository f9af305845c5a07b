package main

import (
	"context"
	"fmt"
	"io"
	"os"
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
	rss     []int64 // after each step
}

// runIdleGateways runs the idle scenario through each gateway and writes
// one table to w.
// With profDir set, Switchboard's heap and goroutine profiles after each
// step are written there (the binary must be built with -tags pprof).
func runIdleGateways(w io.Writer, gateways []string, bin string, steps []int, profDir string) error {
	var rs []*idleGatewayResult
	for _, g := range gateways {
		fmt.Fprintf(os.Stderr, "\n=== %s: idle users in one channel, steps %v\n", g, steps)
		r, err := idleGateway(g, bin, steps, profDir)
		if err != nil {
			return fmt.Errorf("%s: %w", g, err)
		}
		rs = append(rs, r)
	}
	fmt.Fprintf(w, "\nIdle XMPP users in one IRC channel, joined step by step; the gateway's RSS per joined user (RSS before joins in brackets).\n\n")
	fmt.Fprintf(w, "| users |")
	for _, r := range rs {
		fmt.Fprintf(w, " %s (%s) |", r.gateway, mib(r.base))
	}
	fmt.Fprintf(w, "\n|---:|%s\n", strings.Repeat("---:|", len(rs)))
	for i, n := range steps {
		fmt.Fprintf(w, "| %d |", n)
		for _, r := range rs {
			fmt.Fprintf(w, " %s, %.0f KiB/user |", mib(r.rss[i]), float64(r.rss[i]-r.base)/float64(n)/1024)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func idleGateway(gateway, bin string, steps []int, profDir string) (*idleGatewayResult, error) {
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
	}
	gw, err := startGateway(ctx, gateway, bin, dir, p.ComponentAddr, env...)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	last := steps[len(steps)-1]
	logf("creating %d XMPP users", last)
	if err := createUsers(p, last); err != nil {
		return nil, err
	}
	if err := waitGateway(ctx, p); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	r.base = gw.rss()

	room := channel + "%" + ircHost + "@" + domain
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
		r.rss = append(r.rss, rss)
		logf("%d users joined in %v; RSS %s, %.0f KiB per user", n, time.Since(start).Round(time.Millisecond), mib(rss), float64(rss-r.base)/float64(n)/1024)
		if pprofAddr != "" {
			if err := saveProfiles(ctx, pprofAddr, profDir, gateway, n); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}
