package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestMetricsJournalPending: /metrics shows how many of the users'
// messages are in the inbound journal, read and not yet handled: none at
// first, then the two a slow send rate holds back behind the one sent.
func TestMetricsJournalPending(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{"irc.localhost": "s3cret"}})
	dir := t.TempDir()
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "`+p.ComponentAddr+`"
[storage]
path = "`+filepath.Join(dir, "switchboard.db")+`"
[security]
key_file = "`+filepath.Join(dir, "switchboard.key")+`"
allowed_domains = ["localhost"]
[http]
listen = "127.0.0.1:0"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	net := transportstest.New(map[string]string{"nick": "legacy-pw"})
	logs := &testenv.LogBuffer{}
	a, err := app.New(app.Options{
		Config:   cfg,
		Networks: []app.Network{fakeNetwork("irc", net)},
		Logger:   app.NewLogger(cfg.Log, logs),
		// One message through, the next ones wait for the send rate:
		// read, journaled, not handled.
		Tune: func(c *component.Config) { c.SendRate, c.SendBurst = 0.0001, 1 },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := a.Components()[0].WaitConnected(wctx); err != nil {
		t.Fatalf("not connected: %v\n%s", err, logs)
	}
	const line = `switchboard_journal_pending{domain="irc.localhost",network="fake"} `
	pending := func() string {
		t.Helper()
		res, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, line); ok {
				return v
			}
		}
		t.Fatalf("/metrics has no %s\n%s", line, b)
		return ""
	}
	if v := pending(); v != "0" {
		t.Fatalf("journal pending at start = %s, want 0", v)
	}

	c := p.Login(t, p.CreateUser(t, "alice", "pw"), "pw", "pc", 0)
	res := c.IQ(t, `<iq type="set" to="irc.localhost"><query xmlns="jabber:iq:register"><username>nick</username><password>legacy-pw</password></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("register: %s", res)
	}
	c.Send(t, `<presence to="irc.localhost" type="subscribed"/>`)
	adapter, err := net.WaitAdapter(wctx, "alice@localhost")
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	for i := 1; i <= 3; i++ {
		c.Send(t, fmt.Sprintf(`<message type="chat" id="m%d" to="bob@irc.localhost"><body>message %d</body></message>`, i, i))
	}
	select {
	case m := <-adapter.Sent():
		if m.Body != "message 1" {
			t.Fatalf("first message sent = %q", m.Body)
		}
	case <-wctx.Done():
		t.Fatalf("nothing sent\n%s", logs)
	}
	var v string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if v = pending(); v == "2" {
			return
		}
	}
	t.Fatalf("journal pending = %s, want 2 (messages 2 and 3 waiting)\n%s", v, logs)
}
