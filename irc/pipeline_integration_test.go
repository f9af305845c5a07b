package irc_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/transports"
)

// wireTap records the lines a client writes on its connections.
type wireTap struct {
	mu    sync.Mutex
	part  string
	lines []string
}

func (w *wireTap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tappedConn{Conn: c, tap: w}, nil
}

// count returns how many recorded lines have each prefix.
func (w *wireTap) count(prefixes ...string) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := make([]int, len(prefixes))
	for _, l := range w.lines {
		for i, p := range prefixes {
			if strings.HasPrefix(l, p) {
				n[i]++
			}
		}
	}
	return n
}

type tappedConn struct {
	net.Conn
	tap *wireTap
}

func (c *tappedConn) Write(b []byte) (int, error) {
	c.tap.mu.Lock()
	text := c.tap.part + string(b)
	ls := strings.Split(text, "\r\n")
	c.tap.part = ls[len(ls)-1]
	c.tap.lines = append(c.tap.lines, ls[:len(ls)-1]...)
	c.tap.mu.Unlock()
	return c.Conn.Write(b)
}

// On a real server without echo-message, a user's burst of messages
// queued back to back (transports.Queuer, as the component's lane does)
// reaches the channel in order and is confirmed by fewer PING fences
// than messages: one fence confirms every message written before it.
func TestInspIRCdBurstFencedPerBatch(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{NoEchoMessage: true})
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#burst")

	tap := &wireTap{}
	n := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers:       map[string]irc.Server{"irc.test": {Address: srv.Addr(), Plaintext: true}},
		// Paced, so that the burst waits its turn in the queue as it
		// does at the default pace.
		SendRate: 20, SendBurst: 2,
		Timeout: waitFor,
		Dial:    tap.dial,
	})
	a, ev := connect(t, n, transports.Credentials{"nick": "alice"})
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#burst", "alice"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#burst" })

	const burst = 20
	q := a.(transports.Queuer)
	var ps []transports.Pending
	for i := range burst {
		p, err := q.Queue(ctx(t), transports.Message{To: "#burst", Room: true, Body: fmt.Sprintf("burst %d", i), ID: fmt.Sprintf("x%d", i)})
		if err != nil {
			t.Fatalf("Queue %d: %v", i, err)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		if _, err := p.Wait(ctx(t)); err != nil {
			t.Fatalf("message %d not confirmed: %v", i, err)
		}
	}
	for i := range burst {
		want := fmt.Sprintf("burst %d", i)
		l := bob.Expect(t, waitFor, privmsg("#burst"))
		if got := l.Param(1); got != want {
			t.Fatalf("bob read %q, want %q (in order)", got, want)
		}
	}
	// Each confirmed message is reflected, in order, under its own ID.
	for i := range burst {
		want := fmt.Sprintf("x%d", i)
		own := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Own && e.From == "#burst" })
		if own.EchoOf != want {
			t.Fatalf("reflection %d echoes %q, want %q", i, own.EchoOf, want)
		}
	}

	counts := tap.count("PRIVMSG #burst ", "PING :sb")
	msgs, fences := counts[0], counts[1]
	t.Logf("%d messages confirmed by %d fences", msgs, fences)
	if msgs != burst {
		t.Errorf("%d PRIVMSG lines written, want %d", msgs, burst)
	}
	if fences == 0 || fences >= msgs {
		t.Errorf("%d PING fences for %d messages: want at least one and fewer than the messages", fences, msgs)
	}
}
