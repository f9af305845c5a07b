package app_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestRedisBackend: [storage] url = "redis://…" keeps registrations in a
// real Redis, where a second start finds them, and the Redis password is
// never logged.
func TestRedisBackend(t *testing.T) {
	const secret = "redis-pw-5e1d0c"
	srv := testenv.StartRedis(t, testenv.RedisOptions{User: "gateway", Password: secret})
	dir := t.TempDir()
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "127.0.0.1:5347"
[storage]
url = "redis://gateway:`+secret+`@`+srv.Addr()+`/3"
key_prefix = "app-test:"
[security]
key_file = "`+filepath.Join(dir, "switchboard.key")+`"
[log]
level = "debug"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	net := transportstest.New(map[string]string{"nick": "legacy-secret-pw"})
	logs := &testenv.LogBuffer{}
	open := func() *app.App {
		t.Helper()
		a, err := app.New(app.Options{Config: cfg, Networks: []app.Network{fakeNetwork("irc", net)}, Logger: app.NewLogger(cfg.Log, logs)})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := open()
	if err := a.Registry().Register(t.Context(), "alice@localhost", "irc", map[string]string{"nick": "alice"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if keys, err := srv.Cli("-n", "3", "--scan", "--pattern", "app-test:*"); err != nil || !strings.Contains(keys, "registrations") {
		t.Errorf("Redis db 3 keys = %q, %v; want the registrations under the prefix", keys, err)
	}

	a = open()
	defer a.Close()
	var got []registry.Registration
	if err := a.Registry().List(t.Context(), "irc", func(r registry.Registration) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].User != "alice@localhost" || got[0].Credentials["nick"] != "alice" {
		t.Errorf("after a restart, registrations = %+v", got)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log has the Redis password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), srv.Addr()) {
		t.Errorf("the log does not say which Redis:\n%s", logs.String())
	}
}
