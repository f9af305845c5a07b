package chatdoor

import (
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/transports"
)

func TestAccount(t *testing.T) {
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
			if got := Account(tc.fields, tc.creds); got != tc.want {
				t.Errorf("Account = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	retry := time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		conn Connection
		want string
	}{
		{"connected, no account, no resource",
			Connection{Network: "IRC", Status: transports.Status{State: transports.StateConnected}},
			"IRC: connected"},
		{"the account once, the reason without its sentinel, the retry in UTC, resources",
			Connection{Network: "IRC", Account: "Nickname ircbob, IRC server irc.example",
				Status: transports.Status{State: transports.StateTransientDisconnect,
					Text: transports.ErrUnavailable.Error() + ": irc.example did not answer", Retry: retry},
				Resources: []presence.Resource{{Name: "pc", Priority: 5, Show: "away"}, {Name: "phone", Priority: -1}}},
			"IRC (Nickname ircbob, IRC server irc.example): " + transports.StateTransientDisconnect.String() +
				" — irc.example did not answer; next retry at 14:04:05 UTC\nYour resources:\n  pc (priority 5, away)\n  phone (priority -1)"},
		{"bad credentials: no retry",
			Connection{Network: "Email", Status: transports.Status{State: transports.StateBadCredentials, Text: "wrong password", Retry: retry}},
			"Email: " + transports.StateBadCredentials.String() + " — wrong password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StatusText(tc.conn); got != tc.want {
				t.Errorf("StatusText =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestSettingsText(t *testing.T) {
	got := SettingsText(settings, map[string]string{"nick_color": "red", "_hidden": "x"})
	want := "Your settings (change one with \"set NAME VALUE\"):\n  stay_connected = false — Stay connected\n  nick_color = red — Colour"
	if got != want {
		t.Errorf("SettingsText =\n  %q\nwant\n  %q", got, want)
	}
}
