package component_test

import (
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

const nsDiscoInfo = "http://jabber.org/protocol/disco#info"

// TestCapabilitiesDriveRooms: a network whose adapters can do rooms, but
// whose Capabilities do not claim them (or anonymous joins), gets neither
// from the component: not in disco, not on join, and no session is
// started for the attempt.
func TestCapabilitiesDriveRooms(t *testing.T) {
	tests := []struct {
		name      string
		user      string
		caps      func(*transports.Capabilities)
		muc       bool   // MUC advertised
		condition string // of the anonymous join's error
	}{
		{"no rooms", "zed", func(c *transports.Capabilities) { *c = transports.Capabilities{} }, false, "feature-not-implemented"},
		{"rooms, no anonymous join", "yve", func(c *transports.Capabilities) { c.AnonymousJoin = false }, true, "registration-required"},
	}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{rooms: true, caps: tt.caps, prosody: p})
			c := e.user(t, tt.user, "pc", 0)

			info := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
			feats, conference := map[string]bool{}, false
			for _, ch := range info.Find(qDiscoInfo).Children {
				switch {
				case ch.Is(nsDiscoInfo, "feature"):
					feats[ch.Attr("var")] = true
				case ch.Is(nsDiscoInfo, "identity"):
					conference = conference || ch.Attr("category") == "conference"
				}
			}
			if feats[nsMUC] != tt.muc || conference != tt.muc {
				t.Errorf("MUC feature %v, conference identity %v; want %v: %s", feats[nsMUC], conference, tt.muc, info)
			}
			if !tt.muc && feats["urn:xmpp:reactions:0"] {
				t.Errorf("reactions advertised without rooms: %s", info)
			}

			c.Send(t, `<presence id="j1" to="`+testRoom+`/`+tt.user+`"><x xmlns="`+nsMUC+`"/></presence>`)
			el := c.Expect(t, "join refused", func(el *testenv.Element) bool {
				return isStanza(el, "presence") && el.Attr("id") == "j1" && el.Attr("type") == "error"
			})
			wantError(t, el, tt.condition, "")
			if n := e.net.Connects(); n != 0 {
				t.Errorf("%d sessions started for a join the capabilities refuse", n)
			}
		})
	}
}
