package app_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestWebhookReachesXMPPClient is the whole path of a push-based network:
// a real HTTP POST to /hooks/fake/ on the [http] listener, signed for the
// public URL a reverse proxy serves it at, is delivered by the network to
// a registered user whose legacy session is not running, and arrives at
// the user's real XMPP client through Prosody. Bodies over
// max_body_bytes are refused; /healthz is still served.
func TestWebhookReachesXMPPClient(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{"sms.localhost": "s3cret"}})
	dir := t.TempDir()
	const public = "https://gw.example.org/switchboard/"
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "`+p.ComponentAddr+`"
[storage]
path = "`+filepath.Join(dir, "switchboard.db")+`"
[security]
key_file = "`+filepath.Join(dir, "switchboard.key")+`"
allowed_domains = ["localhost"]
[http]
listen = "127.0.0.1:0"
public_url = "`+public+`"
max_body_bytes = 4096
[irc]
domain = "sms.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	hn := transportstest.NewHooks(map[string]string{"u": "pw"}, "+15550001")
	logs := &testenv.LogBuffer{}
	a, err := app.New(app.Options{Config: cfg, Networks: []app.Network{fakeNetwork("irc", hn)}, Logger: app.NewLogger(cfg.Log, logs)})
	if err != nil {
		t.Fatal(err)
	}
	hookURL := public + "hooks/fake/"
	if got := hn.Hooks().PublicURL; got != hookURL {
		t.Fatalf("the network's public URL is %q, want %q", got, hookURL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := a.Components()[0].WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}

	// alice is registered and has a number, but has never told the
	// gateway she is online: no session runs for her.
	creds, err := hn.Register(ctx, "alice@localhost", transports.Credentials{"username": "u", "password": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Registry().Register(ctx, "alice@localhost", "fake", creds); err != nil {
		t.Fatal(err)
	}
	c := p.Login(t, p.CreateUser(t, "alice", "pw"), "pw", "phone", 0)

	post := func(path, body, signedFor string) int {
		t.Helper()
		req, err := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/hooks/fake/"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Fake-Signature", transportstest.Sign(hn.Secret, signedFor, []byte(body)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	form := url.Values{"to": {"+15550001"}, "from": {"+15557654321"}, "body": {"hello from the phone network"}, "id": {"SM1"}}.Encode()
	// Signed for the URL the listener is reached at, not the public one:
	// refused.
	if code := post("message", form, "http://"+a.HTTPAddr()+"/hooks/fake/message"); code != http.StatusForbidden {
		t.Fatalf("request signed for the internal URL: status %d, want 403", code)
	}
	if code := post("message", form, hookURL+"message"); code != http.StatusNoContent {
		t.Fatalf("webhook: status %d, want 204", code)
	}
	m := c.Expect(t, "the message", func(el *testenv.Element) bool {
		return testenv.IsStanza(el, "message") && el.Child("", "body") != nil
	})
	if m.Attr("from") != "+15557654321@sms.localhost" || m.Child("", "body").Text != "hello from the phone network" {
		t.Errorf("got %s", m)
	}
	if hn.Connects() != 0 {
		t.Errorf("delivery started %d legacy sessions, want none", hn.Connects())
	}

	big := url.Values{"to": {"+15550001"}, "body": {strings.Repeat("x", 5000)}}.Encode()
	if code := post("message", big, hookURL+"message"); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over max_body_bytes: status %d, want 413", code)
	}
	res, err := http.Get("http://" + a.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", res.StatusCode)
	}
	res, err = http.Post("http://"+a.HTTPAddr()+"/hooks/other/message", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("a network without hooks: status %d, want 404", res.StatusCode)
	}
}
