package direct

import (
	"encoding/xml"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

const msgOpen = `<message xmlns="jabber:component:accept" from="u@example.org/pc" to="bob@gw.example" id="m1">`

func TestChatState(t *testing.T) {
	tests := []struct {
		name  string
		xml   string
		want  transports.ChatState
		found bool
	}{
		{"composing", `<composing xmlns="http://jabber.org/protocol/chatstates"/>`, transports.Composing, true},
		{"paused", `<paused xmlns="http://jabber.org/protocol/chatstates"/>`, transports.Paused, true},
		{"active", `<active xmlns="http://jabber.org/protocol/chatstates"/>`, transports.Active, true},
		{"inactive and gone are no state a network shows", `<inactive xmlns="http://jabber.org/protocol/chatstates"/><gone xmlns="http://jabber.org/protocol/chatstates"/>`, 0, false},
		{"another namespace", `<composing xmlns="urn:example:other"/>`, 0, false},
		{"the stanza's own namespace", `<composing/>`, 0, false},
		{"none", `<body>hi</body>`, 0, false},
		{"with a body", `<body>hi</body><paused xmlns="http://jabber.org/protocol/chatstates"/>`, transports.Paused, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := ChatState(xmltreetest.Parse(t, msgOpen+tt.xml+`</message>`))
			if got != tt.want || found != tt.found {
				t.Errorf("ChatState = %v, %v; want %v, %v", got, found, tt.want, tt.found)
			}
		})
	}
}

func TestWanted(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want []string
	}{
		{"in order, each once, none empty",
			`<reactions xmlns="urn:xmpp:reactions:0" id="x"><reaction>👍</reaction><reaction></reaction><reaction>🎉</reaction><reaction>👍</reaction></reactions>`,
			[]string{"👍", "🎉"}},
		{"an empty set withdraws all", `<reactions xmlns="urn:xmpp:reactions:0" id="x"/>`, nil},
		{"children of another namespace are not reactions",
			`<reactions xmlns="urn:xmpp:reactions:0" id="x"><reaction xmlns="urn:example">❤</reaction><other>🙂</other><reaction>👍</reaction></reactions>`,
			[]string{"👍"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wanted(xmltreetest.Parse(t, tt.xml)); !slices.Equal(got, tt.want) {
				t.Errorf("wanted = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name             string
		have, want       []string
		wantAdd, wantRem []string
	}{
		{"from nothing", nil, []string{"👍", "🎉"}, []string{"👍", "🎉"}, nil},
		{"all withdrawn", []string{"👍", "🎉"}, nil, nil, []string{"👍", "🎉"}},
		{"one swapped", []string{"👍", "🎉"}, []string{"🎉", "❤"}, []string{"❤"}, []string{"👍"}},
		{"unchanged, in another order", []string{"👍", "🎉"}, []string{"🎉", "👍"}, nil, nil},
		{"nothing", nil, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, rem := Diff(tt.have, tt.want)
			if !slices.Equal(add, tt.wantAdd) || !slices.Equal(rem, tt.wantRem) {
				t.Errorf("Diff = +%q -%q, want +%q -%q", add, rem, tt.wantAdd, tt.wantRem)
			}
		})
	}
}

func TestOutgoing(t *testing.T) {
	in := func(t *testing.T, s string) *stanza.In {
		el := xmltreetest.Parse(t, s)
		return &stanza.In{Element: el, ID: el.Attr("id"), From: jid.MustParse(el.Attr("from")), To: jid.MustParse(el.Attr("to"))}
	}
	tests := []struct {
		name string
		xml  string
		want transports.Message
	}{
		{"the stanza id", msgOpen + `<body>hi</body></message>`, transports.Message{To: "bob", Body: "hi", ID: "m1"}},
		{"the origin-id first, subject and thread",
			msgOpen + `<body>hi</body><subject>s</subject><thread>t</thread><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`,
			transports.Message{To: "bob", Body: "hi", Subject: "s", Thread: "t", ID: "o1"}},
		{"an empty origin-id is no id", msgOpen + `<body>hi</body><origin-id xmlns="urn:xmpp:sid:0" id=""/></message>`,
			transports.Message{To: "bob", Body: "hi", ID: "m1"}},
		{"an origin-id of another namespace", msgOpen + `<body>hi</body><origin-id xmlns="urn:example" id="o1"/></message>`,
			transports.Message{To: "bob", Body: "hi", ID: "m1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Outgoing(in(t, tt.xml), "bob", "hi"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Outgoing = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestIncomingStanzas pins the stanzas the contacts' events become, byte
// for byte, matched by namespace and local name.
func TestIncomingStanzas(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		m    *stanza.Message
		want string
	}{
		{"typing", typingMessage("bob@gw", "u@example", transports.Composing),
			`<message type="chat" from="bob@gw" to="u@example"><composing xmlns="http://jabber.org/protocol/chatstates"></composing><no-store xmlns="urn:xmpp:hints"></no-store></message>`},
		{"reaction to a known message", reactionMessage("i", "bob@gw", "u@example", "x1", []string{"👍", "🎉"}, "🎉", false),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><reactions xmlns="urn:xmpp:reactions:0" id="x1"><reaction>👍</reaction><reaction>🎉</reaction></reactions><store xmlns="urn:xmpp:hints"></store></message>`},
		{"the last reaction withdrawn", reactionMessage("i", "bob@gw", "u@example", "x1", nil, "👍", true),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><reactions xmlns="urn:xmpp:reactions:0" id="x1"></reactions><store xmlns="urn:xmpp:hints"></store></message>`},
		{"reaction to an unknown message", reactionMessage("i", "bob@gw", "u@example", "", []string{"👍"}, "👍", false),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><body>[reacted 👍 to an earlier message]</body></message>`},
		{"reaction taken back from an unknown message", reactionMessage("i", "bob@gw", "u@example", "", nil, "👍", true),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><body>[took back the reaction 👍 to an earlier message]</body></message>`},
		{"edit of a known message", editMessage("i", "bob@gw", "u@example", "x1", &transports.EditEvent{Body: "fixed"}, ""),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><body>fixed</body><origin-id xmlns="urn:xmpp:sid:0" id="i"></origin-id><replace xmlns="urn:xmpp:message-correct:0" id="x1"></replace></message>`},
		{"own old edit of an unknown message", editMessage("i", "bob@gw", "u@example", "", &transports.EditEvent{Body: "fixed", Own: true, Time: at}, "gw"),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><body>[you, from another client] ✎ fixed</body><delay xmlns="urn:xmpp:delay" from="gw" stamp="2026-01-02T03:04:05Z"></delay><origin-id xmlns="urn:xmpp:sid:0" id="i"></origin-id></message>`},
		{"retraction of a known message", retractMessage("i", "bob@gw", "u@example", "x1", false),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><body>[deleted a message; your client does not support retractions]</body>` +
				`<retract xmlns="urn:xmpp:message-retract:1" id="x1"></retract><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:message-retract:1"></fallback><store xmlns="urn:xmpp:hints"></store></message>`},
		{"own retraction of an unknown message", retractMessage("i", "bob@gw", "u@example", "", true),
			`<message id="i" type="chat" from="bob@gw" to="u@example"><body>[you, from another client] [deleted a message]</body></message>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := xml.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("stanza:\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	a, b := newID(), newID()
	if a == b || len(a) != 18 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("newID = %q, %q: want two different 18 hex digits", a, b)
	}
}
