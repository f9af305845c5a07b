package testenv

import (
	"bufio"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// IRCLine is one line an IRC client received, parsed.
type IRCLine struct {
	Tags    map[string]string // IRCv3 message tags, unescaped; nil without tags
	Prefix  string            // the source as sent: "nick!user@host" or a server name
	Source  string            // the nick of the source (the server name for a server)
	Command string            // "PRIVMSG", "001", …
	Params  []string          // the parameters, the trailing one included
	Raw     string            // the line as received, without CRLF
}

// Param returns the i-th parameter, or "" when there are fewer.
func (l IRCLine) Param(i int) string {
	if i < 0 || i >= len(l.Params) {
		return ""
	}
	return l.Params[i]
}

// String returns the raw line.
func (l IRCLine) String() string { return l.Raw }

// ParseIRCLine parses an IRC line (RFC 1459 with IRCv3 message tags).
func ParseIRCLine(raw string) IRCLine {
	l := IRCLine{Raw: raw}
	s := raw
	if strings.HasPrefix(s, "@") {
		var tags string
		tags, s, _ = strings.Cut(s[1:], " ")
		l.Tags = make(map[string]string)
		for _, tag := range strings.Split(tags, ";") {
			if tag == "" {
				continue
			}
			k, v, _ := strings.Cut(tag, "=")
			l.Tags[k] = unescapeTagValue(v)
		}
	}
	s = strings.TrimLeft(s, " ")
	if strings.HasPrefix(s, ":") {
		l.Prefix, s, _ = strings.Cut(s[1:], " ")
		l.Source = l.Prefix
		if i := strings.IndexAny(l.Source, "!@"); i >= 0 {
			l.Source = l.Source[:i]
		}
	}
	s = strings.TrimLeft(s, " ")
	l.Command, s, _ = strings.Cut(s, " ")
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if strings.HasPrefix(s, ":") {
			l.Params = append(l.Params, s[1:])
			break
		}
		var p string
		p, s, _ = strings.Cut(s, " ")
		l.Params = append(l.Params, p)
	}
	return l
}

func unescapeTagValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		i++
		if i == len(v) {
			break // a trailing backslash is dropped
		}
		switch v[i] {
		case ':':
			b.WriteByte(';')
		case 's':
			b.WriteByte(' ')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// IRCClient is a raw IRC client acting as a person on IRC: the test writes
// the exact lines it sends and sees the exact lines it receives. A reader
// goroutine keeps every line received and answers PING. Lines stay
// pending until an Expect claims them.
type IRCClient struct {
	// Nick is the nick the server welcomed the client with (set by
	// Register).
	Nick string

	t    testing.TB
	conn net.Conn
	done chan struct{}
	pong bool // answer PING (not for a scripted server's side)

	wmu sync.Mutex
	w   *textproto.Writer

	mu      sync.Mutex
	all     []IRCLine
	pending []IRCLine
	changed chan struct{}
	closed  bool
	err     error // why the connection ended
}

// DialIRC connects to addr, registers as nick (requesting caps, if any,
// with CAP REQ) and waits for the welcome. The client is closed at
// cleanup.
func DialIRC(t testing.TB, addr, nick string, caps ...string) *IRCClient {
	t.Helper()
	c := ConnectIRC(t, addr)
	c.Register(t, nick, caps...)
	return c
}

// ConnectIRC connects to addr without registering: the test sends NICK,
// USER, CAP and AUTHENTICATE itself (or calls Register). The client is
// closed at cleanup.
func ConnectIRC(t testing.TB, addr string) *IRCClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("connecting to IRC server %s: %v", addr, err)
	}
	return NewIRCClient(t, conn)
}

// NewIRCClient runs a client on conn, which may be a TLS connection; the
// connection is not registered yet. The client is closed at cleanup.
func NewIRCClient(t testing.TB, conn net.Conn) *IRCClient {
	return newIRCClient(t, conn, true)
}

// newIRCClient is NewIRCClient; pong says whether the reader answers
// PING itself (a scripted server answers in its own order: FakeIRCConn).
func newIRCClient(t testing.TB, conn net.Conn, pong bool) *IRCClient {
	c := &IRCClient{
		pong:    pong,
		t:       t,
		conn:    conn,
		done:    make(chan struct{}),
		w:       textproto.NewWriter(bufio.NewWriter(conn)),
		changed: make(chan struct{}),
	}
	go c.read()
	t.Cleanup(c.Close)
	return c
}

func (c *IRCClient) read() {
	defer close(c.done)
	r := textproto.NewReader(bufio.NewReaderSize(c.conn, 16384))
	var err error
	for {
		var raw string
		raw, err = r.ReadLine()
		if err != nil {
			break
		}
		l := ParseIRCLine(raw)
		if l.Command == "PING" && c.pong {
			c.send("PONG :" + l.Param(0))
		}
		c.mu.Lock()
		c.all = append(c.all, l)
		c.pending = append(c.pending, l)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.closed, c.err = true, err
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *IRCClient) send(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("line contains CR or LF: %q", line)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.w.PrintfLine("%s", line)
}

// Send writes one line (without CRLF). A failure is reported as an error
// of the test that made the client.
func (c *IRCClient) Send(line string) {
	if err := c.send(line); err != nil {
		c.t.Errorf("%s: sending %q: %v", c.name(), line, err)
	}
}

// Sendf writes one line formatted with fmt.Sprintf.
func (c *IRCClient) Sendf(format string, args ...any) {
	c.Send(fmt.Sprintf(format, args...))
}

func (c *IRCClient) name() string {
	if c.Nick != "" {
		return c.Nick
	}
	return "IRC client " + c.conn.LocalAddr().String()
}

// next waits until d for a pending line that match accepts and claims it.
func (c *IRCClient) next(d time.Duration, match func(IRCLine) bool) (IRCLine, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		for i, l := range c.pending {
			if match(l) {
				c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
				c.mu.Unlock()
				return l, nil
			}
		}
		ch, closed, err := c.changed, c.closed, c.err
		c.mu.Unlock()
		if closed {
			return IRCLine{}, fmt.Errorf("connection closed: %v", err)
		}
		select {
		case <-ch:
		case <-timer.C:
			return IRCLine{}, fmt.Errorf("nothing within %s", d)
		}
	}
}

// Expect waits up to timeout for a line that match accepts, claims and
// returns it; lines it skips stay for later calls. On timeout it fails
// the test with the last lines received.
func (c *IRCClient) Expect(t testing.TB, timeout time.Duration, match func(IRCLine) bool) IRCLine {
	t.Helper()
	l, err := c.next(timeout, match)
	if err != nil {
		t.Fatalf("%s: expected line not received: %v; last lines received:\n%s", c.name(), err, c.lastLines(40))
	}
	return l
}

// ExpectNone fails the test if a line that match accepts is pending or
// arrives within d.
func (c *IRCClient) ExpectNone(t testing.TB, d time.Duration, match func(IRCLine) bool) {
	t.Helper()
	if l, err := c.next(d, match); err == nil {
		t.Fatalf("%s: unexpected line: %s", c.name(), l.Raw)
	}
}

// Lines returns every line received so far, claimed or not, in order.
func (c *IRCClient) Lines() []IRCLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]IRCLine(nil), c.all...)
}

func (c *IRCClient) lastLines(n int) string {
	lines := c.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l.Raw + "\n")
	}
	return b.String()
}

// Register sends NICK and USER, with CAP LS 302, CAP REQ of caps and CAP
// END around them when caps are given, and waits up to 10s for the
// welcome (001), failing the test on a refused cap or nick.
func (c *IRCClient) Register(t testing.TB, nick string, caps ...string) {
	t.Helper()
	if len(caps) > 0 {
		c.Send("CAP LS 302")
	}
	c.Send("NICK " + nick)
	c.Send("USER " + nick + " 0 * :" + nick)
	if len(caps) > 0 {
		c.Send("CAP REQ :" + strings.Join(caps, " "))
		l := c.Expect(t, 10*time.Second, func(l IRCLine) bool {
			return l.Command == "CAP" && (l.Param(1) == "ACK" || l.Param(1) == "NAK")
		})
		if l.Param(1) != "ACK" {
			t.Fatalf("%s: server refused caps %v: %s", nick, caps, l.Raw)
		}
		c.Send("CAP END")
	}
	l := c.Expect(t, 10*time.Second, func(l IRCLine) bool {
		switch l.Command {
		case "001", "ERROR", "431", "432", "433", "436", "437", "451", "461", "464", "465":
			return true
		}
		return false
	})
	if l.Command != "001" {
		t.Fatalf("%s: registration refused: %s", nick, l.Raw)
	}
	c.Nick = l.Param(0)
}

// Join joins channel and waits up to 10s for the end of its NAMES list
// (366), failing the test when the server refuses.
func (c *IRCClient) Join(t testing.TB, channel string) {
	t.Helper()
	c.Send("JOIN " + channel)
	l := c.Expect(t, 10*time.Second, func(l IRCLine) bool {
		switch l.Command {
		case "366", "403", "405", "471", "473", "474", "475", "476", "477", "489":
			return strings.EqualFold(l.Param(1), channel)
		}
		return false
	})
	if l.Command != "366" {
		t.Fatalf("%s: cannot join %s: %s", c.name(), channel, l.Raw)
	}
}

// Close sends QUIT, waits up to 2s for the server to close the
// connection, then closes it; safe to call more than once.
func (c *IRCClient) Close() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.send("QUIT :bye")
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
	}
	c.conn.Close()
	<-c.done
}
