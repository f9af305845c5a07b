package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStorage(t *testing.T) {
	const head = "[xmpp]\nserver = \"127.0.0.1:5347\"\n"
	const secret = "pw-never-echoed"
	tests := []struct {
		name  string
		toml  string
		want  func(Storage) bool
		probs []string
	}{
		{name: "default is bolt", toml: head,
			want: func(s Storage) bool { return s.Backend == "bolt" && s.Path == "switchboard.db" }},
		{name: "a url means redis", toml: head + "[storage]\nurl = \"redis://127.0.0.1:6379/1\"\n",
			want: func(s Storage) bool { return s.Backend == "redis" && s.Path == "" }},
		{name: "sentinel", toml: head + "[storage]\nsentinel_addrs = [\"10.0.0.1:26379\", \"10.0.0.2:26379\"]\nmaster_name = \"main\"\nmin_replicas = 1\nmin_replicas_timeout = \"500ms\"\n",
			want: func(s Storage) bool {
				return s.Backend == "redis" && s.MasterName == "main" && len(s.SentinelAddrs) == 2 &&
					s.MinReplicas == 1 && s.WaitTimeout() == 500*time.Millisecond
			}},
		{name: "cluster with credentials", toml: head + "[storage]\nbackend = \"redis\"\ncluster_addrs = [\"10.0.0.1:7000\"]\nusername = \"gw\"\npassword = \"" + secret + "\"\ntls = true\n",
			want: func(s Storage) bool {
				return s.Backend == "redis" && s.Username == "gw" && s.Password == secret && s.TLS
			}},
		{name: "unknown backend", toml: head + "[storage]\nbackend = \"etcd\"\n",
			probs: []string{"f:4: storage.backend: \"etcd\" is not one of bolt, redis"}},
		{name: "redis keys with bolt", toml: head + "[storage]\nbackend = \"bolt\"\nurl = \"redis://h\"\nmin_replicas = 1\n",
			probs: []string{"f:6: storage.min_replicas: is for backend \"redis\", but the backend is \"bolt\"",
				"f:5: storage.url: is for backend \"redis\", but the backend is \"bolt\""}},
		{name: "redis needs one place", toml: head + "[storage]\nbackend = \"redis\"\n",
			probs: []string{"f:4: storage.backend: redis needs exactly one of url, sentinel_addrs, cluster_addrs"}},
		{name: "two places", toml: head + "[storage]\nurl = \"redis://h\"\ncluster_addrs = [\"h:1\"]\n",
			probs: []string{"f:3: storage.backend: redis needs exactly one of url, sentinel_addrs, cluster_addrs"}},
		{name: "bad url scheme, password not echoed", toml: head + "[storage]\nurl = \"http://u:" + secret + "@h\"\n",
			probs: []string{"f:4: storage.url: must start with redis://, rediss://, redis-sentinel:// or rediss-sentinel://"}},
		{name: "sentinel url without master", toml: head + "[storage]\nurl = \"redis-sentinel://h:26379\"\n",
			probs: []string{"f:4: storage.url: a sentinel URL needs ?master_name=NAME"}},
		{name: "sentinel without master", toml: head + "[storage]\nsentinel_addrs = [\"h:26379\"]\n",
			probs: []string{"f:3: storage.master_name: missing; sentinel_addrs need the name the sentinels watch the master under"}},
		{name: "bad addresses", toml: head + "[storage]\ncluster_addrs = [\"h\"]\n",
			probs: []string{"f:4: storage.cluster_addrs: \"h\" is not host:port"}},
		{name: "path with redis", toml: head + "[storage]\nurl = \"redis://h\"\npath = \"x.db\"\n",
			probs: []string{"f:5: storage.path: is for backend \"bolt\", but the backend is \"redis\""}},
		{name: "limits", toml: head + "[storage]\nurl = \"redis://h\"\nmin_replicas = -1\nmin_replicas_timeout = \"soon\"\nkey_prefix = \"a{b}\"\n",
			probs: []string{
				"f:5: storage.min_replicas: must not be negative",
				"f:6: storage.min_replicas_timeout: \"soon\" is not a positive duration such as \"500ms\" or \"2s\"",
				"f:7: storage.key_prefix: must not contain braces (Redis Cluster hash tags)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f", []byte(tt.toml+"[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\n"), testNets)
			if tt.probs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.want(c.Storage) {
					t.Errorf("decoded %+v", c.Storage)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.probs)
			}
			got := strings.Split(err.Error(), "\n")
			slices.Sort(got)
			want := slices.Clone(tt.probs)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("a problem quotes the password: %v", err)
			}
		})
	}
}
