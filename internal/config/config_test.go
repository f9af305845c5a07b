package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/irc"
)

// testNets are the networks of this build as internal/app lists them.
var testNets = []Network{
	{Name: "irc", NewConfig: func() any { return new(irc.Config) }},
	{Name: "email", NewConfig: func() any { return new(email.Config) }},
}

// ircOf returns the decoded [irc] table of c.
func ircOf(t *testing.T, c *Config) *irc.Config {
	t.Helper()
	for _, n := range c.Networks() {
		if n.Name == "irc" {
			return n.Config.(*irc.Config)
		}
	}
	t.Fatal("no [irc] table decoded")
	return nil
}

// issueExample is the configuration the README and issue #3 promise works.
const issueExample = `[xmpp]
server = "127.0.0.1:5347"          # the XMPP server's component port
[storage]
path = "switchboard.db"            # embedded bbolt (default); or url = "redis://…" (see Storage)
[security]
key_file = "switchboard.key"       # created 0600 if missing; seals credentials
allowed_domains = ["localhost"]    # who may use the transports; "*" = any server
admins = ["admin@localhost"]       # JIDs allowed to run admin ad-hoc commands
[http]
listen = "127.0.0.1:8480"          # /healthz, /metrics (Prometheus), later webhooks
[irc]                              # one table per network; a missing table = disabled
domain = "irc.localhost"
secret = "s3cret"
`

func TestParseIssueExample(t *testing.T) {
	c, err := Parse("switchboard.toml", []byte(issueExample), testNets)
	if err != nil {
		t.Fatal(err)
	}
	if c.XMPP.Server != "127.0.0.1:5347" || c.Storage.Path != "switchboard.db" || c.Security.KeyFile != "switchboard.key" {
		t.Errorf("decoded %+v", c)
	}
	nets := c.Networks()
	if len(nets) != 1 || nets[0].Name != "irc" || nets[0].Domain != "irc.localhost" || nets[0].Secret != "s3cret" {
		t.Errorf("networks = %+v", nets)
	}
	if got := c.Security.AllowedDomains; len(got) != 1 || got[0] != "localhost" {
		t.Errorf("allowed_domains = %v", got)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("f", []byte("[xmpp]\nserver = \"localhost:5347\"\n[email]\ndomain = \"email.localhost\"\nsecret = \"x\"\n"), testNets)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Path != "switchboard.db" || c.Security.KeyFile != "switchboard.key" || c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string // substrings of the error, each with its line
	}{
		{
			name: "unknown key",
			toml: "[xmpp]\nserver = \"a:1\"\nsevrer = \"b:2\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\n",
			want: []string{`f.toml:3: unknown key "xmpp.sevrer"`},
		},
		{
			name: "syntax error",
			toml: "[xmpp]\nserver = \"a:1\n",
			want: []string{"f.toml:2:"},
		},
		{
			name: "wrong type",
			toml: "[xmpp]\nserver = 5347\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\n",
			want: []string{"f.toml:2:"},
		},
		{
			name: "missing secret reported at the table",
			toml: "[xmpp]\nserver = \"a:1\"\n\n[irc]\ndomain = \"irc.localhost\"\n",
			want: []string{"f.toml:4: irc.secret: missing"},
		},
		{
			name: "bad values",
			toml: "[xmpp]\nserver = \"nope\"\n[security]\nadmins = [\"not a jid@\"]\nallowed_domains = [\"ex ample\"]\n[log]\nlevel = \"loud\"\n[irc]\ndomain = \"IRC..x\"\nsecret = \"s\"\n",
			want: []string{
				`f.toml:2: xmpp.server: "nope" is not host:port`,
				"f.toml:4: security.admins: entry 1",
				"f.toml:5: security.allowed_domains: entry 1",
				"f.toml:7: log.level",
				"f.toml:9: irc.domain",
			},
		},
		{
			name: "bad IRC server entries",
			toml: "[xmpp]\nserver = \"a:1\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\ndefault_server = \"bad host\"\n[irc.servers.\"irc.test\"]\naddress = \"nope\"\nplaintext = true\n",
			want: []string{
				`f.toml:6: irc.default_server: "bad host" is not a host name`,
				`f.toml:8: irc.servers.irc.test.address: "nope" is not host:port`,
			},
		},
		{
			name: "no network",
			toml: "[xmpp]\nserver = \"a:1\"\n",
			want: []string{"no network is enabled"},
		},
		{
			name: "duplicate domains",
			toml: "[xmpp]\nserver = \"a:1\"\n[irc]\ndomain = \"x.localhost\"\nsecret = \"s\"\n[email]\ndomain = \"x.localhost\"\nsecret = \"s\"\n",
			want: []string{`f.toml:7: email.domain: "x.localhost" is also the domain of [irc]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte(tt.toml), testNets)
			if err == nil {
				t.Fatal("no error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestErrorsNeverEchoSecrets(t *testing.T) {
	_, err := Parse("f.toml", []byte("[xmpp]\nserver = \"a:1\"\n[irc]\ndomain = \"bad domain\"\nsecret = \"hunter2-secret\"\n"), testNets)
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
		t.Fatalf("error %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	base := "[xmpp]\nserver = \"localhost:5347\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"x\"\n"
	c, err := Parse("f", []byte(base), testNets)
	if err != nil {
		t.Fatal(err)
	}
	if c.XMPP.MaxStanzaBytes != DefaultMaxStanzaBytes || c.Security.MaxAttachmentBytes != DefaultMaxAttachmentBytes ||
		c.Security.MaxAttachments != DefaultMaxAttachments || c.Limits.MaxConnections != DefaultMaxConnections ||
		c.Limits.ConnectionsPerMinute != DefaultConnectionsPerMinute || c.Limits.CommandsPerMinute != DefaultCommandsPerMinute ||
		c.Limits.IncomingPerMinute != DefaultIncomingPerMinute || c.Limits.RoomsPerUser != DefaultRoomsPerUser {
		t.Errorf("limit defaults not applied: %+v %+v %+v", c.XMPP, c.Security, c.Limits)
	}
	if ic := ircOf(t, c); ic.MaxServersPerUser != 0 || ic.MaxLinesPerMessage != 0 {
		t.Errorf("IRC limits not left to irc.New's defaults: %+v", *ic)
	}
	if len(ircOf(t, c).AllowedServers) != 0 || len(c.Security.AllowPrivate) != 0 {
		t.Errorf("policy lists not empty by default: %v %v", ircOf(t, c).AllowedServers, c.Security.AllowPrivate)
	}

	set := base + "allowed_servers = [\"*\"]\nmax_servers_per_user = 1\n[irc.servers.\"irc.internal\"]\naddress = \"10.0.0.5:6667\"\nservices_host = \"services.irc.internal\"\n" +
		"[security]\nallow_private = [\"10.0.0.5\", \"192.168.0.0/16\"]\n[limits]\nrooms_per_user = 7\n"
	c, err = Parse("f", []byte(set), testNets)
	if err != nil {
		t.Fatal(err)
	}
	ic := ircOf(t, c)
	if ic.AllowedServers[0] != "*" || ic.MaxServersPerUser != 1 || c.Limits.RoomsPerUser != 7 ||
		ic.Servers["irc.internal"].ServicesHost != "services.irc.internal" || len(c.Security.AllowPrivate) != 2 {
		t.Errorf("decoded %+v %+v %+v", *ic, c.Security, c.Limits)
	}

	for _, tc := range []struct{ toml, want string }{
		{base + "allowed_servers = [\"not a host\"]\n", "f:6: irc.allowed_servers: entry 1"},
		{base + "max_lines_per_message = -1\n", "irc.max_lines_per_message: must not be negative"},
		{"[security]\nallow_private = [\"intranet\"]\n" + base, "f:2: security.allow_private"},
		{"[limits]\nmax_connections = -5\n" + base, "f:2: limits.max_connections: must not be negative"},
		{base + "message_rate = -1\n", "f:6: irc.message_rate: must not be negative"},
		{base + "send_burst = 2\nmessage_burst = -3\n", "f:7: irc.message_burst: must not be negative"},
		{base + "message_rate = \"fast\"\n", "f:6"},
		{"[xmpp]\nmax_stanza_bytes = 100\nserver = \"localhost:5347\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"x\"\n", "f:2: xmpp.max_stanza_bytes"},
	} {
		_, err := Parse("f", []byte(tc.toml), testNets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): err = %v, want it to contain %q", tc.toml, err, tc.want)
		}
	}
}
