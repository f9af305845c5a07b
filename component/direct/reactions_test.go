package direct

import (
	"slices"
	"strconv"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// TestReactions: a reactor's whole set follows additions and
// removals, per user, conversation, message and reactor; the oldest
// messages are forgotten beyond the bound, per user.
func TestReactions(t *testing.T) {
	type step struct {
		user, reactor, reaction string
		target                  transports.RemoteID
		remove                  bool
		want                    []string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"add, add again, remove", []step{
			{"u", "bob", "👍", "m1", false, []string{"👍"}},
			{"u", "bob", "🎉", "m1", false, []string{"👍", "🎉"}},
			{"u", "bob", "👍", "m1", false, []string{"🎉", "👍"}}, // no duplicate
			{"u", "bob", "🎉", "m1", true, []string{"👍"}},
			{"u", "bob", "❤", "m1", true, []string{"👍"}}, // not there: unchanged
		}},
		{"reactors, messages and users apart", []step{
			{"u", "bob", "👍", "m1", false, []string{"👍"}},
			{"u", "carol", "❤", "m1", false, []string{"❤"}},
			{"u", "bob", "🎉", "m2", false, []string{"🎉"}},
			{"v", "bob", "🙂", "m1", false, []string{"🙂"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cr Reactions
			for i, s := range tt.steps {
				if got := cr.React(s.user, "bob", s.target, s.reactor, s.reaction, s.remove); !slices.Equal(got, s.want) {
					t.Errorf("step %d: set = %q, want %q", i, got, s.want)
				}
				if got := cr.Get(s.user, "bob", s.target, s.reactor); !slices.Equal(got, s.want) {
					t.Errorf("step %d: get = %q, want %q", i, got, s.want)
				}
			}
		})
	}

	t.Run("bound", func(t *testing.T) {
		var cr Reactions
		for i := range ReactionTargets + 1 {
			cr.Set("u", "bob", transports.RemoteID("m"+strconv.Itoa(i)), "", []string{"👍"})
		}
		cr.Set("v", "bob", "m0", "", []string{"🙂"})
		if got := cr.Get("u", "bob", "m0", ""); got != nil {
			t.Errorf("the oldest message is still remembered: %q", got)
		}
		if got := cr.Get("u", "bob", transports.RemoteID("m"+strconv.Itoa(ReactionTargets)), ""); !slices.Equal(got, []string{"👍"}) {
			t.Errorf("the newest message is forgotten: %q", got)
		}
		if got := cr.Get("v", "bob", "m0", ""); !slices.Equal(got, []string{"🙂"}) {
			t.Errorf("another user's reactions were evicted: %q", got)
		}
		for i := range ReactionUsers {
			cr.Set("w"+strconv.Itoa(i), "bob", "m0", "", []string{"👍"})
		}
		if got := cr.Get("u", "bob", transports.RemoteID("m"+strconv.Itoa(ReactionTargets)), ""); got != nil {
			t.Errorf("the longest-remembered user is still remembered beyond %d users: %q", ReactionUsers, got)
		}
		if got := cr.Get("w0", "bob", "m0", ""); !slices.Equal(got, []string{"👍"}) {
			t.Errorf("a recent user is forgotten: %q", got)
		}
		if cr.m.Len() != ReactionUsers {
			t.Errorf("%d books, want %d", cr.m.Len(), ReactionUsers)
		}
	})
}
