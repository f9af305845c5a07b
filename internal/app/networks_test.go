package app_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/discord"
	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/sms"
)

const head = "[xmpp]\nserver = \"localhost:5347\"\n" // lines 1-2

// TestNetworkTablesAreStrict checks that each network's table takes its
// own keys only: another network's key is an unknown key at its line.
func TestNetworkTablesAreStrict(t *testing.T) {
	tests := []struct {
		name, toml string
		want       []string // the problems, in order
	}{
		{
			name: "an IRC key in [email]",
			toml: head + "[email]\ndomain = \"email.localhost\"\nsecret = \"s\"\nservers = {}\n",
			want: []string{`f:6: unknown key "email.servers"`},
		},
		{
			name: "an IRC server table under [email]",
			toml: head + "[email]\ndomain = \"email.localhost\"\nsecret = \"s\"\n[email.servers.\"irc.test\"]\naddress = \"irc.test:6667\"\n",
			want: []string{`f:6: unknown key "email.servers.irc.test"`},
		},
		{
			name: "an email key in [irc]",
			toml: head + "[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\nmax_body_bytes = 1000\n",
			want: []string{`f:6: unknown key "irc.max_body_bytes"`},
		},
		{
			name: "keys crossed both ways",
			toml: head + "[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\ndefault_imap_server = \"imap.test:993\"\n" +
				"[email]\ndomain = \"email.localhost\"\nsecret = \"s\"\nsend_rate = 3.0\ndefault_server = \"irc.test\"\n",
			want: []string{`f:6: unknown key "irc.default_imap_server"`, `f:10: unknown key "email.send_rate"`, `f:11: unknown key "email.default_server"`},
		},
		{
			name: "the attachment limits are [security]'s, not [email]'s",
			toml: head + "[email]\ndomain = \"email.localhost\"\nsecret = \"s\"\nmax_attachments = 3\n",
			want: []string{`f:6: unknown key "email.max_attachments"`},
		},
		{
			name: "an email key in [sms], a Kannel key in [sms.twilio]",
			toml: head + "[sms]\ndomain = \"sms.localhost\"\nsecret = \"s\"\nprovider = \"twilio\"\nnumbers = [\"+15550001\"]\nallow_plaintext = true\n" +
				"[sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\ntoken = \"x\"\n",
			want: []string{`f:8: unknown key "sms.allow_plaintext"`, `f:12: unknown key "sms.twilio.token"`},
		},
		{
			name: "[sms] checks its keys",
			toml: head + "[sms]\ndomain = \"sms.localhost\"\nsecret = \"s\"\nprovider = \"kannel\"\nnumbers = [\"5550001\"]\n",
			want: []string{
				`f:3: sms.kannel.sendsms_url: "" is not an http(s) URL`,
				`f:3: sms.kannel: needs username and password (a sendsms-user of kannel.conf)`,
				`f:3: sms.kannel.token: must be a secret of at least 16 characters (it authenticates Kannel's calls)`,
				`f:7: sms.numbers: "5550001" is not an E.164 number such as +15551234567`,
			},
		},
		{
			name: "each network checks its own keys",
			toml: head + "[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\ndefault_server = \"bad host\"\n" +
				"[email]\ndomain = \"email.localhost\"\nsecret = \"s\"\ndefault_smtp_server = \"smtp.test\"\nmax_body_bytes = -1\n",
			want: []string{
				`f:6: irc.default_server: "bad host" is not a host name`,
				`f:10: email.default_smtp_server: "smtp.test" is not host:port`,
				`f:11: email.max_body_bytes: must not be negative`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := app.ParseConfig("f", []byte(tt.toml))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestNetworkTablesDecode checks that every key of each network's table
// reaches that network's own config.
func TestNetworkTablesDecode(t *testing.T) {
	cfg, err := app.ParseConfig("f", []byte(head+`[irc]
domain = "irc.localhost"
secret = "s"
default_server = "irc.test:6667"
allowed_servers = ["*"]
max_servers_per_user = 2
max_lines_per_message = 4
send_rate = 1.5
send_burst = 3
message_rate = 0.5
message_burst = 4
[irc.servers."irc.internal"]
address = "10.0.0.5:6667"
plaintext = true
services_host = "services.irc.internal"
[email]
domain = "email.localhost"
secret = "t"
server = "localhost:5348"
default_imap_server = "imap.test:993"
default_smtp_server = "smtp.test:465"
allow_plaintext = true
max_body_bytes = 1000
[sms]
domain = "sms.localhost"
secret = "u"
provider = "kannel"
default_country = "GB"
numbers = ["+447700900001", "+447700900002"]
max_segments = 4
[sms.twilio]
api_url = "https://api.example.net"
[sms.kannel]
sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms"
username = "switchboard"
password = "pw"
token = "0123456789abcdef0123"
`))
	if err != nil {
		t.Fatal(err)
	}
	nets := cfg.Networks()
	if len(nets) != 3 || nets[0].Name != "irc" || nets[1].Name != "email" || nets[2].Name != "sms" {
		t.Fatalf("networks %+v", nets)
	}
	wantSMS := &sms.Config{Provider: "kannel", DefaultCountry: "GB", Numbers: []string{"+447700900001", "+447700900002"}, MaxSegments: 4,
		Twilio: sms.TwilioConfig{APIURL: "https://api.example.net"},
		Kannel: sms.KannelConfig{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "switchboard", Password: "pw", Token: "0123456789abcdef0123"}}
	if got := nets[2].Config; !reflect.DeepEqual(got, wantSMS) {
		t.Errorf("[sms] = %+v, want %+v", got, wantSMS)
	}
	wantIRC := &irc.Config{
		DefaultServer:  "irc.test:6667",
		Servers:        map[string]irc.Server{"irc.internal": {Address: "10.0.0.5:6667", Plaintext: true, ServicesHost: "services.irc.internal"}},
		AllowedServers: []string{"*"}, MaxServersPerUser: 2, MaxLinesPerMessage: 4, SendRate: 1.5, SendBurst: 3,
	}
	if got := nets[0].Config; !reflect.DeepEqual(got, wantIRC) {
		t.Errorf("[irc] = %+v, want %+v", got, wantIRC)
	}
	wantEmail := &email.Config{DefaultIMAP: "imap.test:993", DefaultSMTP: "smtp.test:465", AllowPlaintext: true, Limits: email.Limits{MaxBody: 1000}}
	if got := nets[1].Config; !reflect.DeepEqual(got, wantEmail) {
		t.Errorf("[email] = %+v, want %+v", got, wantEmail)
	}
	if want := (config.Common{Domain: "irc.localhost", Secret: "s", MessageRate: 0.5, MessageBurst: 4}); nets[0].Common != want {
		t.Errorf("[irc] common keys = %+v, want %+v", nets[0].Common, want)
	}
	if want := (config.Common{Domain: "email.localhost", Secret: "t", Server: "localhost:5348"}); nets[1].Common != want {
		t.Errorf("[email] common keys = %+v, want %+v", nets[1].Common, want)
	}
}

// TestReadmeConfigurationReference parses the README's configuration
// reference with every commented-out key set, so that each key it
// documents is one the program knows, in the table it is shown in.
func TestReadmeConfigurationReference(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, ref, ok := strings.Cut(string(readme), "### Configuration reference")
	if !ok {
		t.Fatal("README has no configuration reference")
	}
	_, ref, _ = strings.Cut(ref, "```toml\n")
	ref, _, _ = strings.Cut(ref, "```")
	uncomment := regexp.MustCompile(`(?m)^# (\[|[a-z_]+ = )`)
	all := uncomment.ReplaceAllString(ref, "$1")
	if strings.Count(all, "\n# ") > 0 || len(all) == len(ref) {
		t.Fatalf("the reference's commented keys were not all uncommented:\n%s", all)
	}
	for name, text := range map[string]string{"as shown": ref, "every key set": all} {
		cfg, err := app.ParseConfig("README.md", []byte(text))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if n := len(cfg.Networks()); n != 4 {
			t.Errorf("%s: %d networks, want 4", name, n)
		}
	}
}

// TestBuildsEveryNetwork checks that this build's list builds a component
// for each table, from the config it decoded.
func TestBuildsEveryNetwork(t *testing.T) {
	dir := t.TempDir()
	cfg, err := app.ParseConfig("f", []byte(head+`[storage]
path = "`+filepath.Join(dir, "db")+`"
[security]
key_file = "`+filepath.Join(dir, "key")+`"
[irc]
domain = "irc.localhost"
secret = "s"
default_server = "irc.test:6667"
message_rate = 0.5
message_burst = 4
[email]
domain = "email.localhost"
secret = "s"
[sms]
domain = "sms.localhost"
secret = "s"
provider = "twilio"
numbers = ["+15550100001"]
[sms.twilio]
account_sid = "AC1"
auth_token = "t"
[discord]
domain = "discord.localhost"
secret = "s"
server_url = "http://127.0.0.1:3001/"
`))
	if err != nil {
		t.Fatal(err)
	}
	// Each table's message_rate and message_burst reach its component's
	// per-user limiter; left out, the component's defaults apply (0).
	type limiter struct {
		rate  float64
		burst int
	}
	got := map[string]limiter{}
	a, err := app.New(app.Options{Config: cfg, Version: "test", Tune: func(c *component.Config) {
		got[c.Domain] = limiter{c.SendRate, c.SendBurst}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if want := map[string]limiter{"irc.localhost": {0.5, 4}, "email.localhost": {0, 0}, "sms.localhost": {0, 0}, "discord.localhost": {0, 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("per-user send limiters %+v, want %+v", got, want)
	}
	var domains []string
	for _, c := range a.Components() {
		domains = append(domains, c.Domain().String())
	}
	if want := []string{"irc.localhost", "email.localhost", "sms.localhost", "discord.localhost"}; !reflect.DeepEqual(domains, want) {
		t.Errorf("components %v, want %v", domains, want)
	}
}

// TestDiscordTable checks that [discord]'s keys reach discord.Config and
// that the network checks them.
func TestDiscordTable(t *testing.T) {
	cfg, err := app.ParseConfig("f", []byte(head+"[discord]\ndomain = \"discord.localhost\"\nsecret = \"s\"\nserver_url = \"https://sb.example.org\"\nmax_members = 50\n"))
	if err != nil {
		t.Fatal(err)
	}
	nets := cfg.Networks()
	want := &discord.Config{ServerURL: "https://sb.example.org", MaxMembers: 50}
	if len(nets) != 1 || !reflect.DeepEqual(nets[0].Config, want) {
		t.Fatalf("networks %+v, want [discord] = %+v", nets, want)
	}
	for _, tt := range []struct{ toml, want string }{
		{"server_url = \"ftp://x\"\n", `f:6: discord.server_url: "ftp://x" is not an http(s) URL`},
		{"max_members = -1\n", `f:6: discord.max_members: must not be negative`},
		{"default_server = \"irc.test\"\n", `f:6: unknown key "discord.default_server"`},
	} {
		_, err = app.ParseConfig("f", []byte(head+"[discord]\ndomain = \"discord.localhost\"\nsecret = \"s\"\n"+tt.toml))
		var ce *config.Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0].String(), tt.want) {
			t.Errorf("%q: err = %v; want %s", tt.toml, err, tt.want)
		}
	}
}
