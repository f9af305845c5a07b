package stanza

import (
	"encoding/xml"
	"testing"
)

// TestMarshalEdits pins the wire form of the correction, retraction and
// receipt elements, byte for byte, as component wrote them before they moved
// here.
func TestMarshalEdits(t *testing.T) {
	tests := []struct {
		name         string
		v            any
		space, local string
		want         string
	}{
		{"replace", &Replace{ID: "x"}, NSCorrect, "replace", `<replace xmlns="urn:xmpp:message-correct:0" id="x"></replace>`},
		{"retract", &Retract{ID: "x"}, NSRetract, "retract", `<retract xmlns="urn:xmpp:message-retract:1" id="x"></retract>`},
		{"retract by a moderator", &Retract{ID: "x", Moderated: &Moderated{By: "#c@gw/op"}, Reason: "spam"}, NSRetract, "retract",
			`<retract xmlns="urn:xmpp:message-retract:1" id="x"><moderated xmlns="urn:xmpp:message-moderate:1" by="#c@gw/op"></moderated><reason>spam</reason></retract>`},
		{"moderated by nobody named", &Moderated{}, NSModerate, "moderated", `<moderated xmlns="urn:xmpp:message-moderate:1"></moderated>`},
		{"fallback", &Fallback{For: NSRetract}, NSFallback, "fallback", `<fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:message-retract:1"></fallback>`},
		{"received", &Received{ID: "x"}, NSReceipts, "received", `<received xmlns="urn:xmpp:receipts" id="x"></received>`},
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
			if el := rootName(t, b); el.Space != tt.space || el.Local != tt.local {
				t.Errorf("element {%s}%s, want {%s}%s", el.Space, el.Local, tt.space, tt.local)
			}
		})
	}
}
