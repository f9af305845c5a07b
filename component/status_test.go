package component

import (
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

func TestDescribeAccount(t *testing.T) {
	irc := []transports.Field{
		{Name: "nick", Label: "Nickname", Kind: transports.FieldText},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret},
		{Name: "server", Label: "IRC server", Kind: transports.FieldText, Default: "irc.example"},
	}
	email := []transports.Field{
		{Name: "address", Label: "Email address", Kind: transports.FieldText},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret},
		{Name: "imap_server", Label: "IMAP server (host:port)", Kind: transports.FieldText},
		{Name: "security", Label: "Connection security", Kind: transports.FieldList, Default: "tls"},
		{Name: "tls", Label: "TLS", Kind: transports.FieldBool},
	}
	for _, tc := range []struct {
		name   string
		fields []transports.Field
		creds  transports.Credentials
		want   string
	}{
		{"irc", irc, transports.Credentials{"nick": "ircbob", "password": "hunter2", "server": "irc.libera.chat"},
			"Nickname ircbob, IRC server irc.libera.chat"},
		{"irc, the default server", irc, transports.Credentials{"nick": "ircbob", "server": " "},
			"Nickname ircbob, IRC server irc.example"},
		{"email: no secret, no choice, no label's explanation", email,
			transports.Credentials{"address": "bob@example.org", "password": "hunter2", "imap_server": "imap.example.org:993", "security": "plain", "tls": "true"},
			"Email address bob@example.org, IMAP server imap.example.org:993"},
		{"email, an empty server without default", email, transports.Credentials{"address": "bob@example.org"},
			"Email address bob@example.org"},
		{"nothing registered", irc, nil, "IRC server irc.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeAccount(tc.fields, tc.creds); got != tc.want {
				t.Errorf("describeAccount = %q, want %q", got, tc.want)
			}
		})
	}
}
