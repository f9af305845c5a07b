package irc

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// tcpPair returns both ends of a loopback TCP connection: the server's
// and the client's.
func tcpPair(t *testing.T) (srv, cli net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	cli, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv = <-accepted
	if srv == nil {
		t.Fatal("no connection accepted")
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// parkReader reads a lineConn as conn.readLoop does (without a queue):
// it parks when nothing is to read, and is resumed on a new goroutine. It
// counts the goroutines that read at once (active: never more than one)
// and the resumptions.
type parkReader struct {
	t       *testing.T
	lc      *lineConn
	lines   chan string
	ended   chan error // one error when the reading ended
	active  atomic.Int32
	resumes atomic.Int32
	twice   atomic.Bool // two goroutines read at once
	// mu orders the test's looks at a parked connection's reader
	// (parkedReader) before the reads of the goroutine that resumes it:
	// the race detector cannot see that the server's write, which wakes
	// it, came after them.
	mu sync.Mutex
}

// parkedReader reports, for a parked connection, whether it keeps its
// read buffer and whether it keeps a line begun.
func (r *parkReader) parkedReader() (buffer, partial bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lc.lr.r != nil, r.lc.lr.partial
}

func newParkReader(t *testing.T, set *parkers, cli net.Conn) *parkReader {
	t.Helper()
	r := &parkReader{t: t, lc: newLineConn(cli, time.Second), lines: make(chan string, 100), ended: make(chan error, 2)}
	r.lc.resume = func() {
		r.resumes.Add(1)
		go r.read()
	}
	if err := set.enablePark(r.lc); err != nil {
		t.Fatal(err)
	}
	if r.lc.pk.raw == nil {
		t.Fatal("a TCP connection does not park")
	}
	t.Cleanup(func() { r.lc.Close() })
	go r.read()
	return r
}

func (r *parkReader) read() {
	r.mu.Lock()
	r.mu.Unlock() // an empty section: it orders the test's looks (parkedReader) before this reading
	if r.active.Add(1) != 1 {
		r.twice.Store(true)
	}
	for {
		e, err := r.lc.next(slog.Default)
		if err == errWouldBlock {
			r.active.Add(-1) // another goroutine may resume it from here on
			parked, perr := r.lc.park()
			if perr != nil {
				r.ended <- perr
				return
			}
			if parked {
				return
			}
			if r.active.Add(1) != 1 {
				r.twice.Store(true)
			}
			continue
		}
		if err != nil {
			r.active.Add(-1)
			r.ended <- err
			return
		}
		r.lines <- e.Command + " " + lastParam(e.Params)
	}
}

// waitParked waits until the connection is parked.
func waitParked(t *testing.T, lc *lineConn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for lc.state.Load() != stateParked {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not park")
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *parkReader) line(t *testing.T) string {
	t.Helper()
	select {
	case l := <-r.lines:
		return l
	case err := <-r.ended:
		t.Fatalf("the reading ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no line read")
	}
	return ""
}

// A parked connection is resumed when its server writes; a line begun
// before the park is kept, and completed by what comes after it; the
// read buffer is given back while parked.
func TestParkResumesWithPartialLine(t *testing.T) {
	var set parkers
	srv, cli := tcpPair(t)
	r := newParkReader(t, &set, cli)
	waitParked(t, r.lc)
	if buffer, _ := r.parkedReader(); buffer {
		t.Error("a parked connection keeps its read buffer")
	}
	if _, err := srv.Write([]byte(":a!b@c PRIVMSG #x :first\r\n:a!b@c PRIVMSG #x :sec")); err != nil {
		t.Fatal(err)
	}
	if l := r.line(t); l != "PRIVMSG first" {
		t.Fatalf("first line %q", l)
	}
	waitParked(t, r.lc)
	if _, partial := r.parkedReader(); !partial {
		t.Fatal("the line begun was not kept across the park")
	}
	if _, err := srv.Write([]byte("ond half\r\n")); err != nil {
		t.Fatal(err)
	}
	if l := r.line(t); l != "PRIVMSG second half" {
		t.Fatalf("second line %q, want the begun line completed", l)
	}
	if r.resumes.Load() < 2 || r.twice.Load() {
		t.Errorf("%d resumptions (want 2 or more), two readers at once: %v", r.resumes.Load(), r.twice.Load())
	}
}

// Closing a parked connection resumes it, and its read fails as a
// blocked Read would (net.ErrClosed); the poller ends with the last
// registered connection.
func TestParkedClose(t *testing.T) {
	var set parkers
	_, cli := tcpPair(t)
	r := newParkReader(t, &set, cli)
	waitParked(t, r.lc)
	set.mu.RLock()
	p := set.p
	set.mu.RUnlock()
	if p == nil {
		t.Fatal("no poller runs for a registered connection")
	}
	r.lc.Close()
	select {
	case err := <-r.ended:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("the read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("closing a parked connection did not end its reading")
	}
	select {
	case <-p.done:
	default:
		t.Error("the poller still runs with no connection registered")
	}
	if set.p != nil || len(set.conns) != 0 {
		t.Errorf("poller %v and %d connections left", set.p, len(set.conns))
	}
}

// Close racing with bytes arriving: in every round, exactly one
// goroutine goes on reading (never two at once, never none), and the
// reading ends once, with the connection closed.
func TestParkCloseRacesData(t *testing.T) {
	var set parkers
	keep, cli := tcpPair(t) // one connection stays registered: the poller is shared by the rounds
	newParkReader(t, &set, cli)
	_ = keep
	for round := range 200 {
		srv, cli := tcpPair(t)
		r := newParkReader(t, &set, cli)
		waitParked(t, r.lc)
		go srv.Write([]byte("PING :x\r\nPING :y\r\n"))
		if round%2 == 0 {
			time.Sleep(time.Duration(round%7) * 10 * time.Microsecond)
		}
		r.lc.Close()
		select {
		case err := <-r.ended:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("round %d: the read ended with %v, want net.ErrClosed", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the reading did not end (state %d)", round, r.lc.state.Load())
		}
		if r.twice.Load() {
			t.Fatalf("round %d: two goroutines read at once", round)
		}
		select {
		case err := <-r.ended:
			t.Fatalf("round %d: the reading ended twice (%v)", round, err)
		case <-time.After(time.Millisecond):
		}
		srv.Close()
	}
}

// A registered connection that idles is parked, with no goroutine, and
// the keepalive's (or the registration deadline's) Close of the parked
// socket ends the attempt as a failed Read did: the connection is lost
// and, the session's policy allowing it, dialled again.
func TestParkedConnectionCloseEndsAttempt(t *testing.T) {
	servers, n := newScriptedTCP(t)
	connected := make(chan transports.Adapter, 1)
	go func() {
		a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org", Credentials: transports.Credentials{"nick": "me"},
			Reconnect: transports.NewReconnect(transports.Backoff{Min: time.Millisecond, Max: time.Millisecond}, nil, func(transports.Status) {})},
			transports.SinkFunc(func(transports.Event) {}))
		if err != nil {
			t.Error(err)
			connected <- nil
			return
		}
		connected <- a
	}()
	srv := nextServer(t, servers)
	srv.register("")
	a := <-connected
	if a == nil {
		t.FailNow()
	}
	t.Cleanup(func() { a.Close() })
	c := a.(*adapter).conns.get("irc.test")
	c.mu.Lock()
	lc := c.wire
	c.mu.Unlock()
	waitParked(t, lc)
	c.closeWire() // as the keepalive does when the server is silent
	again := nextServer(t, servers)
	again.expect("CAP LS")
	c.mu.Lock()
	w := c.wire
	c.mu.Unlock()
	if w == lc {
		t.Fatal("the closed connection is still the current one")
	}
}

// splitWrites writes each write in two halves, 20 ms apart, so that the
// reader finds half a TLS record and parks in the middle of it.
type splitWrites struct{ net.Conn }

func (s splitWrites) Write(b []byte) (int, error) {
	h := len(b) / 2
	n, err := s.Conn.Write(b[:h])
	if err != nil {
		return n, err
	}
	time.Sleep(20 * time.Millisecond)
	m, err := s.Conn.Write(b[h:])
	return n + m, err
}

// A TLS connection parks too, also in the middle of a record (crypto/tls
// keeps what it read of it when the socket has nothing more), and
// closing it while parked ends its reading.
func TestTLSConnectionParks(t *testing.T) {
	var set parkers
	srv, cli := tcpPair(t)
	cert, pool := selfSigned(t, "irc.test")
	srvTLS := tls.Server(splitWrites{srv}, &tls.Config{Certificates: []tls.Certificate{cert}})
	cliTLS := tls.Client(parkable(cli), &tls.Config{ServerName: "irc.test", RootCAs: pool})
	done := make(chan error, 1)
	go func() { done <- srvTLS.Handshake() }()
	if err := cliTLS.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := newParkReader(t, &set, cliTLS)
	for i, text := range []string{"one", "two", "three"} {
		waitParked(t, r.lc)
		before := r.resumes.Load()
		if _, err := srvTLS.Write([]byte(":a!b@c PRIVMSG #x :" + text + "\r\n")); err != nil {
			t.Fatal(err)
		}
		if l := r.line(t); l != "PRIVMSG "+text {
			t.Fatalf("line %d: %q", i, l)
		}
		if r.resumes.Load()-before < 2 {
			t.Errorf("line %d: resumed %d times, want twice (half a record, then the rest)", i, r.resumes.Load()-before)
		}
	}
	waitParked(t, r.lc)
	if r.twice.Load() {
		t.Error("two goroutines read at once")
	}
	r.lc.Close()
	select {
	case err := <-r.ended:
		if err == nil || err == errWouldBlock {
			t.Errorf("the read ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("closing a parked TLS connection did not end its reading")
	}
}

// A connection the poller refuses (epoll_ctl fails) does not park: its
// reading goes on, blocking from then on, on the same goroutine, and is
// never resumed by anyone else.
func TestParkRefusedReadsBlocking(t *testing.T) {
	var set parkers
	srv, cli := tcpPair(t)
	lc := newLineConn(cli, time.Second)
	lc.resume = func() { t.Error("a connection the poller refused was resumed") }
	if err := set.enablePark(lc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	// The connection arms with a poller whose descriptor is no epoll
	// set: epoll_ctl fails (EINVAL). The Network's poller is given back
	// before Close, which stops it.
	f, err := os.CreateTemp(t.TempDir(), "not-epoll")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	real := lc.pk.p
	lc.pk.p = &poller{epfd: int(f.Fd())}
	t.Cleanup(func() { lc.pk.p = real })

	if _, err := lc.next(slog.Default); err != errWouldBlock {
		t.Fatalf("first read: %v, want errWouldBlock", err)
	}
	parked, err := lc.park()
	if parked || err == nil {
		t.Fatalf("park with a refusing poller: parked %v, err %v; want not parked and an error", parked, err)
	}
	if lc.state.Load() != stateRunning {
		t.Error("the refused connection is left parked")
	}
	got := make(chan string, 1)
	go func() {
		e, err := lc.next(slog.Default)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- e.Command + " " + lastParam(e.Params)
	}()
	select {
	case l := <-got:
		t.Fatalf("the read after the refusal returned %q before the server wrote: it does not block", l)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := srv.Write([]byte(":a!b@c PRIVMSG #x :after\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-got:
		if l != "PRIVMSG after" {
			t.Fatalf("read %q, want the server's line", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking read did not return the server's line")
	}
}
