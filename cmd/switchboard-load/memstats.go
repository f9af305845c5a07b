package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goMem is where a Go gateway's memory is, from the runtime's MemStats
// as its /metrics endpoint gives them (Prometheus' Go collector), bytes.
type goMem struct {
	live     int64 // heap objects the last collection found live
	alloc    int64 // heap objects: live, and those allocated since the last collection
	inuse    int64 // heap spans holding at least one object
	held     int64 // heap spans holding none, not given back to the system
	stacks   int64 // goroutine stacks, those of exited goroutines kept for reuse included
	gcMeta   int64 // the collector's own metadata
	runtime  int64 // the runtime's other structures: spans, per-P caches, profiling buckets, other
	heapGoal int64 // the heap size at which the next collection starts
	gcs      int64 // collections so far
}

// slack is the free room in heap spans in use: what objects that died
// left behind in spans still holding a live one.
func (m goMem) slack() int64 { return m.inuse - m.alloc }

// heapHeld is the heap's resident part: spans in use, and empty ones
// not given back. The runtime's scavenger gives back only what is above
// the heap in use at the last collection, scaled to the new goal, plus
// 10 %, so after a burst of allocation this stays near the goal, however
// the live objects are spread over the spans.
func (m goMem) heapHeld() int64 { return m.inuse + m.held }

// since is the heap allocated since the last collection: garbage, or
// live at the next one.
func (m goMem) since() int64 { return m.alloc - m.live }

// goMemGauges are the Go collector's gauges goMem is made of.
var goMemGauges = []string{
	"go_gc_heap_live_bytes", "go_gc_heap_goal_bytes", "go_gc_duration_seconds_count",
	"go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
	"go_memstats_stack_sys_bytes", "go_memstats_gc_sys_bytes",
	"go_memstats_mspan_sys_bytes", "go_memstats_mcache_sys_bytes",
	"go_memstats_buck_hash_sys_bytes", "go_memstats_other_sys_bytes",
}

// readGoMem scrapes the gateway's /metrics at addr.
func readGoMem(ctx context.Context, addr string) (goMem, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return goMem{}, err
	}
	// Not gzip, which Go's client asks for by default: the gateway's
	// compressor would take a megabyte of the heap being measured.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return goMem{}, fmt.Errorf("gateway metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goMem{}, fmt.Errorf("gateway metrics: %s", resp.Status)
	}
	return parseGoMem(resp.Body)
}

// collectedGoMem reads the gateway's goMem once it has collected more
// than gcs times: an idle Go process collects at least every two
// minutes.
func collectedGoMem(ctx context.Context, addr string, gcs int64) (goMem, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		m, err := readGoMem(ctx, addr)
		if err != nil || m.gcs > gcs {
			return m, err
		}
		if time.Now().After(deadline) {
			return goMem{}, fmt.Errorf("gateway metrics: no collection in 3 minutes after the %dth", gcs)
		}
		time.Sleep(5 * time.Second)
	}
}

// parseGoMem reads goMem from the Prometheus text format.
func parseGoMem(r io.Reader) (goMem, error) {
	v := make(map[string]int64, len(goMemGauges))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(goMemGauges, name) {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return goMem{}, fmt.Errorf("gateway metrics: %s: %w", name, err)
		}
		v[name] = int64(f)
	}
	if err := sc.Err(); err != nil {
		return goMem{}, fmt.Errorf("gateway metrics: %w", err)
	}
	for _, name := range goMemGauges {
		if _, ok := v[name]; !ok {
			return goMem{}, fmt.Errorf("gateway metrics: no %s", name)
		}
	}
	return goMem{
		live:     v["go_gc_heap_live_bytes"],
		alloc:    v["go_memstats_heap_alloc_bytes"],
		inuse:    v["go_memstats_heap_inuse_bytes"],
		held:     v["go_memstats_heap_idle_bytes"] - v["go_memstats_heap_released_bytes"], // released: idle pages given back
		stacks:   v["go_memstats_stack_sys_bytes"],
		gcMeta:   v["go_memstats_gc_sys_bytes"],
		runtime:  v["go_memstats_mspan_sys_bytes"] + v["go_memstats_mcache_sys_bytes"] + v["go_memstats_buck_hash_sys_bytes"] + v["go_memstats_other_sys_bytes"],
		heapGoal: v["go_gc_heap_goal_bytes"],
		gcs:      v["go_gc_duration_seconds_count"],
	}, nil
}
