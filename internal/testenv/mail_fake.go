package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FakeIMAP is a scripted IMAP server on 127.0.0.1 for what no real server
// can show: a hostile or broken one. It speaks just enough IMAP4rev1 for
// the email adapter (LOGIN, SELECT, UID SEARCH, UID FETCH of RFC822.SIZE,
// ENVELOPE and BODY.PEEK[], UID STORE, IDLE, LOGOUT), and can instead
// send another service's banner, go silent after a command, or answer a
// body fetch with a literal far larger than the mail. It records every
// byte clients send.
type FakeIMAP struct {
	// Addr is host:port of the listener (127.0.0.1).
	Addr string

	opts FakeIMAPOptions
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	mails    []FakeMail
	received bytes.Buffer
	logins   int
	written  int64 // bytes of hostile literals written
	conns    []net.Conn
	seen     map[string]chan struct{} // command name → closed when first seen
}

// FakeIMAPOptions scripts a FakeIMAP.
type FakeIMAPOptions struct {
	// Banner, if set, is sent instead of an IMAP greeting; the server
	// then only records what it receives.
	Banner string
	// Idle offers the IDLE capability.
	Idle bool
	// SilentAfter names a command ("IDLE", "UID SEARCH", …) after which
	// the server answers nothing more on that connection, though it keeps
	// reading.
	SilentAfter string
}

// FakeMail is one message of a FakeIMAP's INBOX.
type FakeMail struct {
	UID     uint32
	From    string // address, for the envelope
	Subject string // for the envelope
	Raw     []byte // the message
	// Size is the RFC822.SIZE announced; 0 means len(Raw).
	Size int64
	// Literal, when set, is the size of the literal sent for a body
	// fetch, whatever was asked: the server streams that many bytes (or
	// until the client hangs up) instead of Raw.
	Literal int64
}

// StartFakeIMAP starts a scripted IMAP server; it stops when the test
// ends.
func StartFakeIMAP(t testing.TB, opts FakeIMAPOptions) *FakeIMAP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake IMAP: %v", err)
	}
	f := &FakeIMAP{Addr: ln.Addr().String(), opts: opts, ln: ln, seen: map[string]chan struct{}{}}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

// Close stops the server and closes every connection.
func (f *FakeIMAP) Close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// AddMail adds a message to INBOX.
func (f *FakeIMAP) AddMail(m FakeMail) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mails = append(f.mails, m)
}

// Received returns every byte clients sent, all connections together.
func (f *FakeIMAP) Received() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.received.Bytes())
}

// Logins counts the LOGIN commands answered with OK.
func (f *FakeIMAP) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// Connections counts the connections accepted so far.
func (f *FakeIMAP) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// Written is how many bytes of oversized literals the server managed to
// send before clients hung up.
func (f *FakeIMAP) Written() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

// Seen returns a channel closed once a client sent the command name
// ("IDLE", "UID SEARCH", "LOGIN", …).
func (f *FakeIMAP) Seen(name string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seenLocked(name)
}

func (f *FakeIMAP) seenLocked(name string) chan struct{} {
	ch, ok := f.seen[name]
	if !ok {
		ch = make(chan struct{})
		f.seen[name] = ch
	}
	return ch
}

func (f *FakeIMAP) markSeen(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.seenLocked(name)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (f *FakeIMAP) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			f.serve(c)
		}()
	}
}

// recorder copies what it reads into the server's record.
type recorder struct {
	f *FakeIMAP
	r io.Reader
}

func (r recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.f.mu.Lock()
	r.f.received.Write(b[:n])
	r.f.mu.Unlock()
	return n, err
}

func (f *FakeIMAP) caps() string {
	if f.opts.Idle {
		return "IMAP4rev1 IDLE"
	}
	return "IMAP4rev1"
}

func (f *FakeIMAP) serve(c net.Conn) {
	in := recorder{f: f, r: c}
	if f.opts.Banner != "" {
		io.WriteString(c, f.opts.Banner)
		io.Copy(io.Discard, in)
		return
	}
	r := bufio.NewReader(in)
	w := bufio.NewWriter(c)
	say := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\r\n", args...)
	}
	say("* OK [CAPABILITY %s] fake IMAP ready", f.caps())
	w.Flush()
	silent := false
	for {
		line, err := readCommand(r, w)
		if err != nil {
			return
		}
		if silent {
			continue
		}
		tag, rest, _ := strings.Cut(line, " ")
		name, args, _ := strings.Cut(rest, " ")
		name = strings.ToUpper(name)
		if name == "UID" {
			sub, a, _ := strings.Cut(args, " ")
			name, args = "UID "+strings.ToUpper(sub), a
		}
		f.markSeen(name)
		if f.opts.SilentAfter != "" && name == f.opts.SilentAfter {
			if name == "IDLE" {
				say("+ idling")
				w.Flush()
			}
			silent = true
			continue
		}
		switch name {
		case "CAPABILITY":
			say("* CAPABILITY %s", f.caps())
			say("%s OK done", tag)
		case "LOGIN":
			f.mu.Lock()
			f.logins++
			f.mu.Unlock()
			say("%s OK [CAPABILITY %s] logged in", tag, f.caps())
		case "SELECT", "EXAMINE":
			mails := f.snapshot()
			next := uint32(1)
			for _, m := range mails {
				next = max(next, m.UID+1)
			}
			say("* %d EXISTS", len(mails))
			say("* FLAGS (\\Seen)")
			say("* OK [UIDVALIDITY 7] ok")
			say("* OK [UIDNEXT %d] ok", next)
			say("%s OK [READ-WRITE] selected", tag)
		case "UID SEARCH":
			var uids []string
			for _, m := range f.snapshot() {
				uids = append(uids, strconv.FormatUint(uint64(m.UID), 10))
			}
			say("* SEARCH %s", strings.Join(uids, " "))
			say("%s OK searched", tag)
		case "UID FETCH":
			if !f.fetch(w, tag, args) {
				return
			}
		case "UID STORE", "NOOP", "CHECK":
			say("%s OK done", tag)
		case "IDLE":
			say("+ idling")
			w.Flush()
			if l, err := readCommand(r, w); err != nil || !strings.EqualFold(l, "DONE") {
				return
			}
			say("%s OK idle done", tag)
		case "LOGOUT":
			say("* BYE bye")
			say("%s OK logged out", tag)
			w.Flush()
			return
		default:
			say("%s BAD unknown command", tag)
		}
		if w.Flush() != nil {
			return
		}
	}
}

func (f *FakeIMAP) snapshot() []FakeMail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeMail(nil), f.mails...)
}

// fetch answers UID FETCH <uid> (items); false when the connection is
// done for.
func (f *FakeIMAP) fetch(w *bufio.Writer, tag, args string) bool {
	set, items, _ := strings.Cut(args, " ")
	uid, _ := strconv.ParseUint(set, 10, 32)
	for i, m := range f.snapshot() {
		if uint64(m.UID) != uid {
			continue
		}
		size := m.Size
		if size == 0 {
			size = int64(len(m.Raw))
		}
		upper := strings.ToUpper(items)
		if !strings.Contains(upper, "BODY") {
			fmt.Fprintf(w, "* %d FETCH (UID %d RFC822.SIZE %d ENVELOPE (NIL %s ((NIL NIL %s)) NIL NIL NIL NIL NIL NIL NIL))\r\n",
				i+1, m.UID, size, imapQuote(m.Subject), addrParts(m.From))
			break
		}
		if m.Literal == 0 {
			fmt.Fprintf(w, "* %d FETCH (UID %d BODY[]<0> {%d}\r\n", i+1, m.UID, len(m.Raw))
			w.Write(m.Raw)
			w.WriteString(")\r\n")
			break
		}
		fmt.Fprintf(w, "* %d FETCH (UID %d BODY[]<0> {%d}\r\n", i+1, m.UID, m.Literal)
		if w.Flush() != nil {
			return false
		}
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for sent := int64(0); sent < m.Literal; {
			n := int(min(int64(len(chunk)), m.Literal-sent))
			w.Write(chunk[:n])
			err := w.Flush()
			if err == nil {
				sent += int64(n)
			}
			f.mu.Lock()
			f.written = sent
			f.mu.Unlock()
			if err != nil {
				return false
			}
		}
		w.WriteString(")\r\n")
		break
	}
	fmt.Fprintf(w, "%s OK fetched\r\n", tag)
	return true
}

func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func addrParts(addr string) string {
	local, host, ok := strings.Cut(addr, "@")
	if !ok {
		return "NIL NIL"
	}
	return imapQuote(local) + " " + imapQuote(host)
}

// readCommand reads one command line, with any synchronising literals
// ({n}) it carries, without its CRLF.
func readCommand(r *bufio.Reader, w *bufio.Writer) (string, error) {
	var sb strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		sb.WriteString(line)
		if !strings.HasSuffix(line, "}") {
			return sb.String(), nil
		}
		open := strings.LastIndexByte(line, '{')
		if open < 0 {
			return sb.String(), nil
		}
		spec := strings.TrimSuffix(line[open+1:len(line)-1], "+")
		n, err := strconv.Atoi(spec)
		if err != nil || n < 0 || n > 1<<20 {
			return sb.String(), nil
		}
		if !strings.HasSuffix(line, "+}") {
			w.WriteString("+ go on\r\n")
			if err := w.Flush(); err != nil {
				return "", err
			}
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		sb.Write(buf)
	}
}
