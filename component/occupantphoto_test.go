package component_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// photoOfEl is the XEP-0153 photo hash a presence carries and whether it
// carries the update element at all.
func photoOfEl(el *testenv.Element) (hash string, has bool) {
	x := el.Child(nsVCardUpdate, "x")
	if x == nil || x.Child(nsVCardUpdate, "photo") == nil {
		return "", false
	}
	return x.ChildText(nsVCardUpdate, "photo"), true
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// TestMUCOccupantPhotos: on a network with profiles that tells its room
// members apart (the fake, claiming them), an occupant's presence carries
// the XEP-0153 hash of the member's picture, the vCard's (room/nick), once
// the profile cache knows it: nothing is fetched for a presence; the
// first vCard answer, and a later ProfileEvent with a new picture, send
// the occupant's presence again with the hash, and a member without a
// picture shows an empty photo.
func TestMUCOccupantPhotos(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: func(c *transports.Capabilities) {
		c.OccupantIDs, c.PrivateMessages, c.Profiles = true, true, true
	}})
	e.net.SetProfile("u1", transports.Profile{Name: "Ana", Avatar: pngAvatar("a1")})
	e.net.SetProfile("u2", transports.Profile{Name: "Bo"})
	e.net.SeedRoom("#pics", transportstest.RoomSeed{Occupants: []transports.OccupantEvent{
		{Nick: "ana", OccupantID: "u1", Role: transports.RoleParticipant},
		{Nick: "bo", OccupantID: "u2", Role: transports.RoleParticipant},
	}})
	room := "#pics@" + gw
	c, a := roomUser(t, e, "pia")
	join(t, c, room, "me", "")
	for _, nick := range []string{"ana", "bo"} {
		p := c.Expect(t, nick+"'s presence", func(el *testenv.Element) bool {
			return isStanza(el, "presence") && el.Attr("from") == room+"/"+nick
		})
		if h, has := photoOfEl(p); has {
			t.Errorf("%s's first presence carries photo %q before anything is known: %s", nick, h, p)
		}
	}
	c.Expect(t, "self-presence", isSelfPresence(room+"/me"))
	c.Expect(t, "subject", isSubject(room))
	if n := e.net.ProfileCalls(); n != 0 {
		t.Errorf("the join asked the network for %d profiles, want none", n)
	}

	// The first vCard fills the cache: ana's presence shows her hash.
	res := c.IQ(t, `<iq type="get" to="`+room+`/ana"><vCard xmlns="vcard-temp"/></iq>`)
	if res.Attr("type") != "result" || res.Find("{vcard-temp}vCard", "{vcard-temp}PHOTO") == nil {
		t.Fatalf("ana's vCard: %s", res)
	}
	hash := sha1Hex(avatarPNG)
	p := c.Expect(t, "ana's presence with her hash", func(el *testenv.Element) bool {
		h, has := photoOfEl(el)
		return isStanza(el, "presence") && el.Attr("from") == room+"/ana" && has && h == hash
	})
	if occupantIDOfEl(p) == "" || p.Find(xMUCUser) == nil {
		t.Errorf("the update is not a whole occupant presence: %s", p)
	}
	if res := c.IQ(t, `<iq type="get" to="`+room+`/bo"><vCard xmlns="vcard-temp"/></iq>`); res.Attr("type") != "result" {
		t.Fatalf("bo's vCard: %s", res)
	}
	c.Expect(t, "bo's presence with an empty photo", func(el *testenv.Element) bool {
		h, has := photoOfEl(el)
		return isStanza(el, "presence") && el.Attr("from") == room+"/bo" && has && h == ""
	})

	// A new picture on the network: the presence follows.
	newPic := append(bytes.Clone(avatarPNG), 0)
	a.Emit(&transports.ProfileEvent{From: "u1", Profile: transports.Profile{Name: "Ana", Avatar: &transports.Avatar{ID: "a2",
		File: transports.Attachment{Type: "image/png", Size: int64(len(newPic)),
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(newPic)), nil }}}}})
	c.Expect(t, "ana's presence with her new hash", func(el *testenv.Element) bool {
		h, has := photoOfEl(el)
		return isStanza(el, "presence") && el.Attr("from") == room+"/ana" && has && h == sha1Hex(newPic)
	})

	// A second resource joining sees the hashes known by then.
	c2 := e.user(t, "pia", "phone", 0)
	join(t, c2, room, "me", "")
	for nick, want := range map[string]string{"ana": sha1Hex(newPic), "bo": ""} {
		p := c2.Expect(t, nick+"'s presence to the second resource", func(el *testenv.Element) bool {
			return isStanza(el, "presence") && el.Attr("from") == room+"/"+nick
		})
		if h, has := photoOfEl(p); !has || h != want {
			t.Errorf("%s's photo to the second resource = %q (%v), want %q", nick, h, has, want)
		}
	}
}
