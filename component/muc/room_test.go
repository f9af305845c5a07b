package muc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

var roomJID = jid.MustParse("#chan%irc.example.net@irc.example.org")

func newTestRoom(nick string) *Room { return NewRoom("#chan", roomJID, nil, nick) }

func res(name string) jid.JID { return jid.MustParse("u@example.org/" + name) }

// occupants is the room's occupant list as "nick:role:aff" by nick.
func occupants(r *Room) string {
	var out []string
	for _, o := range r.sorted("") {
		out = append(out, fmt.Sprintf("%s:%s:%s", o.Nick, RoleName(o.Role), AffName(o.Affiliation)))
	}
	return strings.Join(out, ",")
}

func TestApplyOccupant(t *testing.T) {
	alice := transports.OccupantEvent{Room: "#chan", Nick: "alice", Role: transports.RoleParticipant}
	op := alice
	op.Role, op.Affiliation = transports.RoleModerator, transports.AffiliationAdmin
	away := alice
	away.Presence = transports.Presence{Show: transports.Away, Status: "lunch"}
	left := alice
	left.Left, left.Reason = true, "bye"
	renamed := alice
	renamed.NewNick = "alicia"
	stranger := transports.OccupantEvent{Room: "#chan", Nick: "carol", Left: true, Affiliation: transports.AffiliationMember}
	self := transports.OccupantEvent{Room: "#chan", Nick: "me", Role: transports.RoleModerator}
	selfFlag := self
	selfFlag.Self = true
	noNick := transports.OccupantEvent{Room: "#chan", Role: transports.RoleParticipant}

	type step struct {
		ev       transports.OccupantEvent
		kind     ChangeKind
		occupant string // the change's occupant "nick:role:aff", if any
		oldNick  string
		after    string // the occupant list after the step
	}
	tests := []struct {
		name  string
		ready bool
		steps []step
	}{
		{name: "join, same again, update, away, rename, leave", ready: true, steps: []step{
			{ev: alice, kind: Present, occupant: "alice:participant:none", after: "alice:participant:none"},
			{ev: alice, kind: Unchanged, after: "alice:participant:none"},
			{ev: op, kind: Present, occupant: "alice:moderator:admin", after: "alice:moderator:admin"},
			{ev: away, kind: Present, occupant: "alice:participant:none", after: "alice:participant:none"},
			{ev: renamed, kind: Renamed, occupant: "alicia:participant:none", oldNick: "alice", after: "alicia:participant:none"},
			{ev: left, kind: Left, occupant: "alice:none:none", after: "alicia:participant:none"},
		}},
		{name: "rename keeps role, leave says the last one", ready: true, steps: []step{
			{ev: op, kind: Present, occupant: "alice:moderator:admin", after: "alice:moderator:admin"},
			{ev: renamed, kind: Renamed, occupant: "alicia:moderator:admin", oldNick: "alice", after: "alicia:moderator:admin"},
			{ev: transports.OccupantEvent{Room: "#chan", Nick: "alicia", Left: true}, kind: Left, occupant: "alicia:moderator:admin"},
		}},
		{name: "unknown occupant leaves and renames", ready: true, steps: []step{
			{ev: stranger, kind: Left, occupant: "carol:none:member"},
			{ev: renamed, kind: Renamed, occupant: "alicia:participant:none", oldNick: "alice", after: "alicia:participant:none"},
		}},
		{name: "the user's own nick and events without a nick are not others", ready: true, steps: []step{
			{ev: self, kind: Unchanged},
			{ev: selfFlag, kind: Unchanged},
			{ev: noNick, kind: Unchanged},
		}},
		{name: "before ready: recorded, not shown; own nick too", steps: []step{
			{ev: alice, kind: Unchanged, after: "alice:participant:none"},
			{ev: self, kind: Unchanged, after: "alice:participant:none,me:moderator:none"},
			{ev: renamed, kind: Unchanged, after: "alicia:participant:none,me:moderator:none"},
			{ev: transports.OccupantEvent{Room: "#chan", Nick: "alicia", Left: true}, kind: Unchanged, after: "me:moderator:none"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRoom("me")
			if tt.ready {
				r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
			}
			for i, st := range tt.steps {
				ev := st.ev
				ch := r.ApplyOccupant(&ev)
				if ch.Kind != st.kind {
					t.Fatalf("step %d: kind %v, want %v", i, ch.Kind, st.kind)
				}
				if st.occupant != "" {
					o := ch.Occupant
					if got := fmt.Sprintf("%s:%s:%s", o.Nick, RoleName(o.Role), AffName(o.Affiliation)); got != st.occupant {
						t.Errorf("step %d: occupant %s, want %s", i, got, st.occupant)
					}
				}
				if ch.OldNick != st.oldNick {
					t.Errorf("step %d: old nick %q, want %q", i, ch.OldNick, st.oldNick)
				}
				if got := occupants(r); got != st.after {
					t.Errorf("step %d: occupants %q, want %q", i, got, st.after)
				}
			}
		})
	}
}

func TestPresenceChangeShown(t *testing.T) {
	r := newTestRoom("me")
	r.SetReady("", transports.RoleParticipant, transports.AffiliationNone)
	ev := transports.OccupantEvent{Room: "#chan", Nick: "bob"}
	r.ApplyOccupant(&ev)
	ev.Presence = transports.Presence{Show: transports.Away}
	ch := r.ApplyOccupant(&ev)
	if ch.Kind != Present || ch.Occupant.Presence.Show != transports.Away {
		t.Errorf("away: %+v", ch)
	}
	ev.Account = "bobby"
	if ch := r.ApplyOccupant(&ev); ch.Kind != Present || ch.Occupant.Account != "bobby" {
		t.Errorf("account learnt: %+v", ch)
	}
}

func TestSetReady(t *testing.T) {
	tests := []struct {
		name        string
		asked       string
		readyNick   string // the nick RoomReadyEvent gives
		serverNick  bool   // a Self event with NickChangedByServer came first
		wantNick    string
		wantChanged bool // status 210 for the first resource
	}{
		{name: "as asked", asked: "me", wantNick: "me"},
		{name: "ready names the asked nick", asked: "me", readyNick: "me", wantNick: "me"},
		{name: "network gave another nick", asked: "me", readyNick: "me_", wantNick: "me_", wantChanged: true},
		{name: "network said it changed the nick", asked: "me", readyNick: "me", serverNick: true, wantNick: "me", wantChanged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRoom(tt.asked)
			rr := r.Join(res("pc"), tt.asked, NoHistory)
			if rr.Phase() != Joining {
				t.Fatalf("joined resource in phase %v", rr.Phase())
			}
			// The user's own occupant in the list before the join ends
			// is not among the others afterwards.
			r.ApplyOccupant(&transports.OccupantEvent{Room: "#chan", Nick: tt.wantNick})
			r.ApplyOccupant(&transports.OccupantEvent{Room: "#chan", Nick: "bob"})
			if tt.serverNick {
				if r.UpdateSelf(&transports.OccupantEvent{Room: "#chan", Self: true, Nick: tt.asked, NickChangedByServer: true}) {
					t.Error("a self update before ready is to be shown")
				}
			}
			synced := r.SetReady(tt.readyNick, transports.RoleModerator, transports.AffiliationOwner)
			if len(synced) != 1 || synced[0] != rr {
				t.Fatalf("synced %v, want the joining resource", synced)
			}
			if !r.Ready() || r.Nick != tt.wantNick || r.Role != transports.RoleModerator || r.Affiliation != transports.AffiliationOwner {
				t.Errorf("room ready=%v nick=%q role=%v aff=%v", r.Ready(), r.Nick, r.Role, r.Affiliation)
			}
			if rr.Phase() != Syncing || rr.NickModified() != tt.wantChanged {
				t.Errorf("resource phase %v, nick modified %v; want syncing, %v", rr.Phase(), rr.NickModified(), tt.wantChanged)
			}
			if got := occupants(r); got != "bob:none:none" {
				t.Errorf("occupants %q, want only bob", got)
			}
			// A second RoomReadyEvent records the state and replays nothing.
			if again := r.SetReady("", transports.RoleParticipant, transports.AffiliationMember); again != nil {
				t.Errorf("second ready synced %v", again)
			}
			if r.Nick != tt.wantNick || r.Role != transports.RoleParticipant || r.Affiliation != transports.AffiliationMember {
				t.Errorf("second ready: nick=%q role=%v aff=%v", r.Nick, r.Role, r.Affiliation)
			}
			// A later resource asking the nick the user has gets no 210:
			// the network's change was said once.
			if rr2 := r.JoinAgain(res("phone"), tt.wantNick, NoHistory); rr2.Phase() != Syncing || rr2.NickModified() {
				t.Errorf("second resource phase %v, nick modified %v", rr2.Phase(), rr2.NickModified())
			}
			if rr3 := r.JoinAgain(res("tablet"), "other", NoHistory); !rr3.NickModified() {
				t.Error("a resource that asked another nick gets no 210")
			}
		})
	}
}

func TestSelfChanges(t *testing.T) {
	r := newTestRoom("me")
	if old, show := r.RenameSelf("me2"); old != "me" || show || r.Nick != "me2" {
		t.Errorf("rename before ready: old %q show %v nick %q", old, show, r.Nick)
	}
	if r.UpdateSelf(&transports.OccupantEvent{Self: true, Nick: "me3", Role: transports.RoleVisitor}) || r.Nick != "me3" {
		t.Errorf("self update before ready: nick %q", r.Nick)
	}
	r.SetReady("", transports.RoleVisitor, transports.AffiliationNone)
	if old, show := r.RenameSelf("me4"); old != "me3" || !show || r.Nick != "me4" {
		t.Errorf("rename: old %q show %v nick %q", old, show, r.Nick)
	}
	p := transports.Presence{Show: transports.Away, Status: "out"}
	if !r.UpdateSelf(&transports.OccupantEvent{Self: true, Nick: "ignored", Role: transports.RoleModerator, Affiliation: transports.AffiliationAdmin, Presence: p}) {
		t.Error("a self update after ready is not to be shown")
	}
	if r.Nick != "me4" || r.Role != transports.RoleModerator || r.Affiliation != transports.AffiliationAdmin || r.Presence != p {
		t.Errorf("after update: %q %v %v %v", r.Nick, r.Role, r.Affiliation, r.Presence)
	}
}

// names lists resources' resourceparts.
func names(rs []*Resource) string {
	var out []string
	for _, rr := range rs {
		out = append(out, rr.Full.Resourcepart())
	}
	return strings.Join(out, ",")
}

func TestResourcesAndBroadcast(t *testing.T) {
	r := newTestRoom("me")
	pc := r.Join(res("pc"), "me", NoHistory)
	r.SetReady("", transports.RoleParticipant, transports.AffiliationNone)
	pc.Flush()
	phone := r.JoinAgain(res("phone"), "me", NoHistory)
	tablet := r.Join(res("tablet"), "me", NoHistory) // still joining

	if got := names(r.Resources()); got != "pc,phone,tablet" {
		t.Errorf("resources %s", got)
	}
	if got := names(r.InPhase(Joined)) + "|" + names(r.InPhase(Syncing)) + "|" + names(r.InPhase(Joining)); got != "pc|phone|tablet" {
		t.Errorf("phases %s, want pc|phone|tablet", got)
	}
	if got := names(r.Told()); got != "pc,phone" {
		t.Errorf("told %s, want pc,phone", got)
	}

	build := func(body string) func(jid.JID) any {
		return func(to jid.JID) any { return body + ">" + to.Resourcepart() }
	}
	now := r.Broadcast("m1", build("hello"))
	if fmt.Sprint(now) != "[hello>pc]" {
		t.Errorf("sent now %v, want only to pc", now)
	}
	r.Broadcast("", build("presence"))
	if !phone.Held("m1") || phone.Held("m2") || pc.Held("m1") || tablet.Held("m1") {
		t.Error("held IDs wrong")
	}
	held := phone.Flush()
	if fmt.Sprint(held) != "[hello>phone presence>phone]" {
		t.Errorf("flushed %v", held)
	}
	if phone.Phase() != Joined || phone.Held("m1") || len(phone.Flush()) != 0 {
		t.Error("flush did not end the sync")
	}
	if now := r.Broadcast("m2", build("again")); fmt.Sprint(now) != "[again>pc again>phone]" {
		t.Errorf("after flush sent %v", now)
	}

	if rr, empty := r.Leave("nobody"); rr != nil || empty {
		t.Errorf("leave of an absent resource: %v %v", rr, empty)
	}
	if rr, empty := r.Leave("pc"); rr != pc || empty {
		t.Errorf("leave pc: %v %v", rr, empty)
	}
	if r.Resource("pc") != nil || r.Resource("phone") != phone {
		t.Error("Resource after leave")
	}
	told := r.DropResources()
	if names(told) != "phone" || !r.Empty() {
		t.Errorf("dropped %s (joining tablet must not be told), empty %v", names(told), r.Empty())
	}
	if rr, empty := r.Leave("phone"); rr != nil || !empty {
		t.Errorf("leave after drop: %v %v", rr, empty)
	}
}

func TestLastResourceLeaves(t *testing.T) {
	r := newTestRoom("me")
	r.Join(res("pc"), "me", NoHistory)
	r.JoinAgain(res("phone"), "me", NoHistory)
	if _, empty := r.Leave("pc"); empty {
		t.Error("empty with phone still in")
	}
	if _, empty := r.Leave("phone"); !empty || !r.Empty() {
		t.Error("not empty after the last left")
	}
}

func TestReactions(t *testing.T) {
	r := newTestRoom("me")
	steps := []struct {
		nick, reaction string
		remove         bool
		want           string
	}{
		{"bob", "👍", false, "👍"},
		{"bob", "🎉", false, "👍,🎉"},
		{"bob", "👍", false, "🎉,👍"}, // again: moved last, not doubled
		{"bob", "🎉", true, "👍"},
		{"carol", "😂", false, "😂"},
		{"bob", "👍", true, ""},
		{"bob", "🤷", true, ""}, // removing what is not there
	}
	for i, st := range steps {
		got := strings.Join(r.React("m1", st.nick, st.reaction, st.remove), ",")
		if got != st.want {
			t.Errorf("step %d: %s %s remove=%v: set %q, want %q", i, st.nick, st.reaction, st.remove, got, st.want)
		}
	}
	if got := r.Reactions("m1", "carol"); !slices.Equal(got, []string{"😂"}) {
		t.Errorf("carol's reactions %v", got)
	}
	r.SetReactions("m2", "me", []string{"a", "b"})
	if got := r.Reactions("m2", "me"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("set reactions %v", got)
	}
	if r.Reactions("m3", "me") != nil {
		t.Error("reactions to an unknown message")
	}
}

func TestReactionsBounded(t *testing.T) {
	r := newTestRoom("me")
	for i := range ReactionTargets + 2 {
		r.React(transports.RemoteID(fmt.Sprint(i)), "bob", "x", false)
	}
	if r.Reactions("0", "bob") != nil || r.Reactions("1", "bob") != nil {
		t.Error("the oldest targets were kept")
	}
	if got := r.Reactions(transports.RemoteID(fmt.Sprint(ReactionTargets+1)), "bob"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("newest target %v", got)
	}
	if r.reactions.m.Len() != ReactionTargets {
		t.Errorf("%d targets kept; bound %d", r.reactions.m.Len(), ReactionTargets)
	}
}

func TestSubject(t *testing.T) {
	r := newTestRoom("me")
	if r.SawSubject() {
		t.Fatal("subject seen before any")
	}
	select {
	case <-r.SubjectSeen():
		t.Fatal("SubjectSeen closed before any subject")
	default:
	}
	r.SetSubject(transports.SubjectEvent{Room: "#chan", Subject: "one", Nick: "op"})
	r.SetSubject(transports.SubjectEvent{Room: "#chan", Subject: ""}) // a second one must not close twice
	if !r.SawSubject() || r.Subject().Subject != "" || r.Subject().Nick != "" {
		t.Errorf("subject %+v, seen %v", r.Subject(), r.SawSubject())
	}
	select {
	case <-r.SubjectSeen():
	default:
		t.Error("SubjectSeen not closed after a subject")
	}
}

func TestAwayKeptUntilTaken(t *testing.T) {
	r := newTestRoom("me")
	r.KeepAway(transports.MessageEvent{RemoteID: "1", Body: "hi"})
	r.KeepAway(transports.MessageEvent{RemoteID: "2", Body: "there"})
	a := r.TakeAway()
	if got := a.Since(time.Time{}, 0); len(got) != 2 || got[0].RemoteID != "1" {
		t.Errorf("taken %v", got)
	}
	if b := r.TakeAway(); len(b.Since(time.Time{}, 0)) != 0 {
		t.Error("backlog kept after it was taken")
	}
}

func TestOccupantJID(t *testing.T) {
	tests := []struct{ nick, want string }{
		{"bob", "#chan%irc.example.net@irc.example.org/bob"},
		{"", "#chan%irc.example.net@irc.example.org"},
		{"a\u0000b", "#chan%irc.example.net@irc.example.org"}, // cannot be a resourcepart
	}
	r := newTestRoom("me")
	for _, tt := range tests {
		if got := r.OccupantJID(tt.nick); got != tt.want {
			t.Errorf("OccupantJID(%q) = %q, want %q", tt.nick, got, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	r := newTestRoom("me")
	r.SetReady("", transports.RoleParticipant, transports.AffiliationNone)
	for _, ev := range []transports.OccupantEvent{
		{Nick: "op", Role: transports.RoleModerator, Affiliation: transports.AffiliationAdmin},
		{Nick: "voice", Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember},
		{Nick: "plain", Role: transports.RoleNone},
	} {
		r.ApplyOccupant(&ev)
	}
	items := func(role, aff string) string {
		var out []string
		for _, it := range r.Filter(role, aff) {
			out = append(out, it.Nick+":"+it.Role+":"+it.Affiliation)
		}
		return strings.Join(out, ",")
	}
	tests := []struct{ role, aff, want string }{
		{"moderator", "", "op:moderator:admin"},
		{"participant", "", "plain:participant:none,voice:participant:member"}, // RoleNone shows as participant
		{"", "member", "voice:participant:member"},
		{"", "outcast", ""},
		{"", "", "op:moderator:admin,plain:participant:none,voice:participant:member"},
	}
	for _, tt := range tests {
		if got := items(tt.role, tt.aff); got != tt.want {
			t.Errorf("Filter(%q, %q) = %q, want %q", tt.role, tt.aff, got, tt.want)
		}
	}
}

func TestRooms(t *testing.T) {
	u := NewRooms()
	if !u.Idle() || u.Len() != 0 {
		t.Fatal("a new set is not idle")
	}
	a, b := NewRoom("#a", roomJID, nil, "me"), NewRoom("#b", roomJID, nil, "me")
	u.Put(b)
	if !u.PutNew(a) || u.PutNew(NewRoom("#a", roomJID, nil, "other")) {
		t.Error("PutNew")
	}
	if u.Get("#a") != a || u.Get("#c") != nil || !u.Has(a) || u.Has(nil) {
		t.Error("Get/Has")
	}
	if got := []*Room{a, b}; !slices.Equal(u.All(), got) {
		t.Errorf("All not by ID")
	}
	if n, full := u.Full(3); n != 2 || full {
		t.Errorf("Full(3) = %d, %v", n, full)
	}
	if n, full := u.Full(2); n != 2 || !full {
		t.Errorf("Full(2) = %d, %v", n, full)
	}
	// A room joined anew replaces the old one, which Remove leaves alone.
	a2 := NewRoom("#a", roomJID, nil, "me")
	u.Put(a2)
	if u.Has(a) || u.Remove(a) || u.Get("#a") != a2 {
		t.Error("a stale room was removed or still counts")
	}
	if !u.Remove(a2) || !u.Remove(b) || u.Len() != 0 || !u.Idle() {
		t.Error("Remove")
	}
	u.Anon = true
	if u.Idle() {
		t.Error("an anonymous session is idle")
	}
}
