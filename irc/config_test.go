package irc

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // "key: message", sorted
	}{
		{name: "empty", cfg: Config{}},
		{name: "good", cfg: Config{
			DefaultServer:  "irc.example.net:6697",
			Servers:        map[string]Server{"irc.internal": {Address: "10.0.0.5:6667", ServicesHost: "services.irc.internal"}},
			AllowedServers: []string{"*", "irc.libera.chat"},
			SendRate:       1, SendBurst: 2, MaxServersPerUser: 1, MaxLinesPerMessage: 5,
		}},
		{name: "host only default server", cfg: Config{DefaultServer: "IRC.Example.net"}},
		{name: "bad default server host", cfg: Config{DefaultServer: "bad host"},
			want: []string{`default_server: "bad host" is not a host name`}},
		{name: "bad default server port", cfg: Config{DefaultServer: "irc.test:"},
			want: []string{`default_server: "irc.test:" is not host:port`}},
		{name: "bad server entry", cfg: Config{Servers: map[string]Server{"bad host": {Address: "nope", ServicesHost: "no pe"}}},
			want: []string{
				`servers.bad host.address: "nope" is not host:port`,
				`servers.bad host.services_host: "no pe" is not a host name`,
				`servers: "bad host" is not a host name`,
			}},
		{name: "negative numbers", cfg: Config{SendBurst: -1, MaxServersPerUser: -1, MaxLinesPerMessage: -2},
			want: []string{
				"max_lines_per_message: must not be negative",
				"max_servers_per_user: must not be negative",
				"send_rate: must not be negative",
			}},
		{name: "allowed servers", cfg: Config{AllowedServers: []string{"irc.ok", "not ok"}},
			want: []string{`allowed_servers: entry 2 ("not ok") is not a host name or "*"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.cfg.Check(func(key, msg string) { got = append(got, key+": "+msg) })
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestNewDefaultServer checks how New reads default_server as the file
// gives it: host or host:port, any case, with or without a Servers entry.
func TestNewDefaultServer(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		wantDefault string
		wantServers map[string]Server
	}{
		{name: "none", cfg: Config{Servers: map[string]Server{"IRC.Test": {Plaintext: true}}},
			wantServers: map[string]Server{"irc.test": {Plaintext: true}}},
		{name: "host", cfg: Config{DefaultServer: "IRC.Test"},
			wantDefault: "irc.test", wantServers: map[string]Server{"irc.test": {}}},
		{name: "host and port", cfg: Config{DefaultServer: "irc.test:6667"},
			wantDefault: "irc.test", wantServers: map[string]Server{"irc.test": {Address: "irc.test:6667"}}},
		{name: "entry without address takes the port", cfg: Config{DefaultServer: "irc.test:6667",
			Servers: map[string]Server{"irc.test": {Plaintext: true, ServicesHost: "Services.IRC.test"}}},
			wantDefault: "irc.test", wantServers: map[string]Server{"irc.test": {Address: "irc.test:6667", Plaintext: true, ServicesHost: "services.irc.test"}}},
		{name: "entry address wins", cfg: Config{DefaultServer: "irc.test:6667",
			Servers: map[string]Server{"irc.test": {Address: "127.0.0.1:7000"}}},
			wantDefault: "irc.test", wantServers: map[string]Server{"irc.test": {Address: "127.0.0.1:7000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := maps.Clone(tt.cfg.Servers)
			n := New(tt.cfg)
			if n.cfg.DefaultServer != tt.wantDefault || !reflect.DeepEqual(n.cfg.Servers, tt.wantServers) {
				t.Errorf("DefaultServer %q, Servers %+v; want %q, %+v", n.cfg.DefaultServer, n.cfg.Servers, tt.wantDefault, tt.wantServers)
			}
			if !maps.Equal(in, tt.cfg.Servers) {
				t.Errorf("New changed the caller's Servers map: %+v", tt.cfg.Servers)
			}
		})
	}
}
