package component

import (
	"context"
	"errors"
	"testing"
	"time"
)

type deadlineKey struct{}

// TestLazyDeadline: the context ends as context.WithTimeout's does,
// whichever way its end is looked at, and a timer is armed only for
// those that wait.
func TestLazyDeadline(t *testing.T) {
	const d = 30 * time.Millisecond
	parent := context.WithValue(context.WithoutCancel(context.Background()), deadlineKey{}, "v")
	tests := []struct {
		name    string
		look    func(t *testing.T, ctx context.Context) // waits for the end
		release time.Duration                           // release after this; 0: after the end
		want    error
		armed   bool
	}{
		{"Err polled", pollErr, 0, context.DeadlineExceeded, false},
		{"Done", func(t *testing.T, ctx context.Context) { waitClosed(t, ctx.Done()) }, 0, context.DeadlineExceeded, true},
		{"derived context", func(t *testing.T, ctx context.Context) {
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			waitClosed(t, child.Done())
			if !errors.Is(child.Err(), context.DeadlineExceeded) {
				t.Errorf("child's Err = %v", child.Err())
			}
		}, 0, context.DeadlineExceeded, true},
		{"AfterFunc", func(t *testing.T, ctx context.Context) {
			ran := make(chan struct{})
			context.AfterFunc(ctx, func() { close(ran) })
			waitClosed(t, ran)
		}, 0, context.DeadlineExceeded, true},
		{"released first, Err", func(t *testing.T, ctx context.Context) {}, time.Nanosecond, context.Canceled, false},
		{"released first, then Done", func(t *testing.T, ctx context.Context) { waitClosed(t, ctx.Done()) }, time.Nanosecond, context.Canceled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, release := withLazyDeadline(parent, d)
			defer release()
			lz := ctx.(*lazyDeadline)
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > d {
				t.Errorf("Deadline = %v, %v", dl, ok)
			}
			if ctx.Value(deadlineKey{}) != "v" {
				t.Error("the parent's value is lost")
			}
			if err := ctx.Err(); err != nil {
				t.Fatalf("Err before the deadline = %v", err)
			}
			if tt.release > 0 {
				release()
			}
			tt.look(t, ctx)
			if got := ctx.Err(); got != tt.want {
				t.Errorf("Err = %v, want %v", got, tt.want)
			}
			lz.mu.Lock()
			armed := lz.armed != nil
			lz.mu.Unlock()
			if armed != tt.armed {
				t.Errorf("timer armed = %v, want %v", armed, tt.armed)
			}
			// Done, asked now, is closed, and Err still says the same.
			waitClosed(t, ctx.Done())
			if got := ctx.Err(); got != tt.want {
				t.Errorf("Err after Done = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLazyDeadlineReleasedAfterDeadline: a release after the deadline
// leaves the context ended by the deadline, as a timer's would be.
func TestLazyDeadlineReleasedAfterDeadline(t *testing.T) {
	ctx, release := withLazyDeadline(context.WithoutCancel(context.Background()), time.Millisecond)
	pollErr(t, ctx)
	release()
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	waitClosed(t, ctx.Done())
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Errorf("Err after Done = %v, want DeadlineExceeded", err)
	}
}

// TestLazyDeadlineCancellableParent: under a parent that can end, it is
// context.WithTimeout's own context, ended by the parent.
func TestLazyDeadlineCancellableParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx, release := withLazyDeadline(parent, time.Hour)
	defer release()
	if _, lazy := ctx.(*lazyDeadline); lazy {
		t.Fatal("a lazy deadline under a parent that can end")
	}
	cancel()
	waitClosed(t, ctx.Done())
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v", ctx.Err())
	}
}

func pollErr(t *testing.T, ctx context.Context) {
	t.Helper()
	timeout := time.Now().Add(5 * time.Second)
	for ctx.Err() == nil {
		if time.Now().After(timeout) {
			t.Fatal("Err still nil long after the deadline")
		}
		time.Sleep(time.Millisecond)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not closed")
	}
}
