package component

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// inflight bounds a user's messages in flight and tells when they are
// all settled; a context already done shows where it would wait.
func TestInflight(t *testing.T) {
	var f inflight
	done, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	for i := range maxInFlight {
		if err := f.acquire(bg, "u", maxInFlight); err != nil {
			t.Fatalf("place %d: %v", i, err)
		}
	}
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"full: acquire waits", func() error { return f.acquire(done, "u", maxInFlight) }, context.Canceled},
		{"another user has places", func() error { return f.acquire(done, "v", maxInFlight) }, nil},
		{"in flight: settle waits", func() error { return f.settle(done, "u") }, context.Canceled},
		{"a place freed", func() error { f.release("u"); return f.acquire(done, "u", maxInFlight) }, nil},
		{"all released: settled", func() error {
			for range maxInFlight {
				f.release("u")
			}
			return f.settle(done, "u")
		}, nil},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.want) {
			t.Errorf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	if n := f.count("u"); n != 0 {
		t.Errorf("u still counts %d", n)
	}
	f.release("v")
	if len(f.n) != 0 || len(f.wake) != 0 {
		t.Errorf("forgotten users remain: %v, %v", f.n, f.wake)
	}
}

// A waiter is woken when a place frees.
func TestInflightWakes(t *testing.T) {
	var f inflight
	if err := f.acquire(context.Background(), "u", 1); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- f.acquire(context.Background(), "u", 1) }()
	settled := make(chan error, 1)
	go func() { settled <- f.settle(context.Background(), "w") }() // nobody in flight: at once
	if err := <-settled; err != nil {
		t.Fatal(err)
	}
	for waiting := false; !waiting; runtime.Gosched() {
		f.mu.Lock()
		waiting = f.wake["u"] != nil
		f.mu.Unlock()
	}
	f.release("u")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if n := f.count("u"); n != 1 {
		t.Errorf("u counts %d, want the woken waiter's 1", n)
	}
}
