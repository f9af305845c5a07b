package transports

import "testing"

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A Latch's channel is made only when asked for before it is set, is
// closed by Set, and stays the one Done returns.
func TestLatch(t *testing.T) {
	tests := []struct {
		name      string
		askBefore bool // Done is asked for before Set
	}{
		{"waited on", true},
		{"never waited on", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Latch
			var before <-chan struct{}
			if tt.askBefore {
				before = l.Done()
				if closed(before) || l.IsSet() {
					t.Fatal("set before Set")
				}
				if l.Done() != before {
					t.Error("Done made a second channel")
				}
			}
			if (l.done != nil) != tt.askBefore {
				t.Errorf("channel made %v, want %v", l.done != nil, tt.askBefore)
			}
			if !l.Set() {
				t.Fatal("the first Set did not set")
			}
			if l.Set() {
				t.Error("a second Set set again")
			}
			if !l.IsSet() || !closed(l.Done()) {
				t.Error("not set after Set")
			}
			if tt.askBefore && (!closed(before) || l.Done() != before) {
				t.Error("the channel asked for before Set is not the closed one Done returns")
			}
			if !tt.askBefore && l.Done() != closedChan {
				t.Error("a latch never waited on made a channel of its own")
			}
		})
	}
}
