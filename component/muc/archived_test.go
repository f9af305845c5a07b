package muc

import "testing"

func TestArchivedAway(t *testing.T) {
	for _, n := range []int{0, 1, 7} {
		var r Room
		for range n {
			r.ArchivedAway()
		}
		if got := r.TakeArchivedAway(); got != n {
			t.Errorf("after %d messages: TakeArchivedAway = %d", n, got)
		}
		if got := r.TakeArchivedAway(); got != 0 {
			t.Errorf("a second TakeArchivedAway = %d, want 0", got)
		}
	}
}
