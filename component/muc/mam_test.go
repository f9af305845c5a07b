package muc

import (
	"encoding/xml"
	"reflect"
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

// TestParseMAMQuery: a query's form, result set and paging become an
// archive query; what no archive could answer is refused with the
// condition XEP-0313 and XEP-0059 ask for.
func TestParseMAMQuery(t *testing.T) {
	room := jid.MustParse("#go%irc.example.net@irc.example.org")
	form := func(fields string) string {
		return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>` + fields + `</x>`
	}
	field := func(name, value string) string {
		return `<field var='` + name + `'><value>` + value + `</value></field>`
	}
	rsm := func(inner string) string { return `<set xmlns='http://jabber.org/protocol/rsm'>` + inner + `</set>` }
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		inner    string
		want     archive.Query
		none     bool
		wantCond string
	}{
		{"empty", "", archive.Query{Max: -1}, false, ""},
		{"start and end", form(field("start", "2026-01-02T03:04:05Z") + field("end", "2026-01-02T04:04:05Z")),
			archive.Query{Max: -1, Start: t0, End: t0.Add(time.Hour)}, false, ""},
		{"with an occupant", form(field("with", room.String()+"/bob")), archive.Query{Max: -1, With: "bob"}, false, ""},
		{"with the room", form(field("with", room.String())), archive.Query{Max: -1}, false, ""},
		{"with someone else", form(field("with", "mona@example.org")), archive.Query{Max: -1}, true, ""},
		{"ids", form(`<field var='ids'><value>a</value><value></value><value> b </value></field>`), archive.Query{Max: -1, IDs: []string{"a", "b"}}, false, ""},
		{"after-id and before-id", form(field("after-id", "a") + field("before-id", "b")), archive.Query{Max: -1, AfterID: "a", BeforeID: "b"}, false, ""},
		{"page after", rsm(`<max>10</max><after>x</after>`), archive.Query{Max: 10, After: "x"}, false, ""},
		{"last page", rsm(`<max>5</max><before/>`), archive.Query{Max: 5, Last: true}, false, ""},
		{"page before", rsm(`<before>y</before>`), archive.Query{Max: -1, Before: "y"}, false, ""},
		{"wrong FORM_TYPE", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`, archive.Query{}, false, "bad-request"},
		{"bad time", form(field("start", "yesterday")), archive.Query{}, false, "bad-request"},
		{"bad with", form(field("with", "@")), archive.Query{}, false, "jid-malformed"},
		{"unknown field", form(field("fulltext", "x")), archive.Query{}, false, "feature-not-implemented"},
		{"bad max", rsm(`<max>-1</max>`), archive.Query{}, false, "bad-request"},
		{"empty after", rsm(`<after/>`), archive.Query{}, false, "bad-request"},
		{"after and before", rsm(`<after>x</after><before>y</before>`), archive.Query{}, false, "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := xmltree.Parse(`<query xmlns='urn:xmpp:mam:2'>` + tt.inner + `</query>`)
			if err != nil {
				t.Fatal(err)
			}
			got, none, serr := parseMAMQuery(q, room)
			if tt.wantCond != "" {
				if serr == nil || serr.Condition != tt.wantCond {
					t.Fatalf("error %v, want %s", serr, tt.wantCond)
				}
				return
			}
			if serr != nil {
				t.Fatal(serr)
			}
			if none != tt.none {
				t.Errorf("none = %v, want %v", none, tt.none)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("query %+v, want %+v", got, tt.want)
			}
		})
	}
}
