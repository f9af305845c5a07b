package testenv

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const ircWait = 10 * time.Second

func isPrivmsg(from, target, text string) func(IRCLine) bool {
	return func(l IRCLine) bool {
		return l.Command == "PRIVMSG" && l.Source == from && l.Param(0) == target && l.Param(1) == text
	}
}

func isNumeric(code string) func(IRCLine) bool {
	return func(l IRCLine) bool { return l.Command == code }
}

// checkServerTime fails unless l carries IRCv3 server-time and msgid tags.
func checkServerTime(t *testing.T, l IRCLine) {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", l.Tags["time"])
	if err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
		t.Errorf("time tag of %q: %v", l.Raw, err)
	}
	if l.Tags["msgid"] == "" {
		t.Errorf("no msgid tag: %q", l.Raw)
	}
}

// saslPlain registers a new connection as nick with SASL PLAIN and returns
// the outcome numeric (903 or 904); the connection is then registered.
func saslPlain(t *testing.T, addr, nick, account, password string) (*IRCClient, IRCLine) {
	t.Helper()
	c := ConnectIRC(t, addr)
	c.Send("CAP LS 302")
	c.Send("NICK " + nick)
	c.Send("USER " + nick + " 0 * :" + nick)
	c.Send("CAP REQ :sasl")
	c.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "CAP" && l.Param(1) == "ACK" && l.Param(2) == "sasl" })
	c.Send("AUTHENTICATE PLAIN")
	c.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "AUTHENTICATE" && l.Param(0) == "+" })
	c.Send("AUTHENTICATE " + SASLPlain(account, password))
	res := c.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "903" || l.Command == "904" })
	c.Send("CAP END")
	c.Expect(t, ircWait, isNumeric("001"))
	return c, res
}

func TestInspIRCdChannelAndSASL(t *testing.T) {
	t.Parallel()
	s := StartInspIRCd(t, InspIRCdOptions{Services: true})

	alice := DialIRC(t, s.Addr(), "alice", "server-time", "message-tags")
	bob := DialIRC(t, s.Addr(), "bob", "server-time", "message-tags")
	alice.Join(t, "#room")
	bob.Join(t, "#room")
	alice.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "JOIN" && l.Source == "bob" && l.Param(0) == "#room" })

	alice.Send("PRIVMSG #room :hello bob")
	checkServerTime(t, bob.Expect(t, ircWait, isPrivmsg("alice", "#room", "hello bob")))
	bob.Send("PRIVMSG #room :hi alice")
	checkServerTime(t, alice.Expect(t, ircWait, isPrivmsg("bob", "#room", "hi alice")))
	bob.Send("PRIVMSG alice :private")
	checkServerTime(t, alice.Expect(t, ircWait, isPrivmsg("bob", "alice", "private")))
	alice.ExpectNone(t, 200*time.Millisecond, isPrivmsg("alice", "#room", "hello bob")) // no echo-message requested

	s.RegisterAccount(t, "carol", "carolpw1")
	c, res := saslPlain(t, s.Addr(), "carol", "carol", "carolpw1")
	if res.Command != "903" {
		t.Fatalf("SASL with the right password: %s", res.Raw)
	}
	logged := c.Expect(t, ircWait, isNumeric("900"))
	if logged.Param(2) != "carol" {
		t.Errorf("900 names account %q: %s", logged.Param(2), logged.Raw)
	}
	if _, res := saslPlain(t, s.Addr(), "mallory", "carol", "wrong-password"); res.Command != "904" {
		t.Fatalf("SASL with a wrong password: %s", res.Raw)
	}
	// Lines keeps the claimed lines too, in order.
	ls := alice.Lines()
	if i := slices.IndexFunc(ls, isNumeric("001")); i < 0 || slices.IndexFunc(ls, isPrivmsg("bob", "alice", "private")) < i {
		t.Errorf("Lines() = %v", ls)
	}
}

func TestInspIRCdRestart(t *testing.T) {
	t.Parallel()
	s := StartInspIRCd(t, InspIRCdOptions{Services: true})
	s.RegisterAccount(t, "dave", "davepw12")
	c := DialIRC(t, s.Addr(), "watcher")

	s.Stop()
	c.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "ERROR" }) // the server said goodbye
	if conn, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("the stopped server still accepts connections")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("Start on a running server did not fail")
	}
	// Same port, services relinked, the account kept.
	if _, res := saslPlain(t, s.Addr(), "dave", "dave", "davepw12"); res.Command != "903" {
		t.Fatalf("SASL after restart: %s", res.Raw)
	}
	if log := s.ServicesLog(); bytes.Count([]byte(log), []byte("finished synching with uplink")) != 2 {
		t.Errorf("Atheme did not sync twice:\n%s", log)
	}
	if s.Log() == "" {
		t.Error("empty InspIRCd log")
	}
}

func TestInspIRCdTLS(t *testing.T) {
	t.Parallel()
	s := StartInspIRCd(t, InspIRCdOptions{TLS: true})
	if s.TLSAddr() == "" || s.TLSAddr() == s.Addr() {
		t.Fatalf("TLSAddr = %q, Addr = %q", s.TLSAddr(), s.Addr())
	}
	if b, err := os.ReadFile(s.CAFile); err != nil || !bytes.Equal(b, s.CAPEM) {
		t.Fatalf("CAFile %s: %v", s.CAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	for i, name := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Fatalf("TLS as %s: %v", name, err)
		}
		c := NewIRCClient(t, conn)
		c.Register(t, "tls"+strconv.Itoa(i), "server-time")
		c.Join(t, "#secure")
	}
	// The certificate is really checked: without the CA it is refused.
	conn, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{ServerName: "localhost"})
	var unknown x509.UnknownAuthorityError
	if err == nil {
		conn.Close()
		t.Fatal("TLS without the test CA succeeded")
	} else if !errors.As(err, &unknown) {
		t.Errorf("TLS without the test CA: %v", err)
	}
	DialIRC(t, s.Addr(), "plain") // the plaintext listener still works
	if s.TLSConfig() == nil {
		t.Error("TLSConfig() = nil")
	}
}

func TestInspIRCdManyClients(t *testing.T) {
	t.Parallel()
	s := StartInspIRCd(t, InspIRCdOptions{})
	manyClients(t, s.Addr(), 200)
}

func TestNgIRCd(t *testing.T) {
	t.Parallel()
	s := StartNgIRCd(t)
	alice := DialIRC(t, s.Addr(), "alice")
	bob := DialIRC(t, s.Addr(), "bob", "multi-prefix")
	alice.Join(t, "#room")
	bob.Join(t, "#room")
	alice.Send("PRIVMSG #room :hello bob")
	bob.Expect(t, ircWait, isPrivmsg("alice", "#room", "hello bob"))
	bob.Send("PRIVMSG alice :hi alice")
	alice.Expect(t, ircWait, isPrivmsg("bob", "alice", "hi alice"))

	s.Stop()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	carol := DialIRC(t, s.Addr(), "carol_with_a_long_nick")
	if carol.Nick != "carol_with_a_long_nick" {
		t.Errorf("Nick = %q", carol.Nick)
	}
	manyClients(t, s.Addr(), 100)
	if s.Log() == "" {
		t.Error("empty ngIRCd log")
	}
}

// manyClients connects n clients from 127.0.0.1 at once, all in one
// channel, and checks that a message reaches the last. The clients
// register concurrently: InspIRCd 3 completes registrations once a second.
func manyClients(t *testing.T, addr string, n int) {
	t.Helper()
	cs := make([]*IRCClient, n)
	for i := range cs {
		nick := "user" + strconv.Itoa(i)
		cs[i] = ConnectIRC(t, addr)
		cs[i].Send("NICK " + nick)
		cs[i].Send("USER " + nick + " 0 * :" + nick)
	}
	for _, c := range cs {
		c.Expect(t, ircWait, isNumeric("001"))
		c.Send("JOIN #crowd")
	}
	for _, c := range cs {
		c.Expect(t, ircWait, func(l IRCLine) bool { return l.Command == "366" && l.Param(1) == "#crowd" })
	}
	cs[0].Send("PRIVMSG #crowd :hello everyone")
	for _, c := range cs[1:] {
		c.Expect(t, ircWait, isPrivmsg("user0", "#crowd", "hello everyone"))
	}
}

func TestParseIRCLine(t *testing.T) {
	for raw, want := range map[string]IRCLine{
		`@time=2024-01-02T03:04:05.678Z;msgid=abc;x=a\sb\:c\\d :nick!user@host PRIVMSG #chan :hello  world`: {
			Tags:   map[string]string{"time": "2024-01-02T03:04:05.678Z", "msgid": "abc", "x": `a b;c\d`},
			Prefix: "nick!user@host", Source: "nick", Command: "PRIVMSG", Params: []string{"#chan", "hello  world"},
		},
		`:irc.test 366 alice #room :End of /NAMES list.`: {
			Prefix: "irc.test", Source: "irc.test", Command: "366", Params: []string{"alice", "#room", "End of /NAMES list."},
		},
		`PING :token`:            {Command: "PING", Params: []string{"token"}},
		`:a!b@c MODE #x +o  bob`: {Prefix: "a!b@c", Source: "a", Command: "MODE", Params: []string{"#x", "+o", "bob"}},
		`@flag :srv CAP * LS :`:  {Tags: map[string]string{"flag": ""}, Prefix: "srv", Source: "srv", Command: "CAP", Params: []string{"*", "LS", ""}},
		`:n@h AWAY`:              {Prefix: "n@h", Source: "n", Command: "AWAY"},
	} {
		want.Raw = raw
		if got := ParseIRCLine(raw); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseIRCLine(%q) =\n%#v, want\n%#v", raw, got, want)
		}
	}
}

func FuzzParseIRCLine(f *testing.F) {
	f.Add(`@time=2024-01-02T03:04:05.678Z;x=a\sb :nick!user@host PRIVMSG #chan :hello`)
	f.Add(`PING :x`)
	f.Add(`@;= :  `)
	f.Fuzz(func(t *testing.T, raw string) {
		l := ParseIRCLine(raw)
		if l.Raw != raw {
			t.Fatalf("Raw = %q", l.Raw)
		}
		if strings.Contains(l.Command, " ") {
			t.Fatalf("Command %q has a space", l.Command)
		}
		for _, p := range l.Params[:max(len(l.Params)-1, 0)] {
			if p == "" || strings.Contains(p, " ") {
				t.Fatalf("middle param %q in %q", p, raw)
			}
		}
	})
}
