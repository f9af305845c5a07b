// Command switchboard-demo shows Switchboard's main job end to end on this
// machine: it starts a real Prosody and Switchboard (embedded storage) in a
// temporary directory, then drives a scripted XMPP user through service
// discovery, registration, a conversation and unregistration, printing
// what happens on the wire.
//
// The legacy network is a stand-in echo network until the IRC transport
// lands; everything on the XMPP side is the real thing.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const (
	gw       = "irc.localhost"
	legacyPW = "demo-legacy-password"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m▶ "+format+"\033[0m\n", args...)
}

func show(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}

func run() error {
	dir, err := os.MkdirTemp("", "switchboard-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	step("Starting Prosody (Debian package) in %s", dir)
	p, err := testenv.LaunchProsody(dir, testenv.ProsodyOptions{Components: map[string]string{gw: "s3cret"}})
	if err != nil {
		return err
	}
	defer p.Shutdown()
	show("c2s on %s, component port on %s", p.C2SAddr, p.ComponentAddr)

	cfgText := fmt.Sprintf(`[xmpp]
server = %q
[storage]
path = %q
[security]
key_file = %q
allowed_domains = ["localhost"]
admins = ["admin@localhost"]
[http]
listen = "127.0.0.1:0"
[irc]
domain = %q
secret = "s3cret"
`, p.ComponentAddr, filepath.Join(dir, "switchboard.db"), filepath.Join(dir, "switchboard.key"), gw)
	step("Starting Switchboard with this switchboard.toml")
	for _, l := range strings.Split(strings.TrimSpace(cfgText), "\n") {
		show("%s", l)
	}
	cfg, err := config.Parse("switchboard.toml", []byte(cfgText))
	if err != nil {
		return err
	}
	legacy := transportstest.New(map[string]string{"alice-irc": legacyPW})
	legacy.NetName = "irc"
	legacy.Ident = transports.Identity{Category: "gateway", Type: "irc", Name: "IRC (demo echo network)"}
	logFile, err := os.Create(filepath.Join(dir, "switchboard.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	a, err := app.New(app.Options{
		Config:   cfg,
		Networks: map[string]app.NetworkFactory{"irc": func(config.NetworkEntry, *slog.Logger) (transports.Network, error) { return legacy, nil }},
		Logger:   app.NewLogger(config.Log{Level: "debug", Format: "text"}, logFile),
		Version:  "demo",
	})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	var stopOnce sync.Once
	stopApp := func() { stopOnce.Do(func() { stop(); <-done }) }
	defer stopApp()
	if err := a.Components()[0].WaitConnected(ctx); err != nil {
		return fmt.Errorf("switchboard did not connect: %w", err)
	}
	show("component %s connected to Prosody (XEP-0114); health: http://%s/healthz", gw, a.HTTPAddr())

	step("alice@localhost logs in with an ordinary XMPP client")
	alice, err := p.AddUser("alice", "alice-pw")
	if err != nil {
		return err
	}
	c, err := testenv.Dial(ctx, p.C2SAddr, alice, "alice-pw", "laptop", 0)
	if err != nil {
		return err
	}
	defer c.Shutdown()
	show("bound as %s", c.JID)

	step("She browses her server's services (disco#items on localhost)")
	res, err := c.Request(ctx, `<iq type="get" to="localhost"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	if err != nil {
		return err
	}
	for _, it := range res.Find("query").Children {
		show("service: %s", it.Attr("jid"))
	}

	step("She asks %s what it is (disco#info)", gw)
	res, err = c.Request(ctx, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	if err != nil {
		return err
	}
	for _, el := range res.Find("query").Children {
		switch el.Name.Local {
		case "identity":
			show("identity %s/%s %q", el.Attr("category"), el.Attr("type"), el.Attr("name"))
		case "feature":
			show("feature  %s", el.Attr("var"))
		}
	}

	step("She opens the registration dialog (XEP-0077 with a data form)")
	res, err = c.Request(ctx, `<iq type="get" to="`+gw+`"><query xmlns="jabber:iq:register"/></iq>`)
	if err != nil {
		return err
	}
	show("instructions: %s", res.Find("query", "instructions").Text)
	for _, f := range res.Find("query", "x").Children {
		if f.Name.Local == "field" && f.Attr("type") != "hidden" {
			show("field %-10s %-13s %q", f.Attr("var"), f.Attr("type"), f.Attr("label"))
		}
	}

	register := func(password string) (string, error) {
		res, err := c.Request(ctx, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
			`<field var="username"><value>alice-irc</value></field><field var="password"><value>`+password+`</value></field></x></query></iq>`)
		if err != nil {
			return "", err
		}
		if res.Attr("type") == "error" {
			e := res.Child("", "error")
			cond := ""
			for _, ch := range e.Children {
				if ch.Name.Local != "text" {
					cond = ch.Name.Local
				}
			}
			return fmt.Sprintf("error %s: %s", cond, e.ChildText("", "text")), nil
		}
		return "registered", nil
	}
	step("She mistypes her password; the gateway checks it by logging in")
	out, err := register("wrong-password")
	if err != nil {
		return err
	}
	show("%s", out)

	step("She types it right")
	out, err = register(legacyPW)
	if err != nil {
		return err
	}
	show("%s", out)
	if _, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == gw && el.Attr("type") == "subscribe"
	}); err != nil {
		return fmt.Errorf("no subscription request from the gateway: %w", err)
	}
	show("the gateway asks to see her presence; her client accepts")
	if err := c.SendRaw(ctx, `<presence to="`+gw+`" type="subscribed"/>`); err != nil {
		return err
	}
	pres, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == gw && el.ChildText("", "status") == "Connected"
	})
	if err != nil {
		return fmt.Errorf("gateway never said connected: %w", err)
	}
	show("gateway presence: %q", pres.ChildText("", "status"))

	step("She writes to a legacy contact, echo@%s", gw)
	if err := c.SendRaw(ctx, `<message type="chat" to="echo@`+gw+`" id="d1"><body>Hello from XMPP!</body><request xmlns="urn:xmpp:receipts"/></message>`); err != nil {
		return err
	}
	for range 2 {
		el, err := c.Next(ctx, func(el *testenv.Element) bool {
			return el.Name.Local == "message" && strings.HasPrefix(el.Attr("from"), "echo@")
		})
		if err != nil {
			return err
		}
		if el.Child("urn:xmpp:receipts", "received") != nil {
			show("receipt: the legacy network accepted message %s", el.Child("urn:xmpp:receipts", "received").Attr("id"))
		} else {
			show("%s says: %q", el.Attr("from"), el.ChildText("", "body"))
		}
	}

	step("She runs the ad-hoc command \"Connection status\" (XEP-0050)")
	res, err = c.Request(ctx, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="status" action="execute"/></iq>`)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(res.Find("command", "note").Text, "\n") {
		show("%s", l)
	}

	step("Her credentials are stored sealed (XChaCha20-Poly1305)")
	db, err := os.ReadFile(filepath.Join(dir, "switchboard.db"))
	if err != nil {
		return err
	}
	show("registration stored: %v; password readable in switchboard.db: %v",
		strings.Contains(string(db), "alice@localhost"), strings.Contains(string(db), legacyPW))

	step("She unregisters (XEP-0077 <remove/>)")
	res, err = c.Request(ctx, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><remove/></query></iq>`)
	if err != nil {
		return err
	}
	show("answer: %s; the gateway leaves her roster", res.Attr("type"))

	step("What Switchboard stored and logged (after a clean shutdown)")
	stopApp()
	logs, _ := os.ReadFile(logFile.Name())
	show("password in Switchboard's log: %v (%d log lines)", strings.Contains(string(logs), legacyPW), strings.Count(string(logs), "\n"))
	fi, err := os.Stat(filepath.Join(dir, "switchboard.key"))
	if err != nil {
		return err
	}
	show("key file mode: %v", fi.Mode().Perm())
	fmt.Println("\nDemo finished.")
	return nil
}
