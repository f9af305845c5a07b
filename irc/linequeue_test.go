package irc

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrstanley/girc"
)

// lineEvent is a parsed line numbered i.
func lineEvent(t *testing.T, i int) *girc.Event {
	t.Helper()
	e := girc.ParseEvent(":bob!b@h PRIVMSG #c :" + strconv.Itoa(i))
	if e == nil {
		t.Fatal("the test line does not parse")
	}
	return e
}

// lineNumber is the number lineEvent gave e.
func lineNumber(e *girc.Event) int {
	n, _ := strconv.Atoi(lastParam(e.Params))
	return n
}

// Lines are handled in the order they were pushed, one at a time, also
// when the queue is given back and taken again between them; wait
// returns once all are handled and no handling goroutine holds the queue.
func TestLineQueueOrder(t *testing.T) {
	for _, pause := range []int{0, 1, 7} { // a pause every pause lines lets the queue drain
		t.Run(fmt.Sprint("pause every ", pause), func(t *testing.T) {
			var (
				got     []int
				running atomic.Int32
				overlap atomic.Bool
			)
			q := newLineQueue(func(e *girc.Event) error {
				if running.Add(1) != 1 {
					overlap.Store(true)
				}
				defer running.Add(-1)
				got = append(got, lineNumber(e)) // one handler at a time: no lock, -race checks it
				return nil
			}, func() { t.Error("abort called without a failure") })
			const n = 500
			for i := range n {
				if !q.push(lineEvent(t, i)) {
					t.Fatalf("push %d refused", i)
				}
				if pause > 0 && i%pause == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
			readErr := errors.New("read: closed")
			if err := q.wait(readErr); err != readErr {
				t.Fatalf("wait = %v, want the read error", err)
			}
			if overlap.Load() {
				t.Error("two lines were handled at once")
			}
			if len(got) != n {
				t.Fatalf("%d lines handled, want %d", len(got), n)
			}
			for i, v := range got {
				if v != i {
					t.Fatalf("line %d handled in place %d: %v…", v, i, got[:i+1])
				}
			}
			if q.running.Load() {
				t.Error("a handling goroutine is marked running after wait")
			}
		})
	}
}

// A slow handler makes the reader wait: push blocks once lineQueueLen
// lines are queued (and one is being handled), so nothing is buffered
// beyond that bound.
func TestLineQueueBackpressure(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var handled atomic.Int32
	q := newLineQueue(func(*girc.Event) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		handled.Add(1)
		return nil
	}, func() { t.Error("abort called without a failure") })
	pushed := make(chan int, 100)
	go func() {
		defer close(pushed)
		for i := range lineQueueLen + 10 {
			q.push(lineEvent(t, i))
			pushed <- i
		}
	}()
	<-started // the first line is being handled: it left the queue
	n := 0
	timeout := time.After(10 * time.Second)
	for n < lineQueueLen+1 {
		select {
		case <-pushed:
			n++
		case <-timeout:
			t.Fatalf("%d pushes returned, want %d", n, lineQueueLen+1)
		}
	}
	// The queue is full: the next push must wait for the handler.
	select {
	case i := <-pushed:
		t.Fatalf("push %d returned with %d lines queued and the handler stuck", i, lineQueueLen)
	case <-time.After(200 * time.Millisecond):
	}
	if h := handled.Load(); h != 0 {
		t.Fatalf("%d lines handled while the handler was held", h)
	}
	close(release)
	for range pushed {
		n++
	}
	if n != lineQueueLen+10 {
		t.Fatalf("%d pushes returned, want %d", n, lineQueueLen+10)
	}
	if err := q.wait(nil); err != nil {
		t.Fatal(err)
	}
	if h := handled.Load(); h != lineQueueLen+10 {
		t.Fatalf("%d lines handled, want %d", h, lineQueueLen+10)
	}
}

// A handler's error ends the handling: abort runs once, the lines after
// the failing one are not handled, push refuses from then on (also a
// push that was waiting for room), and wait returns the handler's error
// rather than the reader's.
func TestLineQueueFailure(t *testing.T) {
	boom := errors.New("boom")
	hold := make(chan struct{})
	var (
		mu      sync.Mutex
		got     []int
		aborted atomic.Int32
	)
	q := newLineQueue(func(e *girc.Event) error {
		n := lineNumber(e)
		if n == 0 {
			<-hold // the reader fills the queue meanwhile
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
		if n == 3 {
			return boom
		}
		return nil
	}, func() { aborted.Add(1) })
	refused := make(chan int, 1)
	go func() {
		for i := 0; ; i++ {
			if !q.push(lineEvent(t, i)) {
				refused <- i
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // the reader is blocked on a full queue
	close(hold)
	select {
	case i := <-refused:
		if i <= 3 {
			t.Errorf("push %d refused, before the failing line was handled", i)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("push never refused after the handler failed")
	}
	if q.push(lineEvent(t, 1000)) {
		t.Error("push accepted a line after the failure")
	}
	if err := q.wait(errors.New("read: closed")); err != boom {
		t.Fatalf("wait = %v, want the handler's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[0 1 2 3]" {
		t.Errorf("handled %v, want [0 1 2 3]", got)
	}
	if a := aborted.Load(); a != 1 {
		t.Errorf("abort ran %d times, want 1", a)
	}
}

// handlingGoroutines counts the handling goroutines (lineWorker).
func handlingGoroutines(t *testing.T) int {
	t.Helper()
	n, _ := goroutinesIn(t, "irc.lineWorker(")
	return n
}

// A handling goroutine ends once no line waited for lineLinger: an idle
// connection keeps none, and the next line starts another.
func TestLineQueueGoroutineEndsWhenIdle(t *testing.T) {
	var handled atomic.Int32
	q := newLineQueue(func(*girc.Event) error { handled.Add(1); return nil }, func() {})
	for round := 1; round <= 3; round++ {
		for i := range 5 {
			q.push(lineEvent(t, i))
		}
		deadline := time.Now().Add(10 * time.Second)
		for handled.Load() != int32(5*round) || handlingGoroutines(t) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d lines handled, %d handling goroutines left", round, handled.Load(), handlingGoroutines(t))
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := q.wait(nil); err != nil {
		t.Fatal(err)
	}
}
