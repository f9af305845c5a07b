package contacts

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/vcard"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

const nsNick = "http://jabber.org/protocol/nick"

// avatarPNG is a 1×1 PNG.
var avatarPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

func pngHash() string {
	sum := sha1.Sum(avatarPNG)
	return hex.EncodeToString(sum[:])
}

func avatar(id string) *transports.Avatar {
	return &transports.Avatar{ID: id, File: transports.Attachment{Type: "image/png", Size: int64(len(avatarPNG))}}
}

// TestSetProfile: a profile event changes the picture's hash when the
// picture's ID is new, or when there is no picture now and one was
// shown (or none was said yet); the name and description always follow.
func TestSetProfile(t *testing.T) {
	tests := []struct {
		name    string
		before  Profile
		prof    transports.Profile
		changed bool
		after   Profile
	}{
		{"first, no picture", Profile{}, transports.Profile{Name: "Carol"}, true,
			Profile{Name: "Carol", Hashed: true}},
		{"no picture again", Profile{Hashed: true}, transports.Profile{Name: "Carol C", About: "tea"}, false,
			Profile{Name: "Carol C", About: "tea", Hashed: true}},
		{"picture gone", Profile{Avatar: avatar("a1"), Hash: "h1", HashOf: "a1", Hashed: true}, transports.Profile{}, true,
			Profile{Hashed: true}},
		{"new picture", Profile{Hashed: true}, transports.Profile{Avatar: avatar("a1")}, true,
			Profile{Avatar: avatar("a1"), Hashed: true}},
		{"same picture", Profile{Avatar: avatar("a1"), Hash: "h1", HashOf: "a1", Hashed: true}, transports.Profile{Name: "C", Avatar: avatar("a1")}, false,
			Profile{Name: "C", Avatar: avatar("a1"), Hash: "h1", HashOf: "a1", Hashed: true}},
		{"changed picture", Profile{Avatar: avatar("a1"), Hash: "h1", HashOf: "a1", Hashed: true}, transports.Profile{Avatar: avatar("a2")}, true,
			Profile{Avatar: avatar("a2"), Hash: "h1", HashOf: "a1", Hashed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.before
			if got := p.setProfile(tt.prof); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			if !sameProfile(p, tt.after) {
				t.Errorf("profile = %+v, want %+v", p, tt.after)
			}
		})
	}
}

// TestAnswered: a vCard answer's picture hash is kept when it was
// fetched; a picture that could not be fetched leaves the hash alone.
func TestAnswered(t *testing.T) {
	pic := &vcard.Picture{Hash: "h2"}
	tests := []struct {
		name   string
		before Profile
		prof   transports.Profile
		pic    *vcard.Picture
		after  Profile
	}{
		{"no picture", Profile{Hash: "h1", HashOf: "a1", Hashed: true}, transports.Profile{Name: "Carol"}, nil,
			Profile{Name: "Carol", Hashed: true}},
		{"fetched", Profile{}, transports.Profile{Name: "Carol", About: "tea", Avatar: avatar("a2")}, pic,
			Profile{Name: "Carol", About: "tea", Avatar: avatar("a2"), Hash: "h2", HashOf: "a2", Hashed: true}},
		{"not fetched", Profile{Hash: "h1", HashOf: "a1", Hashed: true}, transports.Profile{Avatar: avatar("a2")}, nil,
			Profile{Avatar: avatar("a2"), Hash: "h1", HashOf: "a1", Hashed: true}},
	}
	for _, tt := range tests {
		p := tt.before
		p.answered(tt.prof, tt.pic)
		if !sameProfile(p, tt.after) {
			t.Errorf("%s: profile = %+v, want %+v", tt.name, p, tt.after)
		}
	}
}

func sameProfile(a, b Profile) bool {
	if (a.Avatar == nil) != (b.Avatar == nil) || a.Avatar != nil && a.Avatar.ID != b.Avatar.ID {
		return false
	}
	a.Avatar, b.Avatar = nil, nil
	return a == b
}

// TestPresenceOf: a contact's presence shows its last state and, with
// profiles, its name and picture hash; unknown, it is unavailable.
func TestPresenceOf(t *testing.T) {
	away := &transports.Presence{Show: transports.Away, Status: "lunch"}
	gone := &transports.Presence{Show: transports.Offline, Status: "bye"}
	tests := []struct {
		name     string
		p        Profile
		ok       bool
		profiles bool
		// want: type, show, status, nick ("-" for none), photo ("-"
		// for no update element)
		want [5]string
	}{
		{"unknown", Profile{}, false, true, [5]string{"unavailable", "", "", "-", "-"}},
		{"no presence yet", Profile{Name: "Carol"}, true, true, [5]string{"unavailable", "", "", "Carol", "-"}},
		{"away, named, hashed", Profile{Name: "Carol", Presence: away, Hash: "h1", Hashed: true}, true, true, [5]string{"", "away", "lunch", "Carol", "h1"}},
		{"no picture", Profile{Presence: away, Hashed: true}, true, true, [5]string{"", "away", "lunch", "-", ""}},
		{"offline keeps status", Profile{Presence: gone}, true, true, [5]string{"unavailable", "", "bye", "-", "-"}},
		{"without profiles", Profile{Name: "Carol", Presence: away, Hash: "h1", Hashed: true}, true, false, [5]string{"", "away", "lunch", "-", "-"}},
	}
	f := newFakeCore(t)
	for _, tt := range tests {
		el := f.parse(presenceOf(tt.p, tt.ok, "carol@gw.example.org", "rosa@example.org", tt.profiles))
		got := [5]string{el.Attr("type"), el.ChildText("", "show"), el.ChildText("", "status"), "-", "-"}
		if n := el.Child(nsNick, "nick"); n != nil {
			got[3] = n.Text
		}
		if x := el.Child(vcard.NSUpdate, "x"); x != nil && x.Child(vcard.NSUpdate, "photo") != nil {
			got[4] = x.ChildText(vcard.NSUpdate, "photo")
		}
		if got != tt.want || el.Attr("from") != "carol@gw.example.org" || el.Attr("to") != "rosa@example.org" {
			t.Errorf("%s: %s, want %q", tt.name, el, tt.want)
		}
	}
}

// TestProfileFlow: with profiles, a new picture is fetched and its hash
// goes out with the contact's presence; the same picture again sends
// nothing; a picture that cannot be fetched is shown as none; without
// profiles, profile events do nothing.
func TestProfileFlow(t *testing.T) {
	f := newFakeCore(t)
	f.caps.Profiles = true
	f.file = avatarPNG
	d := NewService(f, testKey)
	rosa := jid.MustParse("rosa@example.org")

	d.PresenceEvent(t.Context(), rosa, &transports.PresenceEvent{From: "carol", Presence: transports.Presence{Show: transports.Away}})
	d.ProfileEvent(t.Context(), rosa, &transports.ProfileEvent{From: "carol", Profile: transports.Profile{Name: "Carol C", Avatar: avatar("a1")}})
	sent := f.take()
	if len(sent) != 2 {
		t.Fatalf("sent %d stanzas, want two presences: %v", len(sent), sent)
	}
	if x := sent[1].Child(vcard.NSUpdate, "x"); sent[1].ChildText("", "show") != "away" || x == nil || x.ChildText(vcard.NSUpdate, "photo") != pngHash() ||
		sent[1].Child(nsNick, "nick") == nil || sent[1].Child(nsNick, "nick").Text != "Carol C" {
		t.Errorf("presence after the picture: %s", sent[1])
	}

	d.ProfileEvent(t.Context(), rosa, &transports.ProfileEvent{From: "carol", Profile: transports.Profile{Name: "Carol D", Avatar: avatar("a1")}})
	if sent := f.take(); len(sent) != 0 {
		t.Errorf("the same picture sent %v", sent)
	}

	f.openErr = errors.New("refused by the egress policy")
	d.ProfileEvent(t.Context(), rosa, &transports.ProfileEvent{From: "carol", Profile: transports.Profile{Avatar: avatar("a2")}})
	sent = f.take()
	if len(sent) != 1 {
		t.Fatalf("sent %v, want one presence", sent)
	}
	if x := sent[0].Child(vcard.NSUpdate, "x"); x == nil || x.Child(vcard.NSUpdate, "photo") == nil || x.ChildText(vcard.NSUpdate, "photo") != "" {
		t.Errorf("presence with an unfetched picture: %s", sent[0])
	}
	if !strings.Contains(f.logs.String(), "avatar not fetched") {
		t.Errorf("the failed fetch was not logged: %s", f.logs.String())
	}

	f.caps.Profiles = false
	d.ProfileEvent(t.Context(), rosa, &transports.ProfileEvent{From: "dave", Profile: transports.Profile{Name: "Dave"}})
	if _, ok := d.book.Get("rosa@example.org", "dave"); ok || len(f.take()) != 0 {
		t.Error("a profile event was taken without profiles")
	}
}

// TestVCard: a contact's vCard comes from the network, picture inline,
// and refreshes the book; what is not a contact, unknown contacts and a
// user without a session get errors.
func TestVCard(t *testing.T) {
	f := newFakeCore(t)
	f.caps.Profiles = true
	f.file = avatarPNG
	d := NewService(f, testKey)
	req := func(to string) *stanza.In {
		el, _ := xmltree.Parse(`<iq xmlns="jabber:component:accept" type="get" id="v1"><vCard xmlns="vcard-temp"/></iq>`)
		return &stanza.In{Element: el, From: jid.MustParse("rosa@example.org/pc"), To: jid.MustParse(to), ID: "v1", Type: "get"}
	}
	condition := func(el *xmltree.Element) string {
		if e := el.Child("", "error"); e != nil && e.First() != nil {
			return e.First().Name.Local
		}
		return ""
	}
	errs := []struct{ to, cond string }{
		{"gw.example.org", "item-not-found"},
		{"carol@gw.example.org/res", "item-not-found"},
		{"server.example@gw.example.org", "feature-not-implemented"},
		{"carol@gw.example.org", "recipient-unavailable"},
	}
	for _, e := range errs {
		d.VCard(req(e.to))
		sent := f.take()
		if len(sent) != 1 || sent[0].Attr("type") != "error" || condition(sent[0]) != e.cond {
			t.Errorf("vCard of %s: %v, want %s", e.to, sent, e.cond)
		}
	}

	f.session = &session{profiles: map[transports.ID]transports.Profile{"carol": {Name: "Carol C", About: "tea", Avatar: avatar("a1")}}}
	d.VCard(req("nobody@gw.example.org"))
	if sent := f.take(); len(sent) != 1 || condition(sent[0]) != "item-not-found" {
		t.Errorf("vCard of an unknown contact: %v", sent)
	}
	d.VCard(req("carol@gw.example.org"))
	sent := f.take()
	if len(sent) != 1 || sent[0].Attr("type") != "result" {
		t.Fatalf("vCard of carol: %v", sent)
	}
	card := sent[0].Child(vcard.NS, "vCard")
	if card == nil || card.ChildText(vcard.NS, "FN") != "Carol C" || card.ChildText(vcard.NS, "DESC") != "tea" {
		t.Fatalf("card: %s", sent[0])
	}
	if photo := card.Child(vcard.NS, "PHOTO"); photo == nil || photo.ChildText(vcard.NS, "BINVAL") != base64.StdEncoding.EncodeToString(avatarPNG) {
		t.Errorf("photo: %s", card)
	}
	if p, ok := d.book.Get("rosa@example.org", "carol"); !ok || p.Name != "Carol C" || p.Hash != pngHash() || p.HashOf != "a1" {
		t.Errorf("book after the vCard: %+v", p)
	}
}
