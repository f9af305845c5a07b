// Command switchboard-demo shows Switchboard's main job end to end on this
// machine: it starts a real Prosody, a real InspIRCd with Atheme services
// and Switchboard (embedded storage) in a temporary directory, then drives
// a scripted XMPP user through service discovery, registration (checked by
// a real SASL login), a group chat and a private chat with a person on IRC,
// and unregistration, printing the conversation from both sides. With
// -discord it shows the Discord transport against Spacebar, a
// Discord-compatible server (see discord.go); with -sms the SMS
// transport through a real Kannel (sms.go).
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

const (
	gw       = "irc.localhost"
	legacyPW = "demo-irc-password"
	room     = "#demo%irc.test@" + gw
)

func main() {
	scene := run
	switch {
	case len(os.Args) > 1 && os.Args[1] == "-discord":
		scene = runDiscord
	case len(os.Args) > 1 && os.Args[1] == "-sms":
		scene = runSMS
	case len(os.Args) > 1:
		fmt.Fprintln(os.Stderr, "usage: switchboard-demo [-discord | -sms]")
		os.Exit(2)
	}
	if err := inTempDir(scene); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

// inTempDir runs scene in a new temporary directory (readable by the
// servers' own users), removed after.
func inTempDir(scene func(dir string) error) error {
	dir, err := os.MkdirTemp("", "switchboard-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	return scene(dir)
}

// startProsody starts Prosody in dir with the gateway domain as a
// component (secret "s3cret").
func startProsody(dir, domain string) (*testenv.Prosody, error) {
	step("Starting Prosody (Debian package) in %s", dir)
	p, err := testenv.LaunchProsody(dir, testenv.ProsodyOptions{Components: map[string]string{domain: "s3cret"}})
	if err != nil {
		return nil, err
	}
	show("c2s on %s, component port on %s", p.C2SAddr, p.ComponentAddr)
	return p, nil
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m▶ "+format+"\033[0m\n", args...)
}

func show(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}

func run(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	p, err := startProsody(dir, gw)
	if err != nil {
		return err
	}
	defer p.Shutdown()

	step("Starting InspIRCd with Atheme services (Debian packages)")
	ircd, err := testenv.LaunchInspIRCd(testenv.InspIRCdOptions{Services: true})
	if err != nil {
		return err
	}
	defer ircd.Close()
	show("IRC server irc.test on %s", ircd.Addr())
	if err := registerNick(ctx, ircd.Addr(), "alice", legacyPW); err != nil {
		return err
	}
	show("alice has a NickServ account on irc.test (password %q)", "•••••")

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
default_server = "irc.test"
[irc.servers."irc.test"]
address = %q
plaintext = true   # a loopback test server; TLS (6697) is the default
`, p.ComponentAddr, filepath.Join(dir, "switchboard.db"), filepath.Join(dir, "switchboard.key"), gw, ircd.Addr())
	sw, err := startSwitchboard(ctx, dir, cfgText, nil)
	if err != nil {
		return err
	}
	defer sw.Stop()
	show("component %s connected to Prosody (XEP-0114); health: http://%s/healthz", gw, sw.HTTPAddr())

	step("alice@localhost logs in with an ordinary XMPP client")
	c, err := login(ctx, p, "alice", "laptop")
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
	for _, it := range res.Find("{http://jabber.org/protocol/disco#items}query").Children {
		show("service: %s", it.Attr("jid"))
	}

	step("She asks %s what it is (disco#info)", gw)
	res, err = c.Request(ctx, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	if err != nil {
		return err
	}
	for _, el := range res.Find("{http://jabber.org/protocol/disco#info}query").Children {
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
	show("instructions: %s", res.Find("{jabber:iq:register}query", "instructions").Text)
	for _, f := range res.Find("{jabber:iq:register}query", "{jabber:x:data}x").Children {
		if f.Name.Local == "field" && f.Attr("type") != "hidden" {
			show("field %-10s %-13s %q", f.Attr("var"), f.Attr("type"), f.Attr("label"))
		}
	}

	register := func(password string) (string, error) {
		res, err := c.Request(ctx, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
			`<field var="nick"><value>alice</value></field><field var="password"><value>`+password+`</value></field></x></query></iq>`)
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
			return fmt.Sprintf("error %s: %s", cond, e.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text")), nil
		}
		return "registered", nil
	}
	step("She mistypes her NickServ password; the gateway checks it with a real SASL login")
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

	step("bob, on IRC with an ordinary IRC client, opens #demo")
	bob, err := dialPeer(ctx, ircd.Addr(), "bob")
	if err != nil {
		return err
	}
	defer bob.close()
	bob.send("JOIN #demo")
	bob.send("TOPIC #demo :Switchboard demo channel")
	if _, err := bob.expect(ctx, func(l string) bool { return strings.Contains(l, " TOPIC #demo ") }); err != nil {
		return err
	}

	step("alice joins %s/alice from her client's \"join group chat\"", room)
	if err := joinRoom(ctx, c, room, "alice", "role"); err != nil {
		return err
	}
	if _, err := bob.expect(ctx, func(l string) bool { return strings.Contains(l, "JOIN") && strings.HasPrefix(l, ":alice!") }); err != nil {
		return err
	}

	step("A conversation across the gateway")
	bob.say("PRIVMSG #demo :hello alice, are you on XMPP?")
	el, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Attr("type") == "groupchat" && el.Attr("from") == room+"/bob"
	})
	if err != nil {
		return err
	}
	show("[xmpp alice] <bob> %s", el.ChildText("", "body"))
	reply := "Hi bob! Yes, through Switchboard."
	show("[xmpp alice] says: %s", reply)
	if err := c.SendRaw(ctx, `<message type="groupchat" id="demo-1" to="`+room+`"><body>`+reply+`</body></message>`); err != nil {
		return err
	}
	if _, err := bob.expect(ctx, func(l string) bool { return strings.Contains(l, "PRIVMSG #demo :"+reply) }); err != nil {
		return err
	}
	if _, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Attr("type") == "groupchat" && el.Attr("id") == "demo-1"
	}); err != nil {
		return err
	}
	show("[xmpp alice] her message came back from the room (MUC reflection) once the IRC server echoed it")

	bob.say("PRIVMSG alice :psst, a private word")
	el, err = c.Next(ctx, func(el *testenv.Element) bool {
		return el.Attr("type") == "chat" && el.Attr("from") == "bob@"+gw
	})
	if err != nil {
		return err
	}
	show("[xmpp alice] private message from %s: %s", el.Attr("from"), el.ChildText("", "body"))
	show("[xmpp alice] answers: sure")
	if err := c.SendRaw(ctx, `<message type="chat" to="bob@`+gw+`"><body>sure</body></message>`); err != nil {
		return err
	}
	if _, err := bob.expect(ctx, func(l string) bool { return strings.Contains(l, "PRIVMSG bob :sure") }); err != nil {
		return err
	}
	if err := c.SendRaw(ctx, `<presence type="unavailable" to="`+room+`/alice"/>`); err != nil {
		return err
	}
	if _, err := bob.expect(ctx, func(l string) bool { return strings.Contains(l, " PART ") }); err != nil {
		return err
	}

	step("She runs the ad-hoc command \"Connection status\" (XEP-0050)")
	res, err = c.Request(ctx, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="status" action="execute"/></iq>`)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(res.Find("{http://jabber.org/protocol/commands}command", "note").Text, "\n") {
		show("%s", l)
	}

	step("Her credentials are stored sealed (XChaCha20-Poly1305)")
	db, err := os.ReadFile(filepath.Join(dir, "switchboard.db"))
	if err != nil {
		return err
	}
	show("registration stored: %v; IRC password readable in switchboard.db: %v",
		strings.Contains(string(db), "alice@localhost"), strings.Contains(string(db), legacyPW))

	step("She unregisters (XEP-0077 <remove/>)")
	res, err = c.Request(ctx, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><remove/></query></iq>`)
	if err != nil {
		return err
	}
	show("answer: %s; the gateway leaves her roster", res.Attr("type"))

	step("What Switchboard stored and logged (after a clean shutdown)")
	sw.Stop()
	logs := sw.Logged()
	show("IRC password in Switchboard's log: %v (%d log lines)", strings.Contains(logs, legacyPW), strings.Count(logs, "\n"))
	fi, err := os.Stat(filepath.Join(dir, "switchboard.key"))
	if err != nil {
		return err
	}
	show("key file mode: %v", fi.Mode().Perm())
	fmt.Println("\nDemo finished.")
	return nil
}

// peer is bob: a person on IRC with a plain IRC client. Every line bob
// sends or receives (except the server's chatter) is printed.
type peer struct {
	conn  net.Conn
	lines chan string
}

func dialPeer(ctx context.Context, addr, nick string) (*peer, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &peer{conn: conn, lines: make(chan string, 256)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "PING ") {
				fmt.Fprintf(conn, "PONG %s\r\n", l[5:])
				continue
			}
			p.lines <- l
		}
	}()
	p.send("NICK " + nick)
	p.send("USER " + nick + " 0 * :" + nick)
	if _, err := p.expect(ctx, func(l string) bool { return strings.Contains(l, " 001 ") }); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *peer) send(line string) { fmt.Fprintf(p.conn, "%s\r\n", line) }

// say sends a line and prints it as bob's.
func (p *peer) say(line string) {
	show("[irc   bob]   → %s", line)
	p.send(line)
}

// expect waits for a line matching match, printing it.
func (p *peer) expect(ctx context.Context, match func(string) bool) (string, error) {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("IRC connection closed")
			}
			if match(l) {
				show("[irc   bob]   ← %s", l)
				return l, nil
			}
		case <-ctx.Done():
			return "", fmt.Errorf("IRC: expected line not received: %w", ctx.Err())
		}
	}
}

func (p *peer) close() { p.conn.Close() }

// registerNick creates a NickServ account, the way a person does.
func registerNick(ctx context.Context, addr, nick, password string) error {
	p, err := dialPeer(ctx, addr, nick)
	if err != nil {
		return err
	}
	defer p.close()
	p.send("PRIVMSG NickServ :REGISTER " + password + " " + nick + "@example.com")
	_, err = p.expect(ctx, func(l string) bool { return strings.Contains(l, "is now registered to") })
	p.send("QUIT")
	return err
}
