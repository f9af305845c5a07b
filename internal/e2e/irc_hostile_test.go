package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
)

// Namespaces the e2e tests match stanzas by.
const (
	nsClient  = "jabber:client"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// hostileIRC is a scripted IRC server on 127.0.0.1 that does what no
// real server would: the test writes its lines, raw.
type hostileIRC struct {
	ln       net.Listener
	conns    chan *hostileConn
	accepted atomic.Int32
}

// hostileConn is one client connection to the hostile server.
type hostileConn struct {
	c     net.Conn
	lines chan string
}

func startHostileIRC(t *testing.T) *hostileIRC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileIRC{ln: ln, conns: make(chan *hostileConn, 10)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			t.Cleanup(func() { c.Close() })
			hc := &hostileConn{c: c, lines: make(chan string, 10000)}
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					select {
					case hc.lines <- sc.Text():
					default: // nobody reads: dropped
					}
				}
				close(hc.lines)
			}()
			h.conns <- hc
		}
	}()
	return h
}

func (h *hostileIRC) next(t *testing.T) *hostileConn {
	t.Helper()
	select {
	case c := <-h.conns:
		return c
	case <-time.After(timeout):
		t.Fatal("the gateway did not connect to the hostile server")
		return nil
	}
}

// expect waits for a line from the gateway starting with prefix.
func (c *hostileConn) expect(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the gateway closed the connection; wanted %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("the gateway did not send %q", prefix)
		}
	}
}

// send writes lines, each ended by CR LF; errors (the gateway hung up)
// are ignored: what matters is what the gateway does.
func (c *hostileConn) send(lines ...string) {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	c.c.SetWriteDeadline(time.Now().Add(timeout))
	c.c.Write([]byte(b.String()))
}

// TestHostileIRCServer: an IRC server the admin configured turns hostile.
// It sends CTCP requests without a source (which crashed the process),
// a source-less PRIVMSG, forced JOINs, huge NAMES replies, invalid UTF-8,
// a 1 MB PRIVMSG followed by "hi", and finally an endless line. The user
// sees the long message cut, with a note, then "hi", and is told when the
// endless line ends the connection; the component's stream to Prosody is
// never reconnected, and another user on the real InspIRCd is still
// served.
func TestHostileIRCServer(t *testing.T) {
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	ircd := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	hostile := startHostileIRC(t)
	network := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers: map[string]irc.Server{
			"irc.test":     {Address: ircd.Addr(), Plaintext: true},
			"hostile.test": {Address: hostile.ln.Addr().String(), Plaintext: true},
		},
		SendRate: 50, SendBurst: 50,
		Timeout: timeout,
		Logger:  debugLogger(logs),
	})
	s := &stack{gateway: startGateway(t, p, gw, network, logs), ircd: ircd}
	s.p.CreateUser(t, "alice", "xmpp-pw")
	s.p.CreateUser(t, "carol", "xmpp-pw")

	alice := s.login(t, "alice", "pc")
	room := "#h%hostile.test@" + gw
	alice.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	hc := hostile.next(t)
	hc.expect(t, "CAP LS")
	hc.send(":hostile.test CAP * LS :")
	hc.expect(t, "CAP END")
	hc.send(":hostile.test 001 alice :Welcome",
		":hostile.test 005 alice CHANTYPES=# PREFIX=(ov)@+ :are supported",
		":hostile.test 422 alice :No MOTD")
	hc.expect(t, "JOIN #h")
	hc.send(":alice!u@h JOIN #h", ":hostile.test 353 alice = #h :alice @bob", ":hostile.test 366 alice #h :End")
	alice.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))

	// Requests without a source, and a source-less message.
	hc.send("PRIVMSG alice :\x01VERSION\x01", "PRIVMSG alice :\x01PING 1\x01", "PRIVMSG alice :\x01TIME\x01",
		"PRIVMSG #h :\x01VERSION\x01", "PRIVMSG #h :no source", "AWAY :x", "@account=x 001 alice :x")
	// Forced joins, beyond any sane number of channels.
	var forced []string
	for i := range 150 {
		forced = append(forced, ":alice!u@h JOIN #forced"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26))
	}
	hc.send(forced...)
	// Huge NAMES replies, for #h (already synced) and a forced channel.
	names := strings.Repeat("n", 20) + " "
	for range 30 {
		hc.send(":hostile.test 353 alice = #h :"+strings.Repeat(names, 400), ":hostile.test 353 alice = #forceda :"+strings.Repeat(names, 400))
	}
	hc.send(":hostile.test 366 alice #forceda :End")
	// Invalid UTF-8, then the 1 MB line and "hi".
	hc.send(":bob!b@h PRIVMSG #h :\xff\xfe\xc3 bad bytes", ":bob!b@h PRIVMSG #h :"+strings.Repeat("x", 1<<20), ":bob!b@h PRIVMSG #h :hi")

	long := alice.Expect(t, "the long message, cut", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == room+"/bob" && strings.HasPrefix(el.ChildText(nsClient, "body"), "xxxx")
	})
	if b := long.ChildText(nsClient, "body"); !strings.HasSuffix(b, " [cut: the line was too long]") || len(b) > 10<<10 {
		t.Errorf("long message: %d bytes, ends %q", len(b), b[max(0, len(b)-40):])
	}
	alice.Expect(t, "hi after the long message", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == room+"/bob" && el.ChildText(nsClient, "body") == "hi"
	})

	// An endless line: the gateway drops the connection and says why.
	go func() {
		chunk := []byte(strings.Repeat("A", 64<<10))
		hc.c.SetWriteDeadline(time.Now().Add(timeout))
		for range 3 << 20 / len(chunk) {
			if _, err := hc.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	alice.Expect(t, "the dropped connection", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && strings.Contains(el.ChildText(nsClient, "body"), "longer than 2 MiB")
	})
	if n := s.comp.Stats().StreamConnects; n != 1 {
		t.Errorf("the component connected to Prosody %d times, want 1", n)
	}

	// Another user, on the real InspIRCd, is still served.
	dave := testenv.DialIRC(t, ircd.Addr(), "dave")
	dave.Join(t, "#room")
	carol := s.login(t, "carol", "pc")
	main := "#room@" + gw
	carol.Send(t, `<presence to="`+main+`/carol"><x xmlns="`+nsMUC+`"/></presence>`)
	carol.Expect(t, "carol in #room", isPresenceFrom(main+"/carol", "110"))
	dave.Send("PRIVMSG #room :hello carol")
	carol.Expect(t, "dave's message", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == main+"/dave" && el.ChildText(nsClient, "body") == "hello carol"
	})
	carol.Send(t, `<message type="groupchat" to="`+main+`"><body>hello dave</body></message>`)
	dave.Expect(t, timeout, func(l testenv.IRCLine) bool {
		return l.Command == "PRIVMSG" && l.Source == "carol" && l.Param(1) == "hello dave"
	})
	if n := s.comp.Stats().StreamConnects; n != 1 {
		t.Errorf("the component connected to Prosody %d times, want 1", n)
	}
}

// TestIRCServerPolicy: an unregistered user naming a server the admin did
// not allow (a loopback or private address, or any other name) gets
// not-allowed with a text naming the policy, and no connection is made.
func TestIRCServerPolicy(t *testing.T) {
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	ircd := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	// Every dial goes through this function: it connects to this machine
	// only and counts any other attempt, so that even a broken policy
	// sends no packet elsewhere.
	var offMachine atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			offMachine.Add(1)
			return nil, errors.New("test: only loopback addresses are dialled")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	network := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers:       map[string]irc.Server{"irc.test": {Address: ircd.Addr(), Plaintext: true}},
		Timeout:       timeout,
		Dial:          dial,
		Logger:        debugLogger(logs),
	})
	s := &stack{gateway: startGateway(t, p, gw, network, logs), ircd: ircd}
	s.p.CreateUser(t, "alice", "xmpp-pw")
	// Where a refused join of #x%127.0.0.1 would connect (6697), a
	// listener notices any connection. If the port is taken, the error
	// is still checked; only this extra witness is missing.
	var accepted atomic.Int32
	if ln, err := net.Listen("tcp", "127.0.0.1:6697"); err == nil {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
	} else {
		t.Logf("127.0.0.1:6697 is taken (%v): no listener witness", err)
	}
	c := s.login(t, "alice", "pc")
	for _, room := range []string{"#x%127.0.0.1@" + gw, "#x%10.0.0.5@" + gw, "#x%169.254.169.254@" + gw, "#x%irc.example.org@" + gw} {
		c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
		e := c.Expect(t, "refusal of "+room, func(el *testenv.Element) bool {
			return el.Name.Local == "presence" && el.Attr("type") == "error" && el.Attr("from") == room+"/alice"
		})
		errEl := e.Child(nsClient, "error")
		if errEl == nil || errEl.Child(nsStanzas, "not-allowed") == nil ||
			!strings.Contains(errEl.ChildText(nsStanzas, "text"), "allowed_servers") {
			t.Errorf("join of %s: %s", room, e)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections reached 127.0.0.1:6697", n)
	}
	if n := offMachine.Load(); n != 0 {
		t.Errorf("%d connection attempts to other machines", n)
	}
	// The allowed server is still reached through the same dialler.
	c.Send(t, `<presence to="#ok@`+gw+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence in #ok", isPresenceFrom("#ok@"+gw+"/alice", "110"))
}
