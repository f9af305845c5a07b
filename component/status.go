package component

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// accountText names the legacy account the user registered, as the
// "status" texts show it: each plain text login field (nickname, address,
// server …) with its label, the network's default where the user left it
// empty; secrets and choices are left out. It is "" if the registration
// cannot be read. The values are the user's own, never a peer's.
func (c *Component) accountText(ctx context.Context, user jid.JID) string {
	r, err := c.reg.Lookup(ctx, user.String(), c.net.Name())
	if err != nil {
		return ""
	}
	return describeAccount(c.net.LoginFields(), r.Credentials)
}

// describeAccount is accountText's pure part: "Nickname ircbob, IRC server
// irc.example". A label's explanation in parentheses is left out.
func describeAccount(fields []transports.Field, creds transports.Credentials) string {
	var parts []string
	for _, f := range fields {
		if f.Kind != transports.FieldText {
			continue
		}
		v := strings.TrimSpace(creds[f.Name])
		if v == "" {
			v = f.Default
		}
		if v == "" {
			continue
		}
		label, _, _ := strings.Cut(f.Label, " (")
		parts = append(parts, label+" "+v)
	}
	return strings.Join(parts, ", ")
}
