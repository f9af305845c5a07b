package contacts

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// TestCleanName: names and groups lose control and format characters
// and surrounding space, are cut to the bound, and are "" when nothing
// is left.
func TestCleanName(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Carol C", 200, "Carol C"},
		{"  Carol\t", 200, "Carol"},
		{"Ca\x00rol\u202e", 200, "Carol"},
		{"", 200, ""},
		{" \t ", 200, ""},
		{"\x01\u200b", 200, ""},
		{"\xff \xfe", 200, ""},
		{"attachment", 200, "attachment"},
		{"Ünïcödé", 4, "Ünï…"},
		{strings.Repeat("x", 201), 200, strings.Repeat("x", 199) + "…"},
	}
	for _, tt := range tests {
		if got := cleanName(tt.in, tt.max); got != tt.want {
			t.Errorf("cleanName(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestItemOf: a pushed roster item is the contact's address, its clean
// name and at most maxRosterGroups non-empty groups, subscribed both
// ways.
func TestItemOf(t *testing.T) {
	many := make([]string, maxRosterGroups+3)
	for i := range many {
		many[i] = string(rune('a' + i))
	}
	tests := []struct {
		name   string
		ct     transports.Contact
		want   string
		groups []string
	}{
		{"named, grouped", transports.Contact{ID: "carol", Name: "Carol C", Groups: []string{"Friends", " ", "\u200b", " Work "}}, "Carol C", []string{"Friends", "Work"}},
		{"no name", transports.Contact{ID: "dave", Name: "  "}, "", nil},
		{"too many groups", transports.Contact{ID: "erin", Groups: many}, "", many[:maxRosterGroups]},
	}
	for _, tt := range tests {
		it := itemOf(string(tt.ct.ID)+"@gw.example.org", tt.ct)
		if it.JID != string(tt.ct.ID)+"@gw.example.org" || it.Name != tt.want || it.Subscription != "both" || !slices.Equal(it.Groups, tt.groups) {
			t.Errorf("%s: item %+v, want name %q groups %q", tt.name, it, tt.want, tt.groups)
		}
	}
}

// TestPlanRoster: what a contact list changes in the roster, with and
// without the roster privilege, for the whole list or one change.
func TestPlanRoster(t *testing.T) {
	l := func(ids ...string) []listed {
		var out []listed
		for _, id := range ids {
			out = append(out, listed{id + "@gw", transports.Contact{ID: transports.ID(id), Name: strings.ToUpper(id)}})
		}
		return out
	}
	tests := []struct {
		name            string
		roster, synced  []string
		list            []listed
		whole, priv     bool
		ask, push, gone []string
		wantSynced      []string
		wantRoster      []string
	}{
		{name: "first list", list: l("carol", "dave"), whole: true,
			ask: []string{"carol@gw", "dave@gw"}, wantSynced: []string{"carol@gw", "dave@gw"}},
		{name: "first list, privileged", list: l("carol", "dave"), whole: true, priv: true,
			push: []string{"carol@gw", "dave@gw"}, wantSynced: []string{"carol@gw", "dave@gw"}},
		{name: "asked before or in the roster", roster: []string{"dave@gw"}, synced: []string{"carol@gw"}, list: l("carol", "dave", "erin"), whole: true,
			ask: []string{"erin@gw"}, wantSynced: []string{"carol@gw", "erin@gw"}, wantRoster: []string{"dave@gw"}},
		{name: "the list loses what the gateway added", roster: []string{"carol@gw", "frank@gw"}, synced: []string{"carol@gw", "dave@gw"}, list: l("dave"), whole: true,
			gone: []string{"carol@gw"}, wantSynced: []string{"dave@gw"}, wantRoster: []string{"frank@gw"}},
		{name: "one change takes nothing out", synced: []string{"carol@gw"}, list: l("erin"),
			ask: []string{"erin@gw"}, wantSynced: []string{"carol@gw", "erin@gw"}},
		{name: "a contact twice is asked once", list: l("carol", "carol"), whole: true,
			ask: []string{"carol@gw"}, wantSynced: []string{"carol@gw"}},
		{name: "nothing new", synced: []string{"carol@gw"}, list: l("carol"), whole: true,
			wantSynced: []string{"carol@gw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planRoster("rosa@example.org", slices.Clone(tt.roster), slices.Clone(tt.synced), tt.list, tt.whole, tt.priv)
			var ask, push []string
			for _, pr := range p.ask {
				if pr.Type != "subscribe" || pr.To != "rosa@example.org" || pr.Nick == nil || pr.Nick.Nick != strings.ToUpper(strings.TrimSuffix(pr.From, "@gw")) {
					t.Errorf("request %+v", pr)
				}
				ask = append(ask, pr.From)
			}
			for _, it := range p.push {
				push = append(push, it.JID)
			}
			if !slices.Equal(ask, tt.ask) || !slices.Equal(push, tt.push) || !slices.Equal(p.gone, tt.gone) {
				t.Errorf("ask %q push %q gone %q; want %q %q %q", ask, push, p.gone, tt.ask, tt.push, tt.gone)
			}
			if !slices.Equal(p.synced, tt.wantSynced) || !slices.Equal(p.roster, tt.wantRoster) {
				t.Errorf("synced %q roster %q; want %q %q", p.synced, p.roster, tt.wantSynced, tt.wantRoster)
			}
			if p.empty() != (len(tt.ask)+len(tt.push)+len(tt.gone) == 0) {
				t.Errorf("empty = %v", p.empty())
			}
		})
	}
}

func TestInRoster(t *testing.T) {
	tests := []struct {
		settings map[string]string
		want     []string
	}{
		{map[string]string{}, nil},
		{map[string]string{RosterKey: "a@gw\nb@gw"}, []string{"a@gw", "b@gw"}},
		{map[string]string{SyncedKey: "c@gw"}, []string{"c@gw"}},
		{map[string]string{RosterKey: "a@gw\nb@gw", SyncedKey: "b@gw\nc@gw"}, []string{"a@gw", "b@gw", "c@gw"}},
	}
	for _, tt := range tests {
		if got := InRoster(tt.settings); !slices.Equal(got, tt.want) {
			t.Errorf("InRoster(%q) = %q, want %q", tt.settings, got, tt.want)
		}
	}
}

// TestRosterFlow: a session start asks for the contact list and stores
// what it asked; a second start asks nothing; a removed contact the
// gateway added leaves the roster, one the user added stays; with the
// roster privilege the contacts are pushed, and a refused push asks the
// user instead.
func TestRosterFlow(t *testing.T) {
	rosa := jid.MustParse("rosa@example.org")
	t.Run("requests", func(t *testing.T) {
		f := newFakeCore(t)
		f.caps.Contacts = true
		f.settings["rosa@example.org"] = map[string]string{RosterKey: "frank@gw.example.org"}
		f.session = &session{contacts: []transports.Contact{{ID: "carol", Name: "Carol C"}, {ID: "bad id"}, {ID: "dave"}}}
		d := NewService(f, testKey)
		d.Sync(t.Context(), rosa)
		if got := presences(f.take()); !slices.Equal(got, []string{"subscribe carol@gw.example.org", "subscribe dave@gw.example.org"}) {
			t.Errorf("first start sent %q", got)
		}
		if p, _ := d.book.Get("rosa@example.org", "carol"); p.Name != "Carol C" {
			t.Errorf("the list's name is not in the book: %+v", p)
		}
		d.Sync(t.Context(), rosa)
		if got := f.take(); len(got) != 0 {
			t.Errorf("second start sent %v", got)
		}

		d.ContactEvent(rosa, &transports.ContactEvent{Contact: transports.Contact{ID: "frank"}, Removed: true})
		d.ContactEvent(rosa, &transports.ContactEvent{Contact: transports.Contact{ID: "dave"}, Removed: true})
		if got := presences(f.take()); !slices.Equal(got, []string{"unavailable dave@gw.example.org", "unsubscribe dave@gw.example.org", "unsubscribed dave@gw.example.org"}) {
			t.Errorf("removals sent %q", got)
		}
		s := f.settings["rosa@example.org"]
		if s[SyncedKey] != "carol@gw.example.org" || s[RosterKey] != "frank@gw.example.org" {
			t.Errorf("settings after the removals: %q", s)
		}

		f.caps.Contacts = false
		d.ContactEvent(rosa, &transports.ContactEvent{Contact: transports.Contact{ID: "erin"}})
		if got := f.take(); len(got) != 0 {
			t.Errorf("a contact event without Contacts sent %v", got)
		}
	})
	t.Run("privileged", func(t *testing.T) {
		f := newFakeCore(t)
		f.caps.Contacts = true
		f.session = &session{contacts: []transports.Contact{{ID: "carol", Name: "Carol C", Groups: []string{"Friends"}}}}
		d := NewService(f, testKey)
		d.privs.Set("example.org", Grant{NS: NSPrivilege2, Roster: "both"})
		d.Sync(t.Context(), rosa)
		if len(f.roster) != 1 || len(f.take()) != 0 {
			t.Fatalf("pushed %v", f.roster)
		}
		it := f.roster[0].Child(NSRoster, "item")
		if it == nil || it.Attr("jid") != "carol@gw.example.org" || it.Attr("name") != "Carol C" || it.Attr("subscription") != "both" || it.ChildText(NSRoster, "group") != "Friends" {
			t.Errorf("push: %s", f.roster[0])
		}
		d.ContactEvent(rosa, &transports.ContactEvent{Contact: transports.Contact{ID: "carol"}, Removed: true})
		if len(f.roster) != 2 || f.roster[1].Child(NSRoster, "item").Attr("subscription") != "remove" {
			t.Errorf("removal: %v", f.roster)
		}

		f.rosterErr = errors.New("refused")
		d.ContactEvent(rosa, &transports.ContactEvent{Contact: transports.Contact{ID: "dave", Name: "Dave"}})
		sent := f.take()
		if got := presences(sent); !slices.Equal(got, []string{"subscribe dave@gw.example.org"}) || sent[0].Child(nsNick, "nick") == nil {
			t.Errorf("a refused push sent %v", sent)
		}
		d.ContactEvent(rosa, &transports.ContactEvent{Contact: transports.Contact{ID: "dave"}, Removed: true})
		if got := presences(f.take()); !slices.Equal(got, []string{"unavailable dave@gw.example.org", "unsubscribe dave@gw.example.org", "unsubscribed dave@gw.example.org"}) {
			t.Errorf("a refused removal sent %q", got)
		}
	})
	t.Run("storage fails", func(t *testing.T) {
		f := newFakeCore(t)
		f.caps.Contacts = true
		f.session = &session{contacts: []transports.Contact{{ID: "carol"}}}
		d := NewService(f, testKey)
		f.setErr = errors.New("disk full")
		d.Sync(t.Context(), rosa)
		f.setErr, f.settingsErr = nil, errors.New("disk gone")
		d.Sync(t.Context(), rosa)
		if got := f.take(); len(got) != 0 {
			t.Errorf("asked without storing: %v", got)
		}
		f.settingsErr = nil
		d.Sync(t.Context(), rosa)
		if got := presences(f.take()); !slices.Equal(got, []string{"subscribe carol@gw.example.org"}) {
			t.Errorf("the next start sent %q", got)
		}
	})
}
