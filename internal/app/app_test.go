package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestRunServesAndShutsDown runs the whole wiring against a real Prosody:
// the component connects, /healthz and /metrics answer, the key file is
// created 0600, and cancelling (what SIGTERM does) closes adapters and
// storage.
func TestRunServesAndShutsDown(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{"irc.localhost": "s3cret"}})
	dir := t.TempDir()
	cfgText := `[xmpp]
server = "` + p.ComponentAddr + `"
[storage]
path = "` + filepath.Join(dir, "switchboard.db") + `"
[security]
key_file = "` + filepath.Join(dir, "switchboard.key") + `"
allowed_domains = ["localhost"]
admins = ["admin@localhost"]
[http]
listen = "127.0.0.1:0"
[log]
level = "debug"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`
	cfg, err := app.ParseConfig("switchboard.toml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	net := transportstest.New(map[string]string{"nick": "legacy-secret-pw"})
	logs := &testenv.LogBuffer{}
	a, err := app.New(app.Options{
		Config:   cfg,
		Networks: []app.Network{fakeNetwork("irc", net)},
		Logger:   app.NewLogger(cfg.Log, logs),
		Version:  "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "switchboard.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := a.Components()[0].WaitConnected(wctx); err != nil {
		t.Fatalf("not connected: %v\n%s", err, logs)
	}

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "irc.localhost connected") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `switchboard_stream_up{domain="irc.localhost",network="fake"} 1`) ||
		!strings.Contains(body, `switchboard_dead_letters_total{domain="irc.localhost",network="fake"} 0`) {
		t.Errorf("/metrics = %d\n%s", code, body)
	}
	// The live heap and the heap goal, beside MemStats (cmd/switchboard-load reads them).
	for _, name := range []string{"go_gc_heap_live_bytes", "go_gc_heap_goal_bytes", "go_memstats_heap_inuse_bytes"} {
		if !regexp.MustCompile(`(?m)^` + name + ` [0-9.e+]+$`).MatchString(body) {
			t.Errorf("/metrics has no %s", name)
		}
	}

	// A user registers, so there is an adapter to close at shutdown.
	c := p.Login(t, p.CreateUser(t, "alice", "pw"), "pw", "pc", 0)
	res := c.IQ(t, `<iq type="set" to="irc.localhost"><query xmlns="jabber:iq:register"><username>nick</username><password>legacy-secret-pw</password></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("register: %s", res)
	}
	c.Send(t, `<presence to="irc.localhost" type="subscribed"/>`)
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	adapter, err := net.WaitAdapter(actx, "alice@localhost")
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if !adapter.Closed() {
		t.Error("adapter left open at shutdown")
	}
	// Storage was closed: another process can open it at once.
	st, err := bolt.Open(filepath.Join(dir, "switchboard.db"))
	if err != nil {
		t.Fatalf("storage not released: %v", err)
	}
	st.Close()
	if strings.Contains(logs.String(), "legacy-secret-pw") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("a secret was logged:\n%s", logs)
	}
}

func TestMissingTransportIsAClearError(t *testing.T) {
	dir := t.TempDir()
	head := `[xmpp]
server = "127.0.0.1:1"
[storage]
path = "` + filepath.Join(dir, "db") + `"
[security]
key_file = "` + filepath.Join(dir, "key") + `"
`
	// A table of a network this build lacks is an unknown key at its line.
	_, err := app.ParseConfig("f", []byte(head+"[slack]\ndomain = \"slack.localhost\"\nsecret = \"x\"\n"))
	if err == nil || !strings.Contains(err.Error(), `f:7: unknown key "slack" (this build's networks: irc, email, sms, discord)`) {
		t.Fatalf("parsing [slack]: err = %v", err)
	}
	// A config parsed for a network New is not given builds nothing.
	cfg, err := app.ParseConfig("f", []byte(head+"[irc]\ndomain = \"irc.localhost\"\nsecret = \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.New(app.Options{Config: cfg, Networks: []app.Network{fakeNetwork("email", transportstest.New(nil))}})
	if err == nil || !strings.Contains(err.Error(), "[irc]: this build has no irc transport") {
		t.Fatalf("err = %v", err)
	}
}

// fakeNetwork is a network entry that builds net whatever its config.
func fakeNetwork(name string, net transports.Network) app.Network {
	return app.Network{
		Network: config.Network{Name: name, NewConfig: func() any { return new(struct{}) }},
		New:     func(any, app.Shared) (transports.Network, error) { return net, nil },
	}
}

func TestLoggerRedactsSecretAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := app.NewLogger(config.Log{Level: "info", Format: "json"}, &buf)
	log.Info("x", "password", "p1", "auth_token", "t1", "user", "alice")
	s := buf.String()
	if strings.Contains(s, "p1") || strings.Contains(s, "t1") || !strings.Contains(s, "alice") {
		t.Errorf("log line: %s", s)
	}
}

// TestKeyBoundToDatabase checks that a lost or replaced key file stops
// start-up with both files named, instead of a silent new key that would
// open none of the stored credentials.
func TestKeyBoundToDatabase(t *testing.T) {
	dir := t.TempDir()
	keyFile, dbFile := filepath.Join(dir, "switchboard.key"), filepath.Join(dir, "switchboard.db")
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "127.0.0.1:5347"
[storage]
path = "`+dbFile+`"
[security]
key_file = "`+keyFile+`"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	net := transportstest.New(map[string]string{"nick": "legacy-secret-pw"})
	open := func() (*app.App, error) {
		return app.New(app.Options{
			Config:   cfg,
			Networks: []app.Network{fakeNetwork("irc", net)},
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}
	a, err := open()
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := a.Registry().Register(t.Context(), "alice@localhost", "irc", map[string]string{"nick": "alice"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	original, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	// Missing: no new key is created.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	_, err = open()
	if err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), dbFile) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("start without the key file: err = %v, want an error naming both files", err)
	}
	if _, serr := os.Stat(keyFile); serr == nil {
		t.Error("a new key file was created for a database sealed with another")
	}

	// Different: refused.
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = open()
	if err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), dbFile) || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("start with another key file: err = %v, want an error naming both files", err)
	}

	// The right one again: starts, and the registration opens.
	if err := os.WriteFile(keyFile, original, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err = open()
	if err != nil {
		t.Fatalf("start with the original key: %v", err)
	}
	defer a.Close()
	if _, err := a.Registry().Lookup(t.Context(), "alice@localhost", "irc"); err != nil {
		t.Errorf("Lookup with the original key: %v", err)
	}
}
