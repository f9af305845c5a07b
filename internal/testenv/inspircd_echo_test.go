package testenv

import (
	"slices"
	"strings"
	"testing"
)

// InspIRCdOptions.NoEchoMessage takes echo-message, and only it, out of
// the capabilities the server offers.
func TestInspIRCdNoEchoMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		noEcho bool
	}{
		{"default", false},
		{"without echo-message", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := StartInspIRCd(t, InspIRCdOptions{NoEchoMessage: tt.noEcho})
			c := ConnectIRC(t, s.Addr())
			c.Send("CAP LS 302")
			var caps []string
			for {
				// "CAP * LS * :…" goes on in the next line; "CAP * LS :…" ends.
				l := c.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "CAP" && l.Param(1) == "LS" })
				for _, f := range strings.Fields(l.Params[len(l.Params)-1]) {
					name, _, _ := strings.Cut(f, "=")
					caps = append(caps, name)
				}
				if l.Param(2) != "*" {
					break
				}
			}
			if got := slices.Contains(caps, "echo-message"); got == tt.noEcho {
				t.Errorf("echo-message offered: %v, want %v (caps %v)", got, !tt.noEcho, caps)
			}
			if !slices.Contains(caps, "message-tags") {
				t.Errorf("message-tags not offered: %v", caps)
			}
		})
	}
}
