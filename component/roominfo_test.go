package component_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const (
	nsData     = "jabber:x:data"
	nsRoomInfo = "http://jabber.org/protocol/muc#roominfo"
)

// roomInfo asks room's disco#info as c and returns its muc#roominfo
// form's fields (var → values), nil when it has none. A form must be an
// XEP-0004 result whose first field is the hidden FORM_TYPE.
func roomInfo(t *testing.T, c *testenv.Client, room string) map[string][]string {
	t.Helper()
	res := c.IQ(t, `<iq type="get" to="`+room+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	q := res.Find(qDiscoInfo)
	if res.Attr("type") != "result" || q == nil {
		t.Fatalf("disco#info of %s: %s", room, res)
	}
	xs := q.ChildrenNamed(nsData, "x")
	if len(xs) == 0 {
		return nil
	}
	if len(xs) != 1 || xs[0].Attr("type") != "result" {
		t.Fatalf("disco#info of %s: want one result form: %s", room, res)
	}
	fields := xs[0].ChildrenNamed(nsData, "field")
	if len(fields) == 0 || fields[0].Attr("var") != "FORM_TYPE" || fields[0].Attr("type") != "hidden" ||
		fields[0].ChildText(nsData, "value") != nsRoomInfo {
		t.Fatalf("disco#info of %s: the form does not start with FORM_TYPE %s: %s", room, nsRoomInfo, res)
	}
	got := make(map[string][]string)
	for _, f := range fields[1:] {
		var vals []string
		for _, v := range f.ChildrenNamed(nsData, "value") {
			vals = append(vals, v.Text)
		}
		got[f.Attr("var")] = vals
	}
	return got
}

// TestMUCRoomInfo: a room's disco#info carries muc#roominfo (XEP-0045
// §6.4) with what the gateway knows and nothing else: nothing for a room
// it knows nothing of; the name and topic a room listing gave; the name,
// topic and occupant count while the user is in the room, as they change.
func TestMUCRoomInfo(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	e.net.SeedRoom("#info", transportstest.RoomSeed{Name: "Info room", Topic: "all about it", Occupants: []transports.OccupantEvent{
		{Nick: "ana", Role: transports.RoleParticipant}, {Nick: "bob", Role: transports.RoleModerator},
	}})
	e.net.SetRoomList("irc.example", []transports.RoomInfo{
		{ID: "#listed", Name: "Listed", Members: 7, Topic: "listed topic"},
		{ID: "#bare", Members: 2},
	})
	c, a := roomUser(t, e, "ria")

	check := func(what, room string, want map[string][]string) {
		t.Helper()
		if got := roomInfo(t, c, room); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: muc#roominfo of %s = %q, want %q", what, room, got, want)
		}
	}
	check("never seen", "#info@"+gw, nil)

	if res := c.IQ(t, `<iq type="get" to="irc.example@`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`); res.Attr("type") != "result" {
		t.Fatalf("listing: %s", res)
	}
	check("listed", "#listed@"+gw, map[string][]string{
		"muc#roomconfig_roomname": {"Listed"}, "muc#roominfo_subject": {"listed topic"}})
	check("listed without name or topic", "#bare@"+gw, map[string][]string{"muc#roomconfig_roomname": {"#bare"}})

	room := "#info@" + gw
	join(t, c, room, "me", "")
	c.Expect(t, "self-presence", isSelfPresence(room+"/me"))
	c.Expect(t, "subject", isSubject(room))
	check("joined", room, map[string][]string{
		"muc#roomconfig_roomname": {"Info room"}, "muc#roominfo_subject": {"all about it"}, "muc#roominfo_occupants": {"3"}})

	a.Emit(&transports.OccupantEvent{Room: "#info", Nick: "cy", Role: transports.RoleParticipant})
	c.Expect(t, "cy's presence", func(el *testenv.Element) bool {
		return isStanza(el, "presence") && el.Attr("from") == room+"/cy"
	})
	a.Emit(&transports.SubjectEvent{Room: "#info", Subject: "new topic", Nick: "bob"})
	c.Expect(t, "new subject", func(el *testenv.Element) bool {
		return isSubject(room)(el) && el.ChildText("", "subject") == "new topic"
	})
	check("after a join and a topic change", room, map[string][]string{
		"muc#roomconfig_roomname": {"Info room"}, "muc#roominfo_subject": {"new topic"}, "muc#roominfo_occupants": {"4"}})

	// Another user, not in the room, learns nothing of it from the first.
	other, _ := roomUser(t, e, "sol")
	if got := roomInfo(t, other, room); got != nil {
		t.Errorf("muc#roominfo for a user not in the room: %q", got)
	}
}
