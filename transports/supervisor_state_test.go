package transports_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// ctxNet is an endingNet that keeps the context each Connect was given
// and, while block is set, waits in Connect until that context ends.
type ctxNet struct {
	endingNet
	block bool

	ctxMu sync.Mutex
	ctxs  []context.Context
}

func (n *ctxNet) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (transports.Adapter, error) {
	n.ctxMu.Lock()
	n.ctxs = append(n.ctxs, ctx)
	n.ctxMu.Unlock()
	if n.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return n.endingNet.Connect(ctx, acct, sink)
}

func (n *ctxNet) contexts() []context.Context {
	n.ctxMu.Lock()
	defer n.ctxMu.Unlock()
	return append([]context.Context(nil), n.ctxs...)
}

// TestSupervisorConnectContextReleased: the context given to Connect
// bounds that call only; a connected session keeps none, and is still
// resumed by the adapter's end and by Stop.
func TestSupervisorConnectContextReleased(t *testing.T) {
	net := &ctxNet{endingNet: endingNet{Network: transportstest.New(nil)}}
	rec := newRecorder()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec },
		transports.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)

	sup.Start(acct("alice", "pw"))
	rec.waitState(t, transports.StateConnected)
	first, _ := net.last()
	waitNoSupervisorGoroutine(t)
	for i, ctx := range net.contexts() {
		if ctx.Err() == nil {
			t.Errorf("Connect %d's context still live while the session is connected", i)
		}
	}

	first.End(errors.New("connection reset"))
	rec.waitState(t, transports.StateConnected)
	second, n := net.last()
	if n != 2 || !first.isClosed() || sup.Adapter("alice") != second {
		t.Fatalf("after the end: %d connects, first closed %v, adapter %p (want %p)", n, first.isClosed(), sup.Adapter("alice"), second)
	}
	waitNoSupervisorGoroutine(t)

	sup.Stop("alice")
	rec.waitState(t, transports.StateDisconnected)
	if !second.isClosed() || sup.Running("alice") {
		t.Errorf("after Stop: adapter closed %v, running %v", second.isClosed(), sup.Running("alice"))
	}
}

// TestSupervisorStopEndsConnect: Stop and Close end a Connect under way
// through its context, and wait for it.
func TestSupervisorStopEndsConnect(t *testing.T) {
	tests := []struct {
		name string
		stop func(*transports.Supervisor)
	}{
		{"Stop", func(s *transports.Supervisor) { s.Stop("alice") }},
		{"Close", func(s *transports.Supervisor) { s.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := &ctxNet{endingNet: endingNet{Network: transportstest.New(nil)}, block: true}
			rec := newRecorder()
			sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec }, transports.Backoff{}, nil)
			t.Cleanup(sup.Close)
			sup.Start(acct("alice", "pw"))
			rec.waitState(t, transports.StateConnecting)
			deadline := time.Now().Add(5 * time.Second)
			for len(net.contexts()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("Connect not called")
				}
				time.Sleep(time.Millisecond)
			}
			tt.stop(sup)
			if err := net.contexts()[0].Err(); !errors.Is(err, context.Canceled) {
				t.Errorf("Connect's context after %s: %v, want canceled", tt.name, err)
			}
			if sup.Running("alice") {
				t.Error("session still running")
			}
			waitNoSupervisorGoroutine(t)
		})
	}
}

// TestSupervisorStopRacesEnd: a Stop and the adapter's own end at the
// same time resume the session once: Stop returns, the adapter is
// closed, and no goroutine of the session is left.
func TestSupervisorStopRacesEnd(t *testing.T) {
	net := &endingNet{Network: transportstest.New(nil)}
	rec := newRecorder()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec },
		transports.Backoff{Min: time.Millisecond, Max: time.Millisecond}, nil)
	t.Cleanup(sup.Close)
	for range 100 {
		sup.Start(acct("alice", "pw"))
		rec.waitState(t, transports.StateConnected)
		a, _ := net.last()
		var wg sync.WaitGroup
		wg.Go(func() { a.End(errors.New("gone")) })
		sup.Stop("alice")
		wg.Wait()
		rec.waitState(t, transports.StateDisconnected)
		if sup.Running("alice") {
			t.Fatal("session still running after Stop")
		}
		if last, _ := net.last(); !last.isClosed() {
			t.Fatal("the session's last adapter was not closed")
		}
	}
	waitNoSupervisorGoroutine(t)
}

func TestEndingDone(t *testing.T) {
	gone := errors.New("gone")
	tests := []struct {
		name      string
		doneFirst bool // ask for Done before End
	}{
		{"Done asked before End", true},
		{"Done asked after End", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e transports.Ending
			var done <-chan struct{}
			if tt.doneFirst {
				done = e.Done()
				select {
				case <-done:
					t.Fatal("Done closed before End")
				default:
				}
			}
			e.End(gone)
			if !tt.doneFirst {
				done = e.Done()
			}
			select {
			case <-done:
			default:
				t.Fatal("Done not closed after End")
			}
			if e.Done() != done {
				t.Error("Done returned another channel")
			}
			if e.Err() != gone {
				t.Errorf("Err = %v, want %v", e.Err(), gone)
			}
		})
	}
}
