package main

import (
	"strings"
	"testing"
)

// goMemSample is the Go collector's output for the gauges readGoMem
// reads, among lines it skips.
const goMemSample = `# HELP go_gc_heap_live_bytes Heap memory occupied by live objects that were marked by the previous GC.
# TYPE go_gc_heap_live_bytes gauge
go_gc_heap_live_bytes 3.5e+06
go_gc_heap_goal_bytes 7.1e+06
go_gc_duration_seconds_sum 0.01
go_gc_duration_seconds_count 9
go_goroutines 13
go_memstats_heap_alloc_bytes 4e+06
go_memstats_heap_inuse_bytes 5.5e+06
go_memstats_heap_idle_bytes 7e+06
go_memstats_heap_released_bytes 5e+06
go_memstats_stack_sys_bytes 524288
go_memstats_gc_sys_bytes 3e+06
go_memstats_mspan_sys_bytes 80000
go_memstats_mcache_sys_bytes 16000
go_memstats_buck_hash_sys_bytes 4000
go_memstats_other_sys_bytes 400000
switchboard_stream_up{domain="irc.localhost",network="irc"} 1
`

func TestParseGoMem(t *testing.T) {
	m, err := parseGoMem(strings.NewReader(goMemSample))
	if err != nil {
		t.Fatal(err)
	}
	want := goMem{live: 3_500_000, alloc: 4_000_000, inuse: 5_500_000, held: 2_000_000, stacks: 524288, gcMeta: 3_000_000, runtime: 500_000, heapGoal: 7_100_000, gcs: 9}
	if m != want {
		t.Errorf("parseGoMem = %+v, want %+v", m, want)
	}
	if m.slack() != 1_500_000 || m.since() != 500_000 {
		t.Errorf("slack %d, since %d; want 1500000, 500000", m.slack(), m.since())
	}
}

func TestParseGoMemMissingGauge(t *testing.T) {
	// A gateway without the live-heap gauge (an older build): an error,
	// not a breakdown with a zero in it.
	sample := strings.Replace(goMemSample, "go_gc_heap_live_bytes 3.5e+06\n", "", 1)
	if _, err := parseGoMem(strings.NewReader(sample)); err == nil {
		t.Error("parseGoMem without go_gc_heap_live_bytes: no error")
	}
}

// memTable gives each part's growth per joined user, the rest of the RSS
// growth, and the heap held beside its goal, for the step and the base.
func TestMemTable(t *testing.T) {
	const KiB, MiB = 1024, 1 << 20
	base := goMem{live: 3 * MiB, alloc: 3 * MiB, inuse: 4 * MiB, held: 0, stacks: 512 * KiB, gcMeta: 1 * MiB, runtime: 256 * KiB, heapGoal: 5 * MiB}
	// 10 users: each adds 1 KiB live, 2 KiB free in spans, 3 KiB kept,
	// 4 KiB stacks, 5 KiB GC metadata, 6 KiB runtime; RSS grows by 30 KiB
	// per user, so 9 KiB is the rest.
	step := goMem{live: base.live + 10*KiB, alloc: base.alloc + 10*KiB, inuse: base.inuse + 30*KiB, held: 30 * KiB,
		stacks: base.stacks + 40*KiB, gcMeta: base.gcMeta + 50*KiB, runtime: base.runtime + 60*KiB, heapGoal: 6 * MiB}
	r := &idleGatewayResult{mem: []goMem{base, step}, memRSS: []int64{100 * MiB, 100*MiB + 300*KiB}}
	var b strings.Builder
	memTable(&b, r, []int{10})
	want := "| 10 | 30.0 | 1.0 | 0.0 | 2.0 | 3.0 | 4.0 | 5.0 | 6.0 | 9.0 | 4.1 MiB / 6.0 MiB (4.0 MiB / 5.0 MiB) |\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("memTable:\n%s\nwant the row\n%s", b.String(), want)
	}
}
