package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHA(t *testing.T) {
	const head = "[xmpp]\nserver = \"127.0.0.1:5347\"\n"
	const redis = head + "[storage]\nurl = \"redis://127.0.0.1:6379\"\n"
	tests := []struct {
		name  string
		toml  string
		want  func(HA) bool
		probs []string
	}{
		{name: "defaults", toml: redis,
			want: func(h HA) bool { return h.TTL() == 0 && h.InstanceName() != "" }},
		{name: "set", toml: redis + "[ha]\ninstance = \"gw-a\"\nlease_ttl = \"5s\"\n",
			want: func(h HA) bool { return h.InstanceName() == "gw-a" && h.TTL() == 5*time.Second }},
		{name: "instance with bolt", toml: head + "[ha]\ninstance = \"gw-a\"\n",
			want: func(h HA) bool { return h.InstanceName() == "gw-a" }},
		{name: "ttl with bolt", toml: head + "[ha]\nlease_ttl = \"5s\"\n",
			probs: []string{"f:4: ha.lease_ttl: is for backend \"redis\" (with bolt one process holds every domain)"}},
		{name: "bad ttl", toml: redis + "[ha]\nlease_ttl = \"200ms\"\n",
			probs: []string{"f:6: ha.lease_ttl: \"200ms\" is not a duration of at least 1s, such as \"3s\""}},
		{name: "bad instance", toml: redis + "[ha]\ninstance = \"a\\nb\"\n",
			probs: []string{"f:6: ha.instance: contains control characters"}},
		{name: "unknown key", toml: redis + "[ha]\nleader = true\n",
			probs: []string{"f:6: unknown key \"ha.leader\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f", []byte(tt.toml+"[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\n"), testNets)
			if tt.probs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.want(c.HA) {
					t.Errorf("[ha] = %+v", c.HA)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.probs)
			}
			got := strings.Split(err.Error(), "\n")
			slices.Sort(got)
			if !slices.Equal(got, tt.probs) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.probs, "\n"))
			}
		})
	}
}
