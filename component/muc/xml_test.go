package muc

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

func TestRoleNames(t *testing.T) {
	tests := []struct {
		role    transports.Role
		name    string
		present string
	}{
		{transports.RoleNone, "none", "participant"},
		{transports.RoleVisitor, "visitor", "visitor"},
		{transports.RoleParticipant, "participant", "participant"},
		{transports.RoleModerator, "moderator", "moderator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RoleName(tt.role); got != tt.name {
				t.Errorf("RoleName = %q, want %q", got, tt.name)
			}
			if got := PresentRole(tt.role); got != tt.present {
				t.Errorf("PresentRole = %q, want %q", got, tt.present)
			}
			got, ok := ParseRole(tt.name)
			if !ok || got != tt.role {
				t.Errorf("ParseRole(%q) = %v, %v; want %v, true", tt.name, got, ok, tt.role)
			}
		})
	}
	for _, bad := range []string{"", "Moderator", "owner", "op"} {
		if _, ok := ParseRole(bad); ok {
			t.Errorf("ParseRole(%q) accepted", bad)
		}
	}
}

func TestAffiliationNames(t *testing.T) {
	tests := []struct {
		aff  transports.Affiliation
		name string
	}{
		{transports.AffiliationNone, "none"},
		{transports.AffiliationMember, "member"},
		{transports.AffiliationAdmin, "admin"},
		{transports.AffiliationOwner, "owner"},
		{transports.AffiliationOutcast, "outcast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AffName(tt.aff); got != tt.name {
				t.Errorf("AffName = %q, want %q", got, tt.name)
			}
			got, ok := ParseAff(tt.name)
			if !ok || got != tt.aff {
				t.Errorf("ParseAff(%q) = %v, %v; want %v, true", tt.name, got, ok, tt.aff)
			}
		})
	}
	for _, bad := range []string{"", "Owner", "moderator", "banned"} {
		if _, ok := ParseAff(bad); ok {
			t.Errorf("ParseAff(%q) accepted", bad)
		}
	}
}

// TestUserXWire checks the muc#user element by namespace and local name:
// the item's attributes, the actor, the reason and the status codes.
func TestUserXWire(t *testing.T) {
	x := xmltreetest.Marshal(t, &UserX{
		Item:   &Item{Affiliation: "outcast", Role: "none", Nick: "bob", Actor: &Actor{Nick: "op"}, Reason: "spam"},
		Status: Statuses(StatusSelf, StatusBanned),
	})
	if !x.Is(NSUser, "x") {
		t.Fatalf("element %v, want {%s}x", x.Name, NSUser)
	}
	item := x.Child(NSUser, "item")
	if item == nil {
		t.Fatal("no item in the muc#user namespace")
	}
	for attr, want := range map[string]string{"affiliation": "outcast", "role": "none", "nick": "bob", "jid": ""} {
		if got := item.Attr(attr); got != want {
			t.Errorf("item %s = %q, want %q", attr, got, want)
		}
	}
	if a := item.Child(NSUser, "actor"); a == nil || a.Attr("nick") != "op" {
		t.Errorf("actor = %+v, want nick op", a)
	}
	if got := item.ChildText(NSUser, "reason"); got != "spam" {
		t.Errorf("reason = %q, want spam", got)
	}
	var codes []string
	for _, s := range x.ChildrenNamed(NSUser, "status") {
		codes = append(codes, s.Attr("code"))
	}
	if got := strings.Join(codes, ","); got != "110,301" {
		t.Errorf("status codes %s, want 110,301", got)
	}

	// An empty <x/> (offline highlights) has no item and no status.
	empty := xmltreetest.Marshal(t, &UserX{})
	if !empty.Is(NSUser, "x") || len(empty.Children) != 0 {
		t.Errorf("empty x = %+v", empty)
	}
	if j := xmltreetest.Marshal(t, &JoinX{}); !j.Is(NS, "x") {
		t.Errorf("join x is %v", j.Name)
	}
	q := xmltreetest.Marshal(t, &AdminQuery{Items: []Item{{Nick: "a", Role: "moderator"}, {Nick: "b", Role: "participant"}}})
	if !q.Is(NSAdmin, "query") || len(q.ChildrenNamed(NSAdmin, "item")) != 2 {
		t.Errorf("admin query = %+v", q)
	}
}

func TestParseAdminItem(t *testing.T) {
	const room = "#chan%irc.example.net@irc.example.org"
	tests := []struct {
		name string
		item string
		want AdminChange
		err  string // the bad-request text, or "" for none
	}{
		{name: "kick by nick", item: `<item nick="bob" role="none"><reason>spam</reason></item>`,
			want: AdminChange{Nick: "bob", Reason: "spam", Role: transports.RoleNone, SetRole: true}},
		{name: "voice", item: `<item nick="bob" role="participant"/>`,
			want: AdminChange{Nick: "bob", Role: transports.RoleParticipant, SetRole: true}},
		{name: "ban by occupant jid", item: `<item jid="` + room + `/bob" affiliation="outcast"/>`,
			want: AdminChange{Nick: "bob", Affiliation: transports.AffiliationOutcast, SetAff: true}},
		{name: "both", item: `<item nick="bob" role="moderator" affiliation="admin"/>`,
			want: AdminChange{Nick: "bob", Role: transports.RoleModerator, SetRole: true, Affiliation: transports.AffiliationAdmin, SetAff: true}},
		{name: "real jid", item: `<item jid="bob@example.org" role="none"/>`, err: "Name the occupant"},
		{name: "other room's occupant", item: `<item jid="#other%irc.example.net@irc.example.org/bob" role="none"/>`, err: "Name the occupant"},
		{name: "nothing to change", item: `<item nick="bob"/>`, err: "neither role nor affiliation"},
		{name: "unknown role", item: `<item nick="bob" role="op"/>`, err: `Unknown role "op"`},
		{name: "unknown affiliation", item: `<item nick="bob" role="none" affiliation="banned"/>`, err: `Unknown affiliation "banned"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := xmltreetest.Parse(t, `<query xmlns="`+NSAdmin+`">`+tt.item+`</query>`).Child(NSAdmin, "item")
			got, err := ParseAdminItem(el, room)
			if tt.err != "" {
				var se *stanzaerr.Error
				if !errors.As(err, &se) || se.Condition != "bad-request" || se.Type != "modify" || !strings.Contains(se.Text, tt.err) {
					t.Fatalf("err = %v, want modify/bad-request saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
