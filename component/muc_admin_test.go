package component_test

import (
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

func TestMUCAdmin(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	e.net.SeedRoom("#ops", transportstest.RoomSeed{
		Occupants: []transports.OccupantEvent{{Nick: "bob", Role: transports.RoleParticipant}},
		Topic:     "", OwnRole: transports.RoleModerator,
	})
	c, a := roomUser(t, e, "zoe")
	ops := "#ops@" + gw
	join(t, c, ops, "zoe", "")
	self := c.Expect(t, "self-presence", isSelfPresence(ops+"/zoe"))
	if self.Find(xMUCUser, "item").Attr("role") != "moderator" {
		t.Errorf("own role: %s", self)
	}
	if s := c.Expect(t, "empty subject", isSubject(ops)); s.ChildText("", "subject") != "" {
		t.Errorf("subject: %s", s)
	}

	res := c.IQ(t, `<iq type="get" to="`+ops+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item role="participant"/></query></iq>`)
	if it := res.Find(qMUCAdmin, "item"); it == nil || it.Attr("nick") != "bob" {
		t.Errorf("participants: %s", res)
	}
	res = c.IQ(t, `<iq type="set" to="`+ops+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="bob" role="none"><reason>spam</reason></item></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("kick: %s", res)
	}
	if ks := a.Kicks(); len(ks) != 1 || ks[0].Op != "kick" || ks[0].Nick != "bob" || ks[0].Reason != "spam" {
		t.Errorf("kicks = %+v", ks)
	}
	k := c.Expect(t, "bob's 307", isPresence(ops, "unavailable"))
	if !hasCodes(k, 307) || k.Attr("from") != ops+"/bob" {
		t.Errorf("kick presence: %s", k)
	}

	// Where the user is no operator, the network's refusal comes back.
	joinAndSync(t, c, testRoom, "zoe")
	res = c.IQ(t, `<iq type="set" to="`+testRoom+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="bob" role="none"/></query></iq>`)
	wantError(t, res, "forbidden", "You're not channel operator")
	res = c.IQ(t, `<iq type="set" to="#elsewhere@`+gw+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="bob" role="none"/></query></iq>`)
	wantError(t, res, "not-acceptable", "not in this room")

	// XEP-0410 self-ping.
	if res := c.IQ(t, `<iq type="get" to="`+testRoom+`/zoe"><ping xmlns="urn:xmpp:ping"/></iq>`); res.Attr("type") != "result" {
		t.Errorf("self-ping: %s", res)
	}
	wantError(t, c.IQ(t, `<iq type="get" to="#elsewhere@`+gw+`/zoe"><ping xmlns="urn:xmpp:ping"/></iq>`), "not-acceptable", "")
}

func TestMUCDiscoveryAndListing(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c, _ := roomUser(t, e, "bea")

	info := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	feats, idents := map[string]bool{}, map[string]bool{}
	q := info.Find(qDiscoInfo)
	for _, ch := range q.ChildrenNamed("", "feature") {
		feats[ch.Attr("var")] = true
	}
	for _, ch := range q.ChildrenNamed("", "identity") {
		idents[ch.Attr("category")+"/"+ch.Attr("type")] = true
	}
	if !feats[nsMUC] || !idents["conference/irc"] || !idents["gateway/irc"] {
		t.Errorf("gateway disco#info: %s", info)
	}
	// The fake network's Capabilities claim reactions and replies.
	for _, f := range []string{"urn:xmpp:reactions:0", "urn:xmpp:reply:0"} {
		if !feats[f] {
			t.Errorf("gateway disco#info lacks %s: %s", f, info)
		}
	}

	info = c.IQ(t, `<iq type="get" to="`+testRoom+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	id := info.Find(qDiscoInfo, "identity")
	if id == nil || id.Attr("category") != "conference" || id.Attr("type") != "text" || id.Attr("name") != "#test" {
		t.Errorf("room identity: %s", info)
	}
	feats = map[string]bool{}
	for _, ch := range info.Find(qDiscoInfo).ChildrenNamed("", "feature") {
		feats[ch.Attr("var")] = true
	}
	for _, f := range []string{nsMUC, "muc_public", "muc_open", "muc_semianonymous", "muc_unmoderated"} {
		if !feats[f] {
			t.Errorf("room feature %s missing: %s", f, info)
		}
	}
	if feats["muc_persistent"] || feats["muc_nonanonymous"] {
		t.Errorf("room claims too much: %s", info)
	}

	server := "irc.example@" + gw
	page := func(set string) ([]string, *testenv.Element) {
		t.Helper()
		res := c.IQ(t, `<iq type="get" to="`+server+`"><query xmlns="http://jabber.org/protocol/disco#items">`+set+`</query></iq>`)
		if res.Attr("type") != "result" {
			t.Fatalf("disco#items: %s", res)
		}
		var jids []string
		for _, it := range res.Find(qDiscoItems).ChildrenNamed("", "item") {
			jids = append(jids, it.Attr("jid"))
		}
		return jids, res.Find(qDiscoItems, elRSMSet)
	}
	rsm := func(inner string) string { return `<set xmlns="http://jabber.org/protocol/rsm">` + inner + `</set>` }
	jids, set := page(rsm(`<max>2</max>`))
	if !slices.Equal(jids, []string{"#room1@" + gw, "#room2@" + gw}) || set.ChildText("", "count") != "5" ||
		set.Find("first").Attr("index") != "0" || set.ChildText("", "last") != "#room2@"+gw {
		t.Fatalf("first page %v %s", jids, set)
	}
	jids, set = page(rsm(`<max>2</max><after>#room2@` + gw + `</after>`))
	if !slices.Equal(jids, []string{"#room3@" + gw, "#room4@" + gw}) || set.Find("first").Attr("index") != "2" {
		t.Fatalf("second page %v %s", jids, set)
	}
	jids, _ = page(rsm(`<max>2</max><after>#room4@` + gw + `</after>`))
	if !slices.Equal(jids, []string{"#room5@" + gw}) {
		t.Fatalf("last page %v", jids)
	}
	jids, _ = page(rsm(`<max>2</max><before/>`))
	if !slices.Equal(jids, []string{"#room4@" + gw, "#room5@" + gw}) {
		t.Fatalf("<before/> page %v", jids)
	}
	all, _ := page("")
	if len(all) != 5 {
		t.Errorf("unpaged listing: %v", all)
	}
	res := c.IQ(t, `<iq type="get" to="`+server+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	if name := res.Find(qDiscoItems, "item").Attr("name"); name != "#room1 (10) Topic 1" {
		t.Errorf("item name %q", name)
	}
	if n := e.net.ListCalls(); n != 1 {
		t.Errorf("ListRooms called %d times, want 1 (cached)", n)
	}
	wantError(t, c.IQ(t, `<iq type="get" to="down.example@`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`), "remote-server-not-found", "connection refused")

	// A user without a session is told to join a room first.
	d := e.user(t, "dan", "pc", 0)
	wantError(t, d.IQ(t, `<iq type="get" to="`+server+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`), "item-not-found", "join a room on that server first")
}
