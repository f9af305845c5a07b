package component_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// avatarPNG is a 1×1 PNG, the picture of the fake network's contacts.
var avatarPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

const (
	nsVCard       = "vcard-temp"
	nsVCardUpdate = "vcard-temp:x:update"
	nsNickTest    = "http://jabber.org/protocol/nick"
)

func pngAvatar(id string) *transports.Avatar {
	return &transports.Avatar{ID: id, File: transports.Attachment{Type: "image/png", Size: int64(len(avatarPNG)),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(avatarPNG)), nil }}}
}

// TestProfilesRosterAndServers: over real Prosody, a network with
// profiles, a contact list and servers (the fake) shows its contacts'
// names and pictures (vCard, XEP-0153 hash in presence, XEP-0172 nick),
// asks the user to add its contact list to the roster (and takes out what
// the list loses), and lists the user's servers on the gateway's
// disco#items.
func TestProfilesRosterAndServers(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: func(c *transports.Capabilities) {
		c.Profiles, c.Contacts, c.ServerListing = true, true, true
	}})
	e.net.SetContacts([]transports.Contact{{ID: "carol", Name: "Carol C"}, {ID: "dave"}})
	e.net.SetServers([]transports.ServerInfo{{ID: "irc.example.net", Name: "Example Net"}, {ID: "chat.example.org"}})
	e.net.SetProfile("carol", transports.Profile{Name: "Carol C", About: "likes <xml> & tea", Avatar: pngAvatar("a1")})

	user := e.user(t, "paula", "pc", 0)
	e.register(t, user)
	a := e.adapter(t, "paula@localhost")

	// The contact list: one subscription request per contact, named.
	sub := user.Expect(t, "carol's subscription request", isPresence("carol@"+gw, "subscribe"))
	if n := sub.Child(nsNickTest, "nick"); n == nil || n.Text != "Carol C" {
		t.Errorf("carol's request has no nick Carol C: %s", sub)
	}
	user.Expect(t, "dave's subscription request", isPresence("dave@"+gw, "subscribe"))
	// The user accepts dave, as a client's dialog does.
	user.Send(t, `<presence to="dave@`+gw+`" type="subscribed"/>`)
	user.Send(t, `<presence to="dave@`+gw+`" type="subscribe"/>`)
	waitSubscription(t, user, "dave@"+gw, "both")

	// The servers, by name, on the gateway's items.
	res := user.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	got := map[string]string{}
	for _, it := range res.Find(qDiscoItems).ChildrenNamed("http://jabber.org/protocol/disco#items", "item") {
		got[it.Attr("jid")] = it.Attr("name")
	}
	if len(got) != 2 || got["irc.example.net@"+gw] != "Example Net" {
		t.Errorf("gateway items = %v, want the two servers, Example Net by name", got)
	}

	// The vCard, picture inline.
	res = user.IQ(t, `<iq type="get" to="carol@`+gw+`"><vCard xmlns="vcard-temp"/></iq>`)
	card := res.Child(nsVCard, "vCard")
	if res.Attr("type") != "result" || card == nil {
		t.Fatalf("vCard of carol: %s", res)
	}
	if card.ChildText(nsVCard, "FN") != "Carol C" || card.ChildText(nsVCard, "DESC") != "likes <xml> & tea" {
		t.Errorf("vCard names: %s", card)
	}
	photo := card.Child(nsVCard, "PHOTO")
	if photo == nil || photo.ChildText(nsVCard, "TYPE") != "image/png" || photo.ChildText(nsVCard, "BINVAL") != base64.StdEncoding.EncodeToString(avatarPNG) {
		t.Errorf("vCard photo: %s", card)
	}
	res = user.IQ(t, `<iq type="get" to="nobody@`+gw+`"><vCard xmlns="vcard-temp"/></iq>`)
	wantError(t, res, "item-not-found", "no such contact")

	// A new picture and a presence: the presence carries the hash and
	// the name.
	sum := sha1.Sum(avatarPNG)
	hash := hex.EncodeToString(sum[:])
	a.Emit(&transports.ProfileEvent{From: "carol", Profile: transports.Profile{Name: "Carol C", Avatar: pngAvatar("a2")}})
	a.Emit(&transports.PresenceEvent{From: "carol", Presence: transports.Presence{Show: transports.Away, Status: "lunch"}})
	pres := user.Expect(t, "carol away with her avatar hash", func(el *testenv.Element) bool {
		x := el.Child(nsVCardUpdate, "x")
		return isPresence("carol@"+gw, "")(el) && el.ChildText("", "show") == "away" && x != nil && x.ChildText(nsVCardUpdate, "photo") == hash
	})
	if n := pres.Child(nsNickTest, "nick"); n == nil || n.Text != "Carol C" {
		t.Errorf("presence has no nick: %s", pres)
	}
	// No picture any more: an empty photo element.
	a.Emit(&transports.ProfileEvent{From: "carol", Profile: transports.Profile{Name: "Carol C"}})
	user.Expect(t, "carol without a picture", func(el *testenv.Element) bool {
		x := el.Child(nsVCardUpdate, "x")
		return isPresence("carol@"+gw, "")(el) && x != nil && x.Child(nsVCardUpdate, "photo") != nil && x.ChildText(nsVCardUpdate, "photo") == ""
	})

	// The list changes: dave leaves it, erin joins it.
	a.Emit(&transports.ContactEvent{Contact: transports.Contact{ID: "dave"}, Removed: true})
	waitSubscription(t, user, "dave@"+gw, "none", "")
	a.Emit(&transports.ContactEvent{Contact: transports.Contact{ID: "erin", Name: "Erin"}})
	user.Expect(t, "erin's subscription request", isPresence("erin@"+gw, "subscribe"))

	// A new session asks only for what it did not ask for before.
	e.net.SetContacts([]transports.Contact{{ID: "carol"}, {ID: "erin"}, {ID: "frank"}})
	a.Drop(transports.ErrUnavailable)
	deadline := time.Now().Add(15 * time.Second)
	for e.net.Adapter("paula@localhost") == a || e.net.Adapter("paula@localhost") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the session was not reconnected")
		}
		time.Sleep(50 * time.Millisecond)
	}
	user.Expect(t, "frank's subscription request", isPresence("frank@"+gw, "subscribe"))
	user.ExpectNone(t, time.Second, func(el *testenv.Element) bool {
		return isPresence("carol@"+gw, "subscribe")(el) || isPresence("erin@"+gw, "subscribe")(el)
	})
}

// TestNoProfilesNoVCard: a network without profiles answers no vCard
// (as before profiles existed) and lists no servers.
func TestNoProfilesNoVCard(t *testing.T) {
	e := newEnv(t, envOptions{})
	user := e.user(t, "quinn", "pc", 0)
	e.register(t, user)
	e.adapter(t, "quinn@localhost")
	res := user.IQ(t, `<iq type="get" to="carol@`+gw+`"><vCard xmlns="vcard-temp"/></iq>`)
	wantError(t, res, "service-unavailable", "vcard-temp")
	res = user.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	if items := res.Find(qDiscoItems).Children; res.Attr("type") != "result" || len(items) != 0 {
		t.Errorf("gateway items without server listing: %s", res)
	}
}
