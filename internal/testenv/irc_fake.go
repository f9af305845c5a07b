package testenv

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// FakeIRC is a scripted IRC server on 127.0.0.1, for what no IRC server
// installed here can show (IRCv3 draft/message-redaction: InspIRCd 3 and
// ngIRCd lack it). The test speaks the server's side of each connection
// line by line through a FakeIRCConn, with the unmodified client (the
// gateway's irc package) on the other end.
type FakeIRC struct {
	// Addr is host:port of the listener (127.0.0.1).
	Addr string

	ln    net.Listener
	conns chan net.Conn
}

// StartFakeIRC starts a scripted IRC server; it stops when the test ends.
func StartFakeIRC(t testing.TB) *FakeIRC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake IRC: %v", err)
	}
	f := &FakeIRC{Addr: ln.Addr().String(), ln: ln, conns: make(chan net.Conn, 8)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(f.conns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case f.conns <- c:
			default:
				c.Close() // nobody accepts that many
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for c := range f.conns {
			c.Close()
		}
	})
	return f
}

// FakeIRCConn is the server's side of one client connection: an IRCClient
// over it (Send, Expect, ExpectNone), plus the server's parts of the
// registration and of a join. It answers the client's PINGs only when told
// (Pong): a server answers in order, so a test sends what a command
// answers before the PONG of a PING the client wrote after it.
type FakeIRCConn struct {
	*IRCClient
	// Caps are the capabilities the client requested and the server
	// acknowledged.
	Caps []string
}

// Accept waits up to timeout for the next client connection.
func (f *FakeIRC) Accept(t testing.TB, timeout time.Duration) *FakeIRCConn {
	t.Helper()
	select {
	case c, ok := <-f.conns:
		if !ok {
			t.Fatal("fake IRC: closed")
		}
		fc := &FakeIRCConn{IRCClient: newIRCClient(t, c, false)}
		t.Cleanup(func() { c.Close() }) // before the IRCClient's QUIT: a server just hangs up
		return fc
	case <-time.After(timeout):
		t.Fatalf("fake IRC: no connection within %v", timeout)
		return nil
	}
}

// AnswerRegistration answers the client's registration as server
// srv.test would: CAP LS 302 with offered, an ACK of what it requests
// among them (NAK otherwise), then, after CAP END, NICK and USER, the
// welcome, RPL_ISUPPORT (CHANTYPES=#, PREFIX=(ov)@+) and no MOTD. It
// returns the client's nick.
func (c *FakeIRCConn) AnswerRegistration(t testing.TB, offered ...string) string {
	t.Helper()
	const wait = 10 * time.Second
	c.Expect(t, wait, func(l IRCLine) bool { return l.Command == "CAP" && l.Param(0) == "LS" })
	c.Send(":srv.test CAP * LS :" + strings.Join(offered, " "))
	nick := ""
	for done := false; !done; {
		l := c.Expect(t, wait, func(l IRCLine) bool { return l.Command == "CAP" || l.Command == "NICK" })
		switch {
		case l.Command == "NICK":
			nick = l.Param(0)
		case l.Param(0) == "REQ":
			asked := strings.Fields(l.Param(1))
			ok := true
			for _, name := range asked {
				ok = ok && slices.Contains(offered, name)
			}
			if !ok {
				c.Send(":srv.test CAP * NAK :" + l.Param(1))
				continue
			}
			c.Caps = append(c.Caps, asked...)
			c.Send(":srv.test CAP * ACK :" + l.Param(1))
		case l.Param(0) == "END":
			done = true
		}
	}
	if nick == "" {
		nick = c.Expect(t, wait, func(l IRCLine) bool { return l.Command == "NICK" }).Param(0)
	}
	c.Nick = nick
	c.Send(":srv.test 001 " + nick + " :Welcome to the scripted IRC server")
	c.Send(":srv.test 005 " + nick + " CHANTYPES=# PREFIX=(ov)@+ :are supported by this server")
	c.Send(":srv.test 422 " + nick + " :MOTD File is missing")
	return nick
}

// AnswerJoin waits for the client's JOIN of channel and answers it: the
// JOIN from the client's nick, the member list (members with their
// status prefixes: "@op", "bob"; the client's nick is added) and its end.
func (c *FakeIRCConn) AnswerJoin(t testing.TB, channel string, members ...string) {
	t.Helper()
	c.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "JOIN" && strings.EqualFold(l.Param(0), channel) })
	c.Send(":" + c.Nick + "!u@client.test JOIN " + channel)
	c.Send(":srv.test 353 " + c.Nick + " = " + channel + " :" + strings.Join(append([]string{c.Nick}, members...), " "))
	c.Send(":srv.test 366 " + c.Nick + " " + channel + " :End of /NAMES list.")
}

// Pong waits for the client's next PING and answers it.
func (c *FakeIRCConn) Pong(t testing.TB) {
	t.Helper()
	l := c.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "PING" })
	c.Send(":srv.test PONG srv.test :" + l.Param(0))
}
