package component

import (
	"slices"
	"strconv"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// TestChatReactions: a reactor's whole set follows additions and
// removals, per user, conversation, message and reactor; the oldest
// messages are forgotten beyond the bound, per user.
func TestChatReactions(t *testing.T) {
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
			var cr chatReactions
			for i, s := range tt.steps {
				if got := cr.react(s.user, "bob", s.target, s.reactor, s.reaction, s.remove); !slices.Equal(got, s.want) {
					t.Errorf("step %d: set = %q, want %q", i, got, s.want)
				}
				if got := cr.get(s.user, "bob", s.target, s.reactor); !slices.Equal(got, s.want) {
					t.Errorf("step %d: get = %q, want %q", i, got, s.want)
				}
			}
		})
	}

	t.Run("bound", func(t *testing.T) {
		var cr chatReactions
		for i := range chatReactionTargets + 1 {
			cr.set("u", "bob", transports.RemoteID("m"+strconv.Itoa(i)), "", []string{"👍"})
		}
		cr.set("v", "bob", "m0", "", []string{"🙂"})
		if got := cr.get("u", "bob", "m0", ""); got != nil {
			t.Errorf("the oldest message is still remembered: %q", got)
		}
		if got := cr.get("u", "bob", transports.RemoteID("m"+strconv.Itoa(chatReactionTargets)), ""); !slices.Equal(got, []string{"👍"}) {
			t.Errorf("the newest message is forgotten: %q", got)
		}
		if got := cr.get("v", "bob", "m0", ""); !slices.Equal(got, []string{"🙂"}) {
			t.Errorf("another user's reactions were evicted: %q", got)
		}
		for i := range chatReactionUsers {
			cr.set("w"+strconv.Itoa(i), "bob", "m0", "", []string{"👍"})
		}
		if got := cr.get("u", "bob", transports.RemoteID("m"+strconv.Itoa(chatReactionTargets)), ""); got != nil {
			t.Errorf("the longest-remembered user is still remembered beyond %d users: %q", chatReactionUsers, got)
		}
		if got := cr.get("w0", "bob", "m0", ""); !slices.Equal(got, []string{"👍"}) {
			t.Errorf("a recent user is forgotten: %q", got)
		}
		if len(cr.m) != chatReactionUsers || len(cr.users) != chatReactionUsers {
			t.Errorf("%d books for %d users, want %d", len(cr.m), len(cr.users), chatReactionUsers)
		}
	})
}
