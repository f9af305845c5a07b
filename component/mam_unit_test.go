package component

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// TestArchivedMessage: an archived entry is forwarded as XEP-0313 asks of
// a MUC archive (from the occupant JID, no 'to'), with what the live
// message carried: stanza-id, origin-id for the user's own, reply, files.
func TestArchivedMessage(t *testing.T) {
	room := jid.MustParse("#go@irc.example")
	tests := []struct {
		name  string
		e     archive.Entry
		check func(t *testing.T, m *xmltree.Element)
	}{
		{"plain", archive.Entry{ID: "L1", Legacy: true, Nick: "bob", Body: "hi", Time: time.Now()}, func(t *testing.T, m *xmltree.Element) {
			if m.Attr("from") != "#go@irc.example/bob" || m.Attr("to") != "" || m.Attr("type") != "groupchat" || m.Attr("id") != "L1" || m.ChildText("", "body") != "hi" {
				t.Errorf("message %s", m)
			}
			if sid := m.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Attr("id") != "L1" || sid.Attr("by") != room.String() {
				t.Errorf("stanza-id in %s", m)
			}
		}},
		{"action", archive.Entry{ID: "L2", Nick: "bob", Body: "waves", Action: true}, func(t *testing.T, m *xmltree.Element) {
			if m.ChildText("", "body") != "/me waves" {
				t.Errorf("body in %s", m)
			}
		}},
		{"own", archive.Entry{ID: "L3", Nick: "me", Body: "mine", Own: true, OriginID: "o3"}, func(t *testing.T, m *xmltree.Element) {
			if m.Attr("id") != "o3" || m.Child("urn:xmpp:sid:0", "origin-id").Attr("id") != "o3" {
				t.Errorf("own message %s", m)
			}
		}},
		{"reply and files", archive.Entry{ID: "L4", Nick: "bob", Body: "see", ReplyTo: "L1",
			Links: []archive.Link{{URL: "https://up.example/a.png", Name: "a.png"}, {URL: "https://up.example/b"}}}, func(t *testing.T, m *xmltree.Element) {
			if r := m.Child("urn:xmpp:reply:0", "reply"); r == nil || r.Attr("id") != "L1" {
				t.Errorf("reply in %s", m)
			}
			oob := m.ChildrenNamed("jabber:x:oob", "x")
			if len(oob) != 2 || oob[0].ChildText("", "url") != "https://up.example/a.png" || oob[0].ChildText("", "desc") != "a.png" || oob[1].ChildText("", "url") != "https://up.example/b" {
				t.Errorf("links in %s", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := xml.Marshal(archivedMessage(room, tt.e))
			if err != nil {
				t.Fatal(err)
			}
			d := xml.NewDecoder(strings.NewReader(string(b)))
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			m, err := xmltree.Read(tok.(xml.StartElement), d, 1<<16)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Is("jabber:client", "message") {
				t.Fatalf("forwarded %s, want a jabber:client message", m)
			}
			tt.check(t, m)
		})
	}
}

func TestWithAwayNotes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(body string, min int) transports.MessageEvent {
		return transports.MessageEvent{Body: body, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	bodies := func(evs []transports.MessageEvent) string {
		var b []string
		for _, e := range evs {
			b = append(b, e.Body)
		}
		return strings.Join(b, ",")
	}
	tests := []struct {
		name           string
		history, notes []transports.MessageEvent
		max            int
		want           string
	}{
		{"no notes", []transports.MessageEvent{ev("a", 1)}, nil, 5, "a"},
		{"none", nil, nil, 5, ""},
		{"only notes", nil, []transports.MessageEvent{ev("n", 1)}, 5, "n"},
		{"interleaved", []transports.MessageEvent{ev("a", 1), ev("b", 3)}, []transports.MessageEvent{ev("n", 2), ev("m", 4)}, 5, "a,n,b,m"},
		{"tie: archive first", []transports.MessageEvent{ev("a", 1)}, []transports.MessageEvent{ev("n", 1)}, 5, "a,n"},
		{"bounded", []transports.MessageEvent{ev("a", 1), ev("b", 3)}, []transports.MessageEvent{ev("n", 2), ev("m", 4)}, 2, "b,m"},
	}
	for _, tt := range tests {
		if got := bodies(withAwayNotes(tt.history, tt.notes, tt.max)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if withAwayNotes(nil, nil, 5) != nil {
		t.Error("empty history is not nil: the away note would be shown")
	}
}
