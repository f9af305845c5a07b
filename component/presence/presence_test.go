package presence

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

func TestTrackerBounds(t *testing.T) {
	t.Run("status cut", func(t *testing.T) {
		p := New()
		long := strings.Repeat("é", 100<<10) // 200 KiB
		p.Available("u@example.org", "pc", State{Status: long}, true)
		best, _ := p.Best("u@example.org")
		if len(best.Status) > MaxStatusBytes || len(best.Status) < MaxStatusBytes-4 || !utf8.ValidString(best.Status) {
			t.Errorf("status kept: %d bytes, valid UTF-8 %v", len(best.Status), utf8.ValidString(best.Status))
		}
	})
	t.Run("resources per user", func(t *testing.T) {
		p := New()
		for i := range MaxResources {
			if _, ok := p.Available("u@example.org", fmt.Sprint("r", i), State{}, true); !ok {
				t.Fatalf("resource %d refused", i)
			}
		}
		if _, ok := p.Available("u@example.org", "one-too-many", State{}, true); ok {
			t.Error("resource beyond the cap tracked")
		}
		if _, ok := p.Available("u@example.org", "r0", State{Priority: 5}, true); !ok {
			t.Error("an update of a tracked resource refused")
		}
		if n := len(p.List("u@example.org")); n != MaxResources {
			t.Errorf("%d resources tracked, want %d", n, MaxResources)
		}
	})
	t.Run("unregistered users LRU", func(t *testing.T) {
		p := New()
		p.maxAnon = 3
		p.Available("reg@example.org", "pc", State{}, true)
		for i := range 5 {
			p.Available(fmt.Sprintf("anon%d@example.org", i), "pc", State{}, false)
			if i == 2 {
				p.Available("anon0@example.org", "pc", State{}, false) // seen again: most recent
			}
		}
		want := map[string]bool{"reg@example.org": true, "anon0@example.org": true, "anon3@example.org": true, "anon4@example.org": true}
		for u, on := range map[string]bool{"reg@example.org": true, "anon0@example.org": true, "anon1@example.org": false, "anon2@example.org": false, "anon3@example.org": true, "anon4@example.org": true} {
			if p.Online(u) != on {
				t.Errorf("%s online = %v, want %v", u, p.Online(u), on)
			}
		}
		if p.Users() != len(want) || p.anon.Len() != 3 {
			t.Errorf("%d users, %d unregistered; want %d, 3", p.Users(), p.anon.Len(), len(want))
		}
		// Registering takes a user off the list; going away forgets them.
		p.Available("anon4@example.org", "pc", State{}, true)
		p.Unavailable("anon3@example.org", "pc")
		if p.anon.Len() != 1 || p.Online("anon3@example.org") {
			t.Errorf("after register and leave: %d unregistered", p.anon.Len())
		}
	})
}

// TestLanesBound: a user's lane takes maxQueued stanzas waiting beyond the
// running one, refuses the next, and never refuses the component's own
// follow-up work nor another user's.
func TestBestAndList(t *testing.T) {
	p := New()
	p.Available("u@example.org", "pc", State{Priority: 1, Show: transports.Away, Status: "lunch"}, true)
	p.Available("u@example.org", "phone", State{Priority: 5, Show: transports.DoNotDisturb, Status: "meeting"}, true)
	p.Available("u@example.org", "tablet", State{Priority: 5, Show: transports.Available}, true)
	best, ok := p.Best("u@example.org")
	// Highest priority wins; on a tie the first resource name in order.
	if !ok || best.Show != transports.DoNotDisturb || best.Status != "meeting" {
		t.Errorf("Best = %+v, %v; want the phone's dnd", best, ok)
	}
	var names []string
	for _, r := range p.List("u@example.org") {
		names = append(names, fmt.Sprintf("%s/%d/%s", r.Name, r.Priority, r.Show))
	}
	if got, want := strings.Join(names, " "), "phone/5/dnd tablet/5/ pc/1/away"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if last := p.Unavailable("u@example.org", "phone"); last {
		t.Error("not the last resource, reported last")
	}
	p.Unavailable("u@example.org", "tablet")
	if last := p.Unavailable("u@example.org", "pc"); !last || p.Online("u@example.org") {
		t.Errorf("last resource gone: last=%v online=%v", last, p.Online("u@example.org"))
	}
	if _, ok := p.Best("u@example.org"); ok {
		t.Error("Best of an offline user reported a presence")
	}
}

func TestParseShow(t *testing.T) {
	for in, want := range map[string]transports.Show{"away": transports.Away, "xa": transports.ExtendedAway, "dnd": transports.DoNotDisturb, "chat": transports.FreeForChat, "": transports.Available, "bogus": transports.Available} {
		if got := ParseShow(in); got != want {
			t.Errorf("ParseShow(%q) = %v, want %v", in, got, want)
		}
	}
}
