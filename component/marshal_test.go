package component

import (
	"bytes"
	"encoding/xml"
	"runtime"
	"testing"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
)

// nsAttrs has attributes in namespaces, for which an Encoder declares
// prefixes while it writes the element.
type nsAttrs struct {
	XMLName xml.Name `xml:"urn:example:outer thing"`
	Lang    string   `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	A       string   `xml:"urn:example:a id,attr,omitempty"`
	Inner   *struct {
		XMLName xml.Name `xml:"urn:example:inner in"`
		B       string   `xml:"urn:example:b id,attr,omitempty"`
		Text    string   `xml:",chardata"`
	}
}

// TestMarshalerAsXMLMarshal: one pooled marshaler encoding value after
// value writes each exactly as xml.Marshal does on its own, whatever it
// encoded before.
func TestMarshalerAsXMLMarshal(t *testing.T) {
	withInner := &nsAttrs{Lang: "en", A: "1"}
	withInner.Inner = &struct {
		XMLName xml.Name `xml:"urn:example:inner in"`
		B       string   `xml:"urn:example:b id,attr,omitempty"`
		Text    string   `xml:",chardata"`
	}{B: "2", Text: "a < b & c"}
	values := []struct {
		name string
		v    any
	}{
		{"message", &stanza.Message{Type: "groupchat", ID: "m1", From: "#c%irc.example.net@irc.example.org/alice", To: "u@example.org/r", Body: "hi <there> & \"you\""}},
		{"namespaced attributes", withInner},
		{"the same again", withInner},
		{"presence with muc#user", &stanza.Presence{From: "#c%irc.example.net@irc.example.org/bob", To: "u@example.org/r",
			Extra: []any{&muc.UserX{Item: &muc.Item{Affiliation: "none", Role: "participant"}, Status: muc.Statuses(110)}}}},
		{"only a prefix-less attribute", &nsAttrs{A: "x"}},
		{"iq", &stanza.IQ{ID: "q", Type: "result", From: "irc.example.org", To: "irc.example.org"}},
	}
	m := newMarshaler()
	for round := range 2 {
		for _, v := range values {
			want, err := xml.Marshal(v.v)
			if err != nil {
				t.Fatalf("%s: xml.Marshal: %v", v.name, err)
			}
			got, err := m.marshal(v.v)
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, v.name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("round %d, %s:\n got %s\nwant %s", round, v.name, got, want)
			}
		}
	}
	if _, err := m.marshal(make(chan int)); err == nil {
		t.Error("marshal of a channel: no error")
	}
}

func TestMustMarshalPanicsOnError(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("mustMarshal of a channel did not panic")
		}
	}()
	mustMarshal(make(chan int))
}

// TestMustMarshalReusesItsBuffer: a small stanza costs less than the
// 4 KiB write buffer xml.Marshal allocates for each value.
func TestMustMarshalReusesItsBuffer(t *testing.T) {
	iq := &stanza.IQ{ID: "q", Type: "result", From: "irc.example.org", To: "irc.example.org"}
	mustMarshal(iq) // the pool's first marshaler
	const runs = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		mustMarshal(iq)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per >= 4096 {
		t.Errorf("%d bytes allocated per small stanza, want less than xml.Marshal's 4 KiB buffer", per)
	}
}
