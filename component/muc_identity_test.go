package component_test

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const nsOccupantID = "urn:xmpp:occupant-id:0"

// wantOccupantID is XEP-0421's id the gateway gives the member known to
// the network as key ("id:<OccupantID>" or "nick:<nick>") in room,
// computed here independently of the component.
func wantOccupantID(room, key string) string {
	sum := sha256.Sum256([]byte(room + "\x00" + key))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

func occupantIDOfEl(el *testenv.Element) string {
	if o := el.Child(nsOccupantID, "occupant-id"); o != nil {
		return o.Attr("id")
	}
	return ""
}

// TestMUCOccupantIdentity: on a network that gives occupant IDs and
// room names and lets the user change nick (the fake, claiming them), two
// members whose display names look alike are two occupants with their
// own stable XEP-0421 occupant-id (the same on their messages), the
// room's disco#info shows its name and advertises occupant-id, and the
// user's nick change reaches the network and comes back as XEP-0045
// §7.6 says; a nick in use is refused with conflict.
func TestMUCOccupantIdentity(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: func(c *transports.Capabilities) {
		c.OccupantIDs, c.NickChange, c.PrivateMessages, c.Profiles = true, true, true, true
	}})
	e.net.SetProfile("u2", transports.Profile{Name: "Ana Two", About: "the second ana"})
	e.net.SeedRoom("#ids", transportstest.RoomSeed{Name: "Ana's room", OwnOccupantID: "me-1", Occupants: []transports.OccupantEvent{
		{Nick: "ana", OccupantID: "u1", Role: transports.RoleParticipant,
			Hats: []transports.Hat{{ID: "r 1", Title: "Mods", Hue: 240}, {ID: "r2", Title: "Helpers", Hue: -1}}},
		{Nick: "ana (2)", OccupantID: "u2", Role: transports.RoleParticipant},
		{Nick: "guest", Role: transports.RoleParticipant},
	}})
	room := "#ids@" + gw
	c, a := roomUser(t, e, "vera")
	join(t, c, room, "me", "")
	for _, tt := range []struct{ nick, key string }{{"ana", "id:u1"}, {"ana (2)", "id:u2"}, {"guest", "nick:guest"}} {
		p := c.Expect(t, tt.nick+"'s presence", func(el *testenv.Element) bool {
			return isStanza(el, "presence") && el.Attr("from") == room+"/"+tt.nick
		})
		if got, want := occupantIDOfEl(p), wantOccupantID(room, tt.key); got != want {
			t.Errorf("%s's occupant-id = %q, want %q", tt.nick, got, want)
		}
		var hats []string
		if h := p.Child("urn:xmpp:hats:0", "hats"); h != nil {
			for _, hat := range h.ChildrenNamed("urn:xmpp:hats:0", "hat") {
				hats = append(hats, hat.Attr("title")+"|"+hat.Attr("uri")+"|"+hat.Attr("hue"))
			}
		}
		want := []string(nil)
		if tt.nick == "ana" {
			want = []string{"Mods|xmpp:" + room + "?hat=r+1|240.0", "Helpers|xmpp:" + room + "?hat=r2|"}
		}
		if !slices.Equal(hats, want) {
			t.Errorf("%s's hats = %q, want %q", tt.nick, hats, want)
		}
	}
	self := c.Expect(t, "self-presence", isSelfPresence(room+"/me"))
	if got, want := occupantIDOfEl(self), wantOccupantID(room, "id:me-1"); got != want {
		t.Errorf("own occupant-id = %q, want %q", got, want)
	}
	c.Expect(t, "subject", isSubject(room))

	a.Emit(&transports.MessageEvent{From: "#ids", Room: true, Nick: "ana (2)", Body: "hello", RemoteID: "m1"})
	m := c.Expect(t, "ana (2)'s message", isGroupchat(room+"/ana (2)", "hello"))
	if got, want := occupantIDOfEl(m), wantOccupantID(room, "id:u2"); got != want {
		t.Errorf("message occupant-id = %q, want %q (the speaker's)", got, want)
	}

	info := c.IQ(t, `<iq type="get" to="`+room+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	id := info.Find(qDiscoInfo, "identity")
	if id == nil || id.Attr("name") != "Ana's room" {
		t.Errorf("room identity: %s", info)
	}
	found := false
	for _, f := range info.Find(qDiscoInfo).ChildrenNamed("http://jabber.org/protocol/disco#info", "feature") {
		found = found || f.Attr("var") == nsOccupantID
	}
	if !found {
		t.Errorf("the room does not advertise occupant-id: %s", info)
	}

	// A private message through the room reaches the member one to one,
	// by their occupant ID; nobody of that nick is an error.
	c.Send(t, `<message type="chat" to="`+room+`/ana (2)"><body>psst</body></message>`)
	select {
	case sent := <-a.Sent():
		if sent.To != "u2" || sent.Room || sent.Body != "psst" {
			t.Errorf("private message sent as %+v, want to u2 one to one", sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the private message did not reach the network")
	}
	c.Send(t, `<message type="chat" to="`+room+`/nobody" id="pm2"><body>hello?</body></message>`)
	pe := c.Expect(t, "error for a private message to nobody", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "pm2"
	})
	if cond, _ := errorCondition(pe); cond != "item-not-found" {
		t.Errorf("private message to nobody: %s, want item-not-found", pe)
	}

	// A member's vCard is the profile of the member behind the nick.
	res := c.IQ(t, `<iq type="get" to="`+room+`/ana (2)"><vCard xmlns="vcard-temp"/></iq>`)
	if card := res.Child("vcard-temp", "vCard"); res.Attr("type") != "result" || card == nil || card.ChildText("vcard-temp", "FN") != "Ana Two" {
		t.Errorf("vCard of ana (2): %s", res)
	}
	res = c.IQ(t, `<iq type="get" to="`+room+`/nobody"><vCard xmlns="vcard-temp"/></iq>`)
	if cond, _ := errorCondition(res); cond != "item-not-found" {
		t.Errorf("vCard of nobody: %s", res)
	}

	// The user's nick change.
	c.Send(t, `<presence to="`+room+`/newme"/>`)
	gone := c.Expect(t, "old nick unavailable with 303", func(el *testenv.Element) bool {
		return isPresence(room, "unavailable")(el) && el.Attr("from") == room+"/me" && hasCodes(el, 110, 303)
	})
	if it := gone.Find("{"+nsMUCUser+"}x", "{"+nsMUCUser+"}item"); it == nil || it.Attr("nick") != "newme" {
		t.Errorf("303 presence names no new nick: %s", gone)
	}
	c.Expect(t, "self-presence under the new nick", isSelfPresence(room+"/newme"))
	if got := a.Nick("#ids"); got != "newme" {
		t.Errorf("the network's nick is %q, want newme", got)
	}
	// A nick in use.
	c.Send(t, `<presence to="`+room+`/ana"/>`)
	errp := c.Expect(t, "conflict", func(el *testenv.Element) bool {
		return isStanza(el, "presence") && el.Attr("type") == "error" && el.Attr("from") == room+"/ana"
	})
	if cond, _ := errorCondition(errp); cond != "conflict" {
		t.Errorf("nick in use: %s, want conflict", errp)
	}
}

// TestMUCMentionInRoomNotJoined: a network whose session sees rooms the
// user never joined here (Discord's guild channels) mentions the user in
// one: the mention reaches the user, from the speaker's occupant address,
// and the room's other chatter does not.
func TestMUCMentionInRoomNotJoined(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c, a := roomUser(t, e, "wanda")
	c.Send(t, `<presence/>`)
	a.Emit(&transports.MessageEvent{From: "#elsewhere", Room: true, Nick: "bob", Body: "just chatter", RemoteID: "e1"})
	a.Emit(&transports.MessageEvent{From: "#elsewhere", Room: true, Nick: "bob", Body: "wanda: look here", RemoteID: "e2", Mention: true})
	m := c.Expect(t, "the mention", func(el *testenv.Element) bool {
		return isStanza(el, "message") && bodyOf(el) == "wanda: look here"
	})
	if m.Attr("from") != "#elsewhere@"+gw+"/bob" || m.Attr("type") != "chat" {
		t.Errorf("mention: %s", m)
	}
	c.ExpectNone(t, time.Second, func(el *testenv.Element) bool { return bodyOf(el) == "just chatter" })
}
