package component_test

import (
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestMUCReferencesToGatewayIDs: a room message the network gave no ID
// carries a stanza-id (and id) the gateway made; a reply to it reaches the
// network without the reference, and a correction, retraction, moderation
// or reaction naming it is refused with item-not-found and a text, the
// network never handed the gateway's ID. A message with a legacy ID is
// the control: the same stanzas reach the network with its ID.
func TestMUCReferencesToGatewayIDs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		bounds *archive.Bounds
	}{{"no archive", nil}, {"archive (its ID is the stanza-id)", &archive.Bounds{}}} {
		t.Run(tt.name, func(t *testing.T) { testReferencesToGatewayIDs(t, tt.bounds) })
	}
}

func testReferencesToGatewayIDs(t *testing.T, bounds *archive.Bounds) {
	e := newEnv(t, envOptions{rooms: true, archive: bounds, caps: func(c *transports.Capabilities) {
		c.Corrections, c.Retractions, c.Moderation = true, true, true
	}})
	e.net.SeedRoom("#test", transportstest.RoomSeed{
		Occupants: []transports.OccupantEvent{{Room: "#test", Nick: "bob", Role: transports.RoleParticipant}},
		OwnRole:   transports.RoleModerator,
	})
	c, a := roomUser(t, e, "kim")
	joinAndSync(t, c, testRoom, "kim")

	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "no id here"})
	m := c.Expect(t, "bob's message without a legacy ID", isGroupchat(testRoom+"/bob", "no id here"))
	sidEl := m.Find("{urn:xmpp:sid:0}stanza-id")
	if sidEl == nil || sidEl.Attr("id") == "" || sidEl.Attr("by") != testRoom || m.Attr("id") != sidEl.Attr("id") {
		t.Fatalf("message = %s, want a stanza-id by the room, the same as its id", m)
	}
	made := sidEl.Attr("id")
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "with id", RemoteID: "b1"})
	c.Expect(t, "bob's message with a legacy ID", isGroupchat(testRoom+"/bob", "with id"))

	// Replies: the legacy ID is passed on, the gateway's never.
	for _, tt := range []struct{ ref, want string }{{made, ""}, {"b1", "b1"}} {
		c.Send(t, `<message type="groupchat" id="r-`+tt.ref+`" to="`+testRoom+`"><body>re</body>`+
			`<reply xmlns="`+nsReply+`" to="`+testRoom+`/bob" id="`+tt.ref+`"/></message>`)
		if got := nextSent(t, a); got.Body != "re" || got.ReplyTo != transports.RemoteID(tt.want) {
			t.Errorf("reply to %s sent as %+v, want body re and ReplyTo %q", tt.ref, got, tt.want)
		}
	}

	refused := []struct{ name, id, stanza string }{
		{"correction", "x1", `<message type="groupchat" id="x1" to="` + testRoom + `"><body>fixed</body><replace xmlns="` + nsCorrect + `" id="` + made + `"/></message>`},
		{"retraction", "x2", `<message type="groupchat" id="x2" to="` + testRoom + `"><retract xmlns="` + nsRetract + `" id="` + made + `"/>` +
			`<fallback xmlns="` + nsFallback + `" for="` + nsRetract + `"/><body>retracted</body></message>`},
		{"reaction", "x3", `<message type="groupchat" id="x3" to="` + testRoom + `"><reactions xmlns="` + nsReactions + `" id="` + made + `"><reaction>👍</reaction></reactions></message>`},
	}
	for _, tt := range refused {
		c.Send(t, tt.stanza)
		wantError(t, c.Expect(t, tt.name+" refused", isErrorReply(tt.id)), "item-not-found", "gave that message no ID")
	}
	res := c.IQ(t, `<iq type="set" to="`+testRoom+`"><moderate xmlns="`+nsModerate+`" id="`+made+`">`+
		`<retract xmlns="`+nsRetract+`"/><reason>r</reason></moderate></iq>`)
	wantError(t, res, "item-not-found", "gave that message no ID")
	noSend(t, a, 300*time.Millisecond)
	if got := a.Edits(); len(got) != 0 {
		t.Errorf("edits = %+v, want none", got)
	}
	if got := a.Retractions(); len(got) != 0 {
		t.Errorf("retractions = %+v, want none", got)
	}
	if got := a.Reactions(); len(got) != 0 {
		t.Errorf("reactions = %+v, want none", got)
	}

	// The control: a moderation naming the legacy ID reaches the network.
	if res := c.IQ(t, `<iq type="set" to="`+testRoom+`"><moderate xmlns="`+nsModerate+`" id="b1">`+
		`<retract xmlns="`+nsRetract+`"/></moderate></iq>`); res.Attr("type") != "result" {
		t.Errorf("moderation of b1: %s", res)
	}
	if got := a.Retractions(); len(got) != 1 || got[0].Target != "b1" {
		t.Errorf("retractions = %+v, want b1's", got)
	}
}

// TestMUCOwnMessagesWithoutIDs: on a network that gives messages no IDs
// (IRC without msgid), the user's own room message is known to have
// none: a reply to it goes without the reference and a reaction to it is
// refused, instead of the client's own id reaching the network as if it
// were the network's.
func TestMUCOwnMessagesWithoutIDs(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	e.net.Unnamed = true
	c, a := roomUser(t, e, "lou")
	joinAndSync(t, c, testRoom, "lou")
	c.Send(t, `<message type="groupchat" id="own1" to="`+testRoom+`"><body>mine</body></message>`)
	if got := nextSent(t, a); got.Body != "mine" {
		t.Fatalf("sent %+v", got)
	}
	c.Expect(t, "reflection", isGroupchat(testRoom+"/lou", "mine"))

	c.Send(t, `<message type="groupchat" id="re1" to="`+testRoom+`"><body>re</body>`+
		`<reply xmlns="`+nsReply+`" to="`+testRoom+`/lou" id="own1"/></message>`)
	if got := nextSent(t, a); got.Body != "re" || got.ReplyTo != "" {
		t.Errorf("reply sent as %+v, want no ReplyTo", got)
	}
	c.Send(t, `<message type="groupchat" id="x1" to="`+testRoom+`"><reactions xmlns="`+nsReactions+`" id="own1"><reaction>👍</reaction></reactions></message>`)
	wantError(t, c.Expect(t, "reaction refused", isErrorReply("x1")), "item-not-found", "gave that message no ID")
	if got := a.Reactions(); len(got) != 0 {
		t.Errorf("reactions = %+v, want none", got)
	}
}
