package component

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"

	"mellium.im/xmpp/disco/items"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

func TestCutUTF8(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // é is 2 bytes: not cut in half
		{"héllo", 3, "hé"},
		{"a😀b", 4, "a"}, // 4-byte rune
		{"a😀b", 5, "a😀"},
		{"abc", 0, ""},
		{"abc", -1, ""},
	}
	for _, tt := range tests {
		if got := stanza.CutUTF8(tt.s, tt.n); got != tt.want {
			t.Errorf("stanza.CutUTF8(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func FuzzCutUTF8(f *testing.F) {
	f.Add("héllo wörld 😀", 7)
	f.Add("\xff\xfe", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := stanza.CutUTF8(s, n)
		if len(got) > max(n, 0) && len(got) > 0 {
			t.Fatalf("stanza.CutUTF8(%q, %d) = %d bytes", s, n, len(got))
		}
		if !strings.HasPrefix(s, got) {
			t.Fatalf("stanza.CutUTF8(%q, %d) = %q, not a prefix", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("stanza.CutUTF8(%q, %d) = %q cuts a rune", s, n, got)
		}
	})
}

func TestFitBoundsEveryStanza(t *testing.T) {
	const target = 128 << 10
	long := strings.Repeat("<&>\"'é\n", 30000)
	links := make([]any, 30)
	for i := range links {
		links[i] = &stanza.OOB{URL: "https://up.example/" + strings.Repeat("u", 10), Desc: long}
	}
	tests := []struct {
		name string
		v    any
	}{
		{"message", &stanza.Message{Type: "chat", From: "a@gw", To: "u@example", Body: long + long, Subject: long, Thread: long, Nick: &stanza.Nick{Nick: long}}},
		{"message with links", &stanza.Message{Type: "chat", From: "a@gw", To: "u@example", Body: long, Extra: links}},
		{"groupchat subject", &stanza.Message{Type: "groupchat", From: "#r@gw/n", To: "u@example", Extra: []any{&stanza.Subject{Text: long}}}},
		{"presence", &stanza.Presence{From: "a@gw", To: "u@example", Status: long, Nick: &stanza.Nick{Nick: long}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fit(tt.v, target)
			if len(b) > target {
				t.Fatalf("%d bytes, over %d", len(b), target)
			}
			d := xml.NewDecoder(bytes.NewReader(b))
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			el, err := xmltree.Read(tok.(xml.StartElement), d, 0)
			if err != nil {
				t.Fatalf("not well-formed after cutting: %v", err)
			}
			for _, name := range []string{"subject", "thread", "status"} {
				if v := el.ChildText("", name); len(v) > maxFieldBytes {
					t.Errorf("<%s/> of %d bytes", name, len(v))
				}
			}
			if n := el.ChildText(nsNick, "nick"); len(n) > maxFieldBytes {
				t.Errorf("nick of %d bytes", len(n))
			}
			if m, ok := tt.v.(*stanza.Message); ok && m.Body != "" && !strings.Contains(el.ChildText("", "body"), "[message cut: ") {
				t.Errorf("cut body without a note: %q…", el.ChildText("", "body")[:40])
			}
		})
	}
	m := tests[1].v.(*stanza.Message)
	if n := len(m.Extra); n != maxLinks {
		t.Errorf("%d links kept, want %d", n, maxLinks)
	}
}

func TestFitCountsLinksBeyondTheLimit(t *testing.T) {
	m := &stanza.Message{Type: "chat", To: "u@example", Body: "files:"}
	for range maxLinks + 7 {
		m.Extra = append(m.Extra, &stanza.OOB{URL: "https://up.example/f"})
	}
	fit(m, 1<<20)
	if len(m.Extra) != maxLinks || !strings.HasSuffix(m.Body, "\n[7 more links not shown]") {
		t.Errorf("%d links, body %q", len(m.Extra), m.Body)
	}
}

func TestMarshalFitRefusesWhatItCannotCut(t *testing.T) {
	iq := &stanza.IQ{ID: "x", Type: "result", To: "u@example", Payload: &discovery.Items{Items: make([]items.Item, 2000)}}
	if _, err := marshalFit(iq, 4<<10); err == nil {
		t.Fatal("an IQ over the limit was accepted")
	}
	if _, err := marshalFit(&stanza.IQ{ID: "x", Type: "result", To: "u@example"}, 4<<10); err != nil {
		t.Fatal(err)
	}
}

// No outgoing element may leave its parent's namespace by accident: a
// name set at run time without a namespace is written as xmlns="" (the
// XEP-0077 legacy fields were).
func TestOutgoingStanzasDeclareNoEmptyNamespace(t *testing.T) {
	reg := &registerQuery{Instructions: "i", Legacy: []regform.LegacyField{{XMLName: xmlName(nsRegister, "username"), Value: "u"}}}
	for _, v := range []any{
		&stanza.IQ{ID: "1", Type: "result", To: "u@example", Payload: reg},
		(&stanzaerr.Error{Type: "cancel", Condition: "forbidden", Text: "no"}).Wire(),
		&stanza.Message{To: "u@example", Extra: []any{&stanza.ChatState{XMLName: xmlName(nsChat, "active")}, stanza.NoStoreHint()}},
		&stanza.Presence{To: "u@example", Caps: &stanza.Caps{}, Nick: &stanza.Nick{Nick: "n"}},
		&stanza.IQ{ID: "2", Type: "result", To: "u@example", Payload: discovery.Room("#r")},
		&stanza.IQ{ID: "3", Type: "result", To: "u@example", Payload: &discovery.Items{Items: make([]items.Item, 1),
			Set: &discovery.Set{First: &discovery.First{Key: "k"}, Last: "k", Count: 1}}},
	} {
		if b := mustMarshal(v); bytes.Contains(b, []byte(`xmlns=""`)) {
			t.Errorf("%T: %s", v, b)
		}
	}
}

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }
