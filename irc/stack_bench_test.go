package irc

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// deepSink stands for the component's Deliver, whose calls run deep
// (routing, the owner goroutine's hand-over, storage): about 12 KiB of
// stack for every event.
//
//go:noinline
func deepSink(n int) byte {
	var buf [512]byte
	buf[n%len(buf)] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return deepSink(n-1) + buf[n%len(buf)]
}

// BenchmarkIdleConnectionStacks measures the goroutine stacks an idle
// connection keeps: b.N users join one channel of a real InspIRCd, each
// event handled by a sink that runs 12 KiB deep, then the connections
// idle (the handling goroutines end) through three collections (a stack is halved at most once per
// collection, and only while less than a quarter of it is used). It
// reports StackInuse per connection (stack-B/conn), the process's fixed
// stacks excluded, and the goroutines per connection (goroutines/conn:
// 0.01 where connections park, the Network's poller; 1 where a reader
// waits in Read). StackInuse also counts the stacks of exited goroutines
// the runtime keeps for reuse (up to 64 per P), which moves the figure
// between runs. It reports as well the live heap per connection
// (heap-B/conn: HeapAlloc after a collection, against the same before
// the first connection), which counts the user's adapter, connection and
// share of the channel's view, and what the Network keeps for it. Run it
// with a fixed count, e.g. -benchtime=100x.
func BenchmarkIdleConnectionStacks(b *testing.B) {
	srv := testenv.StartInspIRCd(b, testenv.InspIRCdOptions{})
	n := New(Config{DefaultServer: "irc.test", Servers: map[string]Server{"irc.test": {Address: srv.Addr(), Plaintext: true}}, Timeout: time.Minute})
	var heapAlloc uint64 // as of the last stackInuse
	stackInuse := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapAlloc = ms.HeapAlloc
		return ms.StackInuse
	}
	base := stackInuse()
	baseHeap := heapAlloc
	baseG := runtime.NumGoroutine()
	var sink byte
	b.ResetTimer()
	for i := range b.N {
		nick := fmt.Sprintf("s%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		a, err := n.Connect(ctx, transports.Account{User: nick + "@example.org", Credentials: transports.Credentials{"nick": nick},
			Reconnect: transports.NewReconnect(transports.Backoff{Min: time.Second, Max: 10 * time.Second}, nil, func(transports.Status) {})},
			transports.SinkFunc(func(transports.Event) { sink += deepSink(24) }))
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		err = a.(transports.Rooms).JoinRoom(ctx, "#load", nick)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	time.Sleep(2 * lineLinger) // the last joins' lines are handled, and the handling goroutines end
	stackInuse()
	stackInuse()
	b.ReportMetric(float64(stackInuse()-base)/float64(b.N), "stack-B/conn")
	b.ReportMetric((float64(heapAlloc)-float64(baseHeap))/float64(b.N), "heap-B/conn")
	b.ReportMetric(float64(runtime.NumGoroutine()-baseG)/float64(b.N), "goroutines/conn")
	_ = sink
}
