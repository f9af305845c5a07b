package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// alpha and beta are two networks that own different keys, as IRC and
// email do, so that each table's strictness can be seen.
type alphaConfig struct {
	Rate    int                   `toml:"rate"`
	Nick    string                `toml:"nick"`
	Servers map[string]alphaEntry `toml:"servers"`
}

type alphaEntry struct {
	Address string `toml:"address"`
}

// Check reports a negative rate and every server entry without an address.
func (c *alphaConfig) Check(problem func(key, msg string)) {
	if c.Rate < 0 {
		problem("rate", "must not be negative")
	}
	for name, e := range c.Servers {
		if e.Address == "" {
			problem("servers."+name+".address", "missing")
		}
	}
}

type betaConfig struct {
	MaxBody int `toml:"max_body"`
}

var fakeNets = []Network{
	// alpha's NewConfig sets a default, which a file without rate keeps.
	{Name: "alpha", NewConfig: func() any { return &alphaConfig{Rate: 7} }},
	{Name: "beta", NewConfig: func() any { return new(betaConfig) }},
}

const fakeHead = "[xmpp]\nserver = \"localhost:5347\"\n" // lines 1-2

func TestParseNetworkTables(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []NetworkEntry
		// probs are the problems, in order; one ending in ": " is the
		// prefix of a problem whose text is the TOML decoder's.
		probs []string
	}{
		{
			name: "each table into its own struct",
			toml: fakeHead + "[beta]\ndomain = \"b.localhost\"\nsecret = \"s\"\nmax_body = 5\n" +
				"[alpha]\ndomain = \"a.localhost\"\nsecret = \"t\"\nserver = \"other:5347\"\nnick = \"gw\"\n[alpha.servers.\"x.test\"]\naddress = \"x.test:1\"\n",
			want: []NetworkEntry{
				{Name: "alpha", Common: Common{Domain: "a.localhost", Secret: "t", Server: "other:5347"},
					Config: &alphaConfig{Rate: 7, Nick: "gw", Servers: map[string]alphaEntry{"x.test": {Address: "x.test:1"}}}},
				{Name: "beta", Common: Common{Domain: "b.localhost", Secret: "s"}, Config: &betaConfig{MaxBody: 5}},
			},
		},
		{
			name: "an empty table enables its network",
			toml: fakeHead + "[beta]\n",
			probs: []string{
				"f:3: beta.domain: missing; the component's JID, e.g. beta.example.org",
				"f:3: beta.secret: missing; the component secret configured on the XMPP server",
			},
		},
		{
			name:  "a key of another network",
			toml:  fakeHead + "[alpha]\ndomain = \"a.localhost\"\nsecret = \"s\"\nmax_body = 5\n[beta]\ndomain = \"b.localhost\"\nsecret = \"s\"\nnick = \"x\"\n",
			probs: []string{`f:6: unknown key "alpha.max_body"`, `f:10: unknown key "beta.nick"`},
		},
		{
			name:  "an unknown key in a network's sub-table",
			toml:  fakeHead + "[alpha]\ndomain = \"a.localhost\"\nsecret = \"s\"\n[alpha.servers.\"x.test\"]\nadress = \"x.test:1\"\n",
			probs: []string{`f:7: unknown key "alpha.servers.x.test.adress"`},
		},
		{
			name:  "a network this build lacks",
			toml:  fakeHead + "[gamma]\ndomain = \"g.localhost\"\nsecret = \"s\"\n[beta]\ndomain = \"b.localhost\"\nsecret = \"s\"\n",
			probs: []string{`f:3: unknown key "gamma" (this build's networks: alpha, beta)`},
		},
		{
			name:  "a wrong type in a network's key",
			toml:  fakeHead + "[alpha]\ndomain = \"a.localhost\"\nsecret = \"s\"\nrate = \"fast\"\n",
			probs: []string{"f:6: "},
		},
		{
			name:  "a wrong type in a common key",
			toml:  fakeHead + "[alpha]\ndomain = 5\nsecret = \"s\"\n",
			probs: []string{"f:4: "},
		},
		{
			name: "the network's own checks, at their lines",
			toml: fakeHead + "[alpha]\ndomain = \"a.localhost\"\nsecret = \"s\"\nrate = -1\n[alpha.servers.\"x.test\"]\n",
			probs: []string{
				"f:6: alpha.rate: must not be negative",
				"f:7: alpha.servers.x.test.address: missing",
			},
		},
		{
			name:  "storage is checked once, whatever the networks",
			toml:  "[storage]\nmessage_id_days = -1\n" + fakeHead + "[alpha]\ndomain = \"a.localhost\"\nsecret = \"s\"\n[beta]\ndomain = \"b.localhost\"\nsecret = \"s\"\n",
			probs: []string{"f:2: storage.message_id_days: must not be negative"},
		},
		{
			name:  "no network",
			toml:  fakeHead,
			probs: []string{"f: no network is enabled; add one of the tables [alpha], [beta]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f", []byte(tt.toml), fakeNets)
			if tt.probs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(c.Networks(), tt.want) {
					t.Errorf("networks\n%s\nwant\n%s", dump(c.Networks()), dump(tt.want))
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *config.Error", err, err)
			}
			if len(ce.Problems) != len(tt.probs) {
				t.Fatalf("problems:\n%s\nwant %d: %q", err, len(tt.probs), tt.probs)
			}
			for i, p := range ce.Problems {
				want := tt.probs[i]
				if prefix := strings.HasSuffix(want, ": "); prefix && !strings.HasPrefix(p.String(), want) || !prefix && p.String() != want {
					t.Errorf("problem %d = %q, want %q", i, p, want)
				}
			}
		})
	}
}

func dump(nets []NetworkEntry) string {
	var b strings.Builder
	for _, n := range nets {
		fmt.Fprintf(&b, "%s %+v %+v\n", n.Name, n.Common, n.Config)
	}
	return b.String()
}

func TestParseRefusesAConfigThatIsNotAPointer(t *testing.T) {
	nets := []Network{{Name: "alpha", NewConfig: func() any { return alphaConfig{} }}}
	_, err := Parse("f", []byte(fakeHead+"[alpha]\ndomain = \"a.localhost\"\nsecret = \"s\"\n"), nets)
	if err == nil || !strings.Contains(err.Error(), "network alpha: NewConfig returned a config.alphaConfig, not a pointer to a struct") {
		t.Fatalf("err = %v", err)
	}
}
