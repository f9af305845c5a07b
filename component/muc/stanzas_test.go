package muc

import (
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

const (
	nsSID   = "urn:xmpp:sid:0"
	nsDelay = "urn:xmpp:delay"
	nsOOB   = "jabber:x:oob"
	nsReply = "urn:xmpp:reply:0"
)

// testRoom is #go on irc.example.net as user me, with bob in it.
func testRoom(t *testing.T) *Room {
	t.Helper()
	r := NewRoom("#go@irc.example.net", jid.MustParse("#go%irc.example.net@irc.example.org"), nil, "me")
	r.ApplyOccupant(&transports.OccupantEvent{Room: r.ID, Nick: "bob", Role: transports.RoleModerator, Affiliation: transports.AffiliationAdmin})
	r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
	return r
}

// TestGroupchatStanza: a room message as one resource gets it, live or as
// history: from the speaker's occupant JID (the user's own nick for their
// echoes), its ids, a delay stamp only for history or old messages, the
// reply and the uploaded files.
func TestGroupchatStanza(t *testing.T) {
	to := jid.MustParse("u@example.org/pc")
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		ev      transports.MessageEvent
		history bool
		check   func(t *testing.T, m *xmltree.Element)
	}{
		{"plain", transports.MessageEvent{Nick: "bob", Body: "hi", RemoteID: "L1"}, false, func(t *testing.T, m *xmltree.Element) {
			if m.Attr("type") != "groupchat" || m.Attr("from") != "#go%irc.example.net@irc.example.org/bob" || m.Attr("to") != to.String() || m.Attr("id") != "L1" || m.ChildText("", "body") != "hi" {
				t.Errorf("message %s", m)
			}
			if sid := m.Child(nsSID, "stanza-id"); sid == nil || sid.Attr("id") != "L1" || sid.Attr("by") != "#go%irc.example.net@irc.example.org" {
				t.Errorf("stanza-id in %s", m)
			}
			if m.Child(nsSID, "origin-id") != nil || m.Child(nsDelay, "delay") != nil {
				t.Errorf("origin-id or delay in %s", m)
			}
		}},
		{"action", transports.MessageEvent{Nick: "bob", Body: "waves", Action: true}, false, func(t *testing.T, m *xmltree.Element) {
			if m.ChildText("", "body") != "/me waves" || m.Child(nsSID, "stanza-id") != nil || len(m.Attr("id")) != 18 {
				t.Errorf("action without a legacy ID: %s", m)
			}
		}},
		{"own echo", transports.MessageEvent{Own: true, EchoOf: "o1", Body: "mine", RemoteID: "L2"}, false, func(t *testing.T, m *xmltree.Element) {
			if m.Attr("from") != "#go%irc.example.net@irc.example.org/me" || m.Attr("id") != "o1" {
				t.Errorf("echo %s", m)
			}
			if o := m.Child(nsSID, "origin-id"); o == nil || o.Attr("id") != "o1" {
				t.Errorf("origin-id in %s", m)
			}
			if sid := m.Child(nsSID, "stanza-id"); sid == nil || sid.Attr("id") != "L2" {
				t.Errorf("stanza-id in %s", m)
			}
		}},
		{"old live message", transports.MessageEvent{Nick: "bob", Body: "late", Time: old}, false, func(t *testing.T, m *xmltree.Element) {
			if d := m.Child(nsDelay, "delay"); d == nil || d.Attr("stamp") != "2026-01-02T03:04:05Z" || d.Attr("from") != "#go%irc.example.net@irc.example.org" {
				t.Errorf("delay in %s", m)
			}
		}},
		{"recent live message", transports.MessageEvent{Nick: "bob", Body: "now", Time: time.Now()}, false, func(t *testing.T, m *xmltree.Element) {
			if m.Child(nsDelay, "delay") != nil {
				t.Errorf("a live message within LiveDelay is stamped: %s", m)
			}
		}},
		{"recent history", transports.MessageEvent{Nick: "bob", Body: "then", Time: time.Now()}, true, func(t *testing.T, m *xmltree.Element) {
			if m.Child(nsDelay, "delay") == nil {
				t.Errorf("history without a delay: %s", m)
			}
		}},
		{"reply and files", transports.MessageEvent{Nick: "bob", Body: "see", ReplyTo: "L1", Attachments: []transports.Attachment{
			{URL: "https://up.example/a.png", Name: "a\u202e.png"}, {Name: "not uploaded"}, {URL: "https://up.example/b"}}}, false, func(t *testing.T, m *xmltree.Element) {
			if r := m.Child(nsReply, "reply"); r == nil || r.Attr("id") != "L1" {
				t.Errorf("reply in %s", m)
			}
			oob := m.ChildrenNamed(nsOOB, "x")
			if len(oob) != 2 || oob[0].ChildText("", "url") != "https://up.example/a.png" || oob[0].ChildText("", "desc") != "a.png" ||
				oob[1].ChildText("", "url") != "https://up.example/b" || oob[1].ChildText("", "desc") != "attachment" {
				t.Errorf("links in %s", m)
			}
		}},
	}
	r := testRoom(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, xmltreetest.Marshal(t, groupchatStanza(r, &tt.ev, to, tt.history)))
		})
	}
}

// TestPresences: the occupant presences a resource gets, with the muc#user
// item and status codes XEP-0045 asks for.
func TestPresences(t *testing.T) {
	to := jid.MustParse("u@example.org/pc")
	r := testRoom(t)
	codes := func(x *xmltree.Element) string {
		var cs []string
		for _, s := range x.ChildrenNamed(NSUser, "status") {
			cs = append(cs, s.Attr("code"))
		}
		return strings.Join(cs, ",")
	}
	tests := []struct {
		name                    string
		p                       any
		typ, from, role, aff, c string
	}{
		{"other occupant", occupantPresence(r, r.Others()[0], to), "", "#go%irc.example.net@irc.example.org/bob", "moderator", "admin", ""},
		{"self", selfPresence(r, to), "", "#go%irc.example.net@irc.example.org/me", "participant", "none", "110"},
		{"self, nick modified", selfPresence(r, to, StatusNickModified), "", "#go%irc.example.net@irc.example.org/me", "participant", "none", "110,210"},
		{"self out, kicked", selfUnavailable(r, "me", to, "", &Item{Reason: "spam"}, StatusKicked), "unavailable", "#go%irc.example.net@irc.example.org/me", "none", "none", "110,307"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := xmltreetest.Marshal(t, tt.p)
			if p.Attr("type") != tt.typ || p.Attr("from") != tt.from || p.Attr("to") != to.String() {
				t.Errorf("presence %s", p)
			}
			x := p.Child(NSUser, "x")
			if x == nil {
				t.Fatalf("no muc#user x in %s", p)
			}
			it := x.Child(NSUser, "item")
			if it == nil || it.Attr("role") != tt.role || it.Attr("affiliation") != tt.aff {
				t.Errorf("item in %s, want role %s, affiliation %s", p, tt.role, tt.aff)
			}
			if got := codes(x); got != tt.c {
				t.Errorf("status codes %q, want %q", got, tt.c)
			}
		})
	}
}

// TestSubjectMessage: the subject comes from the occupant who set it, or
// from the room, and is written even when empty (it ends a join).
func TestSubjectMessage(t *testing.T) {
	to := jid.MustParse("u@example.org/pc")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name              string
		ev                *transports.SubjectEvent
		from, text, stamp string
	}{
		{"none yet", nil, "#go%irc.example.net@irc.example.org", "", ""},
		{"set by bob", &transports.SubjectEvent{Subject: "Go", Nick: "bob", Time: at}, "#go%irc.example.net@irc.example.org/bob", "Go", "2026-01-02T03:04:05Z"},
		{"by the room", &transports.SubjectEvent{Subject: "Topic"}, "#go%irc.example.net@irc.example.org", "Topic", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRoom(t)
			if tt.ev != nil {
				r.SetSubject(*tt.ev)
			}
			m := xmltreetest.Marshal(t, subjectMessage(r, to))
			sub := m.Child("", "subject")
			if m.Attr("type") != "groupchat" || m.Attr("from") != tt.from || sub == nil || sub.Text != tt.text {
				t.Errorf("subject message %s", m)
			}
			d := m.Child(nsDelay, "delay")
			if tt.stamp == "" && d != nil || tt.stamp != "" && (d == nil || d.Attr("stamp") != tt.stamp) {
				t.Errorf("delay in %s, want stamp %q", m, tt.stamp)
			}
		})
	}
}

func TestKeptTime(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := keptTime(at); !got.Equal(at) {
		t.Errorf("keptTime(%v) = %v", at, got)
	}
	before := time.Now()
	if got := keptTime(time.Time{}); got.Before(before) {
		t.Errorf("keptTime(zero) = %v, want now", got)
	}
}
