package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/lease"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestActiveStandby: two instances on one real Redis and a real Prosody.
// The first holds irc.localhost's lease and its stream (/readyz 200); the
// second waits (/readyz 503, /healthz 200, no stream). When the holder's
// lease disappears (as when it was paused past its TTL), the holder stops
// its component and Run says lease.ErrLost, and the standby takes over
// with a larger token and connects; stopping it releases the lease.
func TestActiveStandby(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{"irc.localhost": "s3cret"}})
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	dir := t.TempDir()
	net := transportstest.New(map[string]string{"nick": "pw"})
	// start runs an instance; its Run's error is sent on the channel,
	// and is there until read.
	start := func(instance string) (*app.App, *testenv.LogBuffer, context.CancelFunc, <-chan error) {
		t.Helper()
		cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "`+p.ComponentAddr+`"
[storage]
url = "redis://`+srv.Addr()+`"
[ha]
instance = "`+instance+`"
lease_ttl = "1s"
[security]
key_file = "`+filepath.Join(dir, "switchboard.key")+`"
[http]
listen = "127.0.0.1:0"
[log]
level = "debug"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
		if err != nil {
			t.Fatal(err)
		}
		logs := &testenv.LogBuffer{}
		a, err := app.New(app.Options{Config: cfg, Networks: []app.Network{fakeNetwork("irc", net)}, Logger: app.NewLogger(cfg.Log, logs)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done, ended := make(chan error, 1), make(chan struct{})
		go func() {
			done <- a.Run(ctx)
			close(ended)
		}()
		t.Cleanup(func() {
			cancel()
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Errorf("%s: Run did not return", instance)
			}
		})
		return a, logs, cancel, done
	}
	get := func(a *app.App, path string) (int, string) {
		t.Helper()
		res, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	connected := func(a *app.App, logs *testenv.LogBuffer) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		if err := a.Components()[0].WaitConnected(ctx); err != nil {
			t.Fatalf("not connected: %v\n%s", err, logs)
		}
	}
	tokenRE := regexp.MustCompile(`irc\.localhost connected token (\d+)`)
	token := func(a *app.App) int {
		t.Helper()
		code, body := get(a, "/readyz")
		m := tokenRE.FindStringSubmatch(body)
		if code != http.StatusOK || m == nil {
			t.Fatalf("/readyz of the holder = %d %q", code, body)
		}
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}

	a, alogs, _, adone := start("a")
	connected(a, alogs)
	b, blogs, bcancel, bdone := start("b")
	// b has tried for the lease once it says it is a standby.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body := get(b, "/healthz"); body == "irc.localhost standby\n" {
			break
		}
		if time.Now().After(deadline) {
			_, body := get(b, "/healthz")
			t.Fatalf("b never a standby: /healthz %q\n%s", body, blogs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tokA := token(a)
	if code, body := get(b, "/readyz"); code != http.StatusServiceUnavailable || body != "irc.localhost standby\n" {
		t.Errorf("standby /readyz = %d %q, want 503 standby", code, body)
	}
	if code, _ := get(b, "/healthz"); code != http.StatusOK {
		t.Errorf("standby /healthz = %d, want 200", code)
	}
	if b.Components()[0].Stats().Connected || b.Components()[0].Stats().StreamConnects != 0 {
		t.Errorf("the standby connected a stream: %+v", b.Components()[0].Stats())
	}
	for _, m := range []struct {
		a    *app.App
		want []string
	}{
		{a, []string{`switchboard_lease_holder{domain="irc.localhost",network="fake"} 1`,
			fmt.Sprintf(`switchboard_lease_token{domain="irc.localhost",network="fake"} %d`, tokA),
			`switchboard_lease_acquired_total{domain="irc.localhost",network="fake"} 1`}},
		{b, []string{`switchboard_lease_holder{domain="irc.localhost",network="fake"} 0`,
			`switchboard_lease_acquired_total{domain="irc.localhost",network="fake"} 0`}},
	} {
		_, body := get(m.a, "/metrics")
		for _, w := range m.want {
			if !strings.Contains(body, w) {
				t.Errorf("/metrics lacks %s", w)
			}
		}
	}

	// The lease vanishes under a (its TTL passed while it was paused): a
	// stops, b takes over.
	if out, err := srv.Cli("--scan", "--pattern", "switchboard:{_}l:irc.localhost"); err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("the lease key: %q %v", out, err)
	}
	if _, err := srv.Cli("DEL", "switchboard:{_}l:irc.localhost"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-adone:
		if !errors.Is(err, lease.ErrLost) {
			t.Fatalf("a's Run = %v, want lease.ErrLost\n%s", err, alogs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("a did not stop\n%s", alogs)
	}
	connected(b, blogs)
	if tokB := token(b); tokB <= tokA {
		t.Errorf("b's token %d not above a's %d", tokB, tokA)
	}

	bcancel()
	if err := <-bdone; err != nil {
		t.Fatalf("b's Run = %v", err)
	}
	if out, err := srv.Cli("EXISTS", "switchboard:{_}l:irc.localhost"); err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("after b stopped, EXISTS lease = %q %v, want 0 (released)", out, err)
	}
}
