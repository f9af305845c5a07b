package stanza

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// TestMarshal pins the wire form of every stanza and element: the
// component and the protocol packages rely on these names, and moving
// the types here had to leave the bytes as they were.
func TestMarshal(t *testing.T) {
	tests := []struct {
		name         string
		v            any
		space, local string
		want         string
	}{
		{"iq", &IQ{ID: "1", Type: "get", From: "gw.example", To: "u@example/pc", Payload: &Reply{ID: "r"}}, "", "iq",
			`<iq id="1" type="get" from="gw.example" to="u@example/pc"><reply xmlns="urn:xmpp:reply:0" id="r"></reply></iq>`},
		{"message", &Message{ID: "m", Type: "groupchat", From: "#c@gw/n", To: "u@example", Lang: "en", Body: "hi", Thread: "t",
			Nick: &Nick{Nick: "n"}, Delay: &Delay{From: "gw", Stamp: "2026-01-02T03:04:05Z"},
			StanzaID: &StanzaID{ID: "s", By: "#c@gw"}, OriginID: &OriginID{ID: "o"},
			Extra: []any{&Subject{}, &ChatState{XMLName: xml.Name{Space: NSChat, Local: "active"}}, StoreHint()}}, "", "message",
			`<message id="m" type="groupchat" from="#c@gw/n" to="u@example" xml:lang="en"><body>hi</body><thread>t</thread>` +
				`<nick xmlns="http://jabber.org/protocol/nick">n</nick><delay xmlns="urn:xmpp:delay" from="gw" stamp="2026-01-02T03:04:05Z"></delay>` +
				`<stanza-id xmlns="urn:xmpp:sid:0" id="s" by="#c@gw"></stanza-id><origin-id xmlns="urn:xmpp:sid:0" id="o"></origin-id>` +
				`<subject></subject><active xmlns="http://jabber.org/protocol/chatstates"></active><store xmlns="urn:xmpp:hints"></store></message>`},
		{"message empty subject field left out", &Message{To: "u@example"}, "", "message", `<message to="u@example"></message>`},
		{"presence", &Presence{Type: "unavailable", To: "u@example", Show: "away", Status: "s", Priority: "1",
			Caps: &Caps{Hash: "sha-1", Node: "n", Ver: "v"}}, "", "presence",
			`<presence type="unavailable" to="u@example"><show>away</show><status>s</status><priority>1</priority>` +
				`<c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v"></c></presence>`},
		{"reactions", &Reactions{ID: "x", Reactions: []string{"👍", "🎉"}}, NSReactions, "reactions",
			`<reactions xmlns="urn:xmpp:reactions:0" id="x"><reaction>👍</reaction><reaction>🎉</reaction></reactions>`},
		{"reply", &Reply{ID: "x", To: "a@b"}, NSReply, "reply", `<reply xmlns="urn:xmpp:reply:0" id="x" to="a@b"></reply>`},
		{"no-store", NoStoreHint(), NSHints, "no-store", `<no-store xmlns="urn:xmpp:hints"></no-store>`},
		{"oob", &OOB{URL: "https://f/x", Desc: "d"}, NSOOB, "x", `<x xmlns="jabber:x:oob"><url>https://f/x</url><desc>d</desc></x>`},
		{"oob without desc", &OOB{URL: "https://f/x"}, NSOOB, "x", `<x xmlns="jabber:x:oob"><url>https://f/x</url></x>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := xml.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("marshal:\n got %s\nwant %s", b, tt.want)
			}
			el := rootName(t, b)
			if el.Space != tt.space || el.Local != tt.local {
				t.Errorf("element {%s}%s, want {%s}%s", el.Space, el.Local, tt.space, tt.local)
			}
		})
	}
}

func TestChatStateName(t *testing.T) {
	tests := []struct {
		s    transports.ChatState
		want string
	}{
		{transports.Composing, "composing"},
		{transports.Paused, "paused"},
		{transports.Active, "active"},
	}
	for _, tt := range tests {
		if got := ChatStateName(tt.s); got != tt.want {
			t.Errorf("ChatStateName(%v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// rootName is the name of the root element of b, as a reader sees it.
func rootName(t *testing.T, b []byte) xml.Name {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("parse back %s: %v", b, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name
		}
	}
}
