package userloop

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func newGroup(t *testing.T, max int) (*Group, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	g := New("test", max, slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil)))
	t.Cleanup(g.Wait)
	return g, &buf
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOrderPerKey(t *testing.T) {
	g, _ := newGroup(t, 0)
	ctx := context.Background()
	var mu sync.Mutex
	got := map[string][]int{}
	for i := range 200 {
		for _, k := range []string{"a", "b"} {
			g.Post(ctx, k, func(context.Context) {
				mu.Lock()
				got[k] = append(got[k], i)
				mu.Unlock()
			})
		}
	}
	g.Wait()
	for _, k := range []string{"a", "b"} {
		if len(got[k]) != 200 {
			t.Fatalf("%s ran %d jobs, want 200", k, len(got[k]))
		}
		for i, v := range got[k] {
			if v != i {
				t.Fatalf("%s: job %d ran at position %d", k, v, i)
			}
		}
	}
	if n := g.Busy(); n != 0 {
		t.Errorf("Busy() = %d after Wait, want 0 (idle users keep no goroutine)", n)
	}
}

func TestKeysDoNotWaitForEachOther(t *testing.T) {
	g, _ := newGroup(t, 0)
	ctx := context.Background()
	release := make(chan struct{})
	g.Post(ctx, "slow", func(context.Context) { <-release })
	done := make(chan struct{})
	g.Post(ctx, "fast", func(context.Context) { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked user's work held up another user's")
	}
	close(release)
}

func TestTryPostBound(t *testing.T) {
	g, _ := newGroup(t, 2)
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	g.Post(ctx, "u", func(context.Context) { close(started); <-release })
	<-started // the running job is not waiting
	var ok []bool
	for range 3 {
		ok = append(ok, g.TryPost(ctx, "u", func(context.Context) {}))
	}
	close(release)
	want := []bool{true, true, false}
	for i := range want {
		if ok[i] != want[i] {
			t.Fatalf("TryPost results %v, want %v", ok, want)
		}
	}
	if !g.TryPost(ctx, "other", func(context.Context) {}) {
		t.Error("the bound of one user refused another user's work")
	}
}

func TestCallRunsOnTheKeysGoroutine(t *testing.T) {
	g, _ := newGroup(t, 0)
	ctx := context.Background()
	var on, onOther, nested bool
	err := g.Call(ctx, "u", func(ctx context.Context) {
		on, onOther = g.On(ctx, "u"), g.On(ctx, "v")
		// Work calling back into its own user runs inline.
		if err := g.Call(ctx, "u", func(context.Context) { nested = true }); err != nil {
			t.Errorf("nested Call: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !on || onOther || !nested {
		t.Errorf("On(u)=%v On(v)=%v nested ran=%v; want true false true", on, onOther, nested)
	}
	if g.On(ctx, "u") {
		t.Error("a plain context claims to be on u's goroutine")
	}
}

func TestCallOrderedWithPosts(t *testing.T) {
	g, _ := newGroup(t, 0)
	ctx := context.Background()
	var seq []string
	g.Post(ctx, "u", func(context.Context) { seq = append(seq, "post") })
	if err := g.Call(ctx, "u", func(context.Context) { seq = append(seq, "call") }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seq, ",") != "post,call" {
		t.Errorf("ran %v, want post then call", seq)
	}
}

func TestCallAbandonedBeforeStart(t *testing.T) {
	g, _ := newGroup(t, 0)
	release := make(chan struct{})
	g.Post(context.Background(), "u", func(context.Context) { <-release })
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	errc := make(chan error)
	go func() { errc <- g.Call(ctx, "u", func(context.Context) { ran <- struct{}{} }) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Call = %v, want context.Canceled", err)
	}
	close(release)
	g.Wait()
	select {
	case <-ran:
		t.Error("an abandoned Call's function ran")
	default:
	}
}

func TestCallWaitsOnceStarted(t *testing.T) {
	g, _ := newGroup(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	started, release := make(chan struct{}), make(chan struct{})
	finished := false
	errc := make(chan error)
	go func() {
		errc <- g.Call(ctx, "u", func(context.Context) {
			close(started)
			<-release
			finished = true
		})
	}()
	<-started
	cancel()
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("Call = %v after its function started, want nil", err)
	}
	if !finished {
		t.Error("Call returned before its function finished")
	}
}

func TestPanicEndsOneJob(t *testing.T) {
	g, logs := newGroup(t, 0)
	ctx := context.Background()
	after := false
	g.Post(ctx, "u", func(context.Context) { panic("adapter bug") })
	if err := g.Call(ctx, "u", func(context.Context) { panic("another") }); err != nil {
		t.Fatalf("Call with a panicking function = %v, want nil", err)
	}
	g.Post(ctx, "u", func(context.Context) { after = true })
	g.Wait()
	if !after {
		t.Error("the job after a panic did not run")
	}
	for _, want := range []string{"adapter bug", "another", "user=u", "group=test"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestClose: Close waits for queued work, whose own posts to the closed
// group are dropped and whose Calls into it fail; nothing runs after.
func TestClose(t *testing.T) {
	g, _ := newGroup(t, 0)
	ctx := context.Background()
	release := make(chan struct{})
	var ran []string
	var callErr error
	g.Post(ctx, "u", func(ctx context.Context) {
		<-release
		ran = append(ran, "queued")
		g.Post(ctx, "v", func(context.Context) { ran = append(ran, "posted during close") })
		callErr = g.Call(ctx, "w", func(context.Context) { ran = append(ran, "called during close") })
	})
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	for !g.closedForTest() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-closed
	if strings.Join(ran, ",") != "queued" {
		t.Errorf("ran %v, want only the queued job", ran)
	}
	if !errors.Is(callErr, ErrClosed) {
		t.Errorf("Call during Close = %v, want ErrClosed", callErr)
	}
	if g.TryPost(ctx, "u", func(context.Context) { t.Error("ran after Close") }) {
		t.Error("TryPost after Close accepted the job")
	}
	g.Post(ctx, "u", func(context.Context) { t.Error("ran after Close") })
	if err := g.Call(ctx, "u", func(context.Context) { t.Error("ran after Close") }); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after Close = %v, want ErrClosed", err)
	}
}
