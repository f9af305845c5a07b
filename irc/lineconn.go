package irc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lrstanley/girc"
)

// What a server sends is read through a lineConn before girc sees it, so
// a hostile server can neither exhaust memory nor reach girc's handlers
// with lines they do not expect.
const (
	// maxLineBytes is the longest line kept, CR LF excluded: 8191 bytes
	// of IRCv3 tags and a 512-byte message, with room to spare.
	maxLineBytes = 8191 + 512 + 1
	// maxDiscardBytes is how much of one line may be thrown away before
	// the connection is dropped: a long message is delivered cut, an
	// endless line ends the connection.
	maxDiscardBytes = 2 << 20
	// readBufferBytes is the read buffer of a connection: one typical
	// line, since most connections idle; longer lines are read in chunks.
	readBufferBytes = 1024
	// cutNote marks a message whose line was cut.
	cutNote = " [cut: the line was too long]"
)

// errLineTooLong ends a connection whose server sent a line longer than
// maxDiscardBytes.
var errLineTooLong = errors.New("the server sent a line longer than 2 MiB")

// lineReader reads IRC lines of bounded size: a line longer than max is
// cut (at a UTF-8 boundary) and the rest of it discarded; a line whose
// discarded part exceeds hard is an error. Memory stays bounded by max
// plus the reader's buffer whatever the peer sends.
type lineReader struct {
	r         *bufio.Reader
	max, hard int
	buf       []byte
}

func newLineReader(r io.Reader, max, hard int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, readBufferBytes), max: max, hard: hard}
}

// next returns the next line without its line ending, and whether it was
// cut. The slice is valid until the next call.
func (l *lineReader) next() (line []byte, cut bool, err error) {
	l.buf = l.buf[:0]
	discarded := 0
	for {
		chunk, err := l.r.ReadSlice('\n')
		room := l.max + 2 - len(l.buf) // +2: the line ending may fit
		if room > 0 {
			take := min(room, len(chunk))
			l.buf = append(l.buf, chunk[:take]...)
			discarded += len(chunk) - take
		} else {
			discarded += len(chunk)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if discarded > l.hard {
				return nil, false, errLineTooLong
			}
			continue
		}
		return nil, false, err
	}
	if discarded > l.hard {
		return nil, false, errLineTooLong
	}
	line = l.buf
	cut = discarded > 0
	if !cut {
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
	}
	if len(line) > l.max {
		line, cut = line[:l.max], true
	}
	if cut {
		// Never split a UTF-8 sequence: drop an incomplete last rune.
		for i := len(line) - 1; i >= 0 && i >= len(line)-utf8.UTFMax; i-- {
			if utf8.RuneStart(line[i]) {
				if !utf8.FullRune(line[i:]) {
					line = line[:i]
				}
				break
			}
		}
	}
	return line, cut, nil
}

// lineConn is the connection girc reads. Every line filterLine keeps goes
// to handle first, in the server's order, on the reading goroutine; girc
// itself is handed only the lines it needs to run the connection
// (gircLines), each at most maxLineBytes long. So girc's user and channel
// tracker never sees a member (no copy of every channel's member list per
// connection), and the bulk of the traffic never goes through girc's
// event copies, debug formatting and per-handler goroutines.
type lineConn struct {
	net.Conn
	log *slog.Logger
	lr  *lineReader
	// handle receives every kept line's event; an error ends the
	// connection. nil hands every kept line to girc instead.
	handle func(*girc.Event) error
	// read, when set, is when a line was last read (Unix nanoseconds).
	read    *atomic.Int64
	pending []byte
	err     error // sticky: the connection is over

	wmu sync.Mutex // one line (or one girc flush) written at a time
}

// Write implements net.Conn for girc's writes: each call is written
// whole, never interleaved with writeLine's lines.
func (c *lineConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

// writeLine writes one line (already sanitised) and its CR LF, in one
// write. The transport writes its own lines so that girc, whose tracking
// is off, neither re-formats them nor strips their tags.
func (c *lineConn) writeLine(line string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := io.WriteString(c.Conn, line+"\r\n")
	return err
}

func newLineConn(c net.Conn, log *slog.Logger, handle func(*girc.Event) error) *lineConn {
	return &lineConn{Conn: c, log: log, handle: handle, lr: newLineReader(c, maxLineBytes, maxDiscardBytes)}
}

// gircLines are the commands girc still sees when the transport handles
// lines itself: PING (girc answers it), PONG (the answer to the
// keepalive renews girc's read deadline, set anew for each line it sees),
// the welcome, and ERROR (girc ends the connection on it). Members,
// modes, topics, messages, capabilities and SASL are the transport's.
var gircLines = map[string]bool{"PING": true, "PONG": true, "ERROR": true, "001": true}

// Read implements net.Conn. It runs in a goroutine girc starts, so it
// recovers from a panic itself: logged with its stack, it ends the
// connection with a read error.
func (c *lineConn) Read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("reading an IRC line panicked; closing the connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.err = fmt.Errorf("irc: reading a line: %w", errBadLine)
			n, err = 0, c.err
		}
	}()
	if c.err != nil {
		return 0, c.err
	}
	for len(c.pending) == 0 {
		line, cut, err := c.lr.next()
		if err != nil {
			c.err = err
			return 0, err
		}
		if c.read != nil {
			c.read.Store(time.Now().UnixNano())
		}
		out, e, ok := filterEvent(line, cut)
		if !ok {
			continue
		}
		if c.handle == nil {
			c.pending = out
			continue
		}
		if err := c.handle(e); err != nil {
			c.err = err
			return 0, err
		}
		if gircLines[e.Command] {
			c.pending = out
		}
	}
	n = copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// errBadLine is a line the reader could not handle.
var errBadLine = errors.New("unreadable line")

// sourceless lists the commands a server may send without a :prefix.
// Anything else without one is dropped: girc's handlers and ours expect
// a source for them (a CTCP without one crashed girc's own handlers).
var sourceless = map[string]bool{
	"PING": true, "PONG": true, "ERROR": true, "AUTHENTICATE": true, "CAP": true,
	"NOTICE": true, "FAIL": true, "WARN": true, "NOTE": true,
}

// minParams is the number of parameters below which girc's built-in
// handlers of a command index past the end of its parameters (found by
// reading them and by fuzzing them through filterLine): such lines are
// dropped, since a panic there may leave girc's state locked.
var minParams = map[string]int{
	"352": 8, // RPL_WHOREPLY
	"353": 4, // RPL_NAMREPLY
}

// ctcpKept lists the CTCP requests that reach girc: ACTION is a message,
// VERSION, PING and TIME are answered (paced). Others are dropped here,
// because girc answers unknown requests itself, unpaced.
var ctcpKept = map[string]bool{girc.CTCP_ACTION: true, girc.CTCP_VERSION: true, girc.CTCP_PING: true, girc.CTCP_TIME: true}

// filterLine decides whether a server line reaches girc, and returns it
// with its line ending (and, if it was cut, a note at the end of its
// text).
func filterLine(line []byte, cut bool) ([]byte, bool) {
	out, _, ok := filterEvent(line, cut)
	return out, ok
}

// filterEvent is filterLine that also returns the kept line's event, as
// girc parses it (with the note of a cut line).
func filterEvent(line []byte, cut bool) ([]byte, *girc.Event, bool) {
	s := string(line)
	e := girc.ParseEvent(s)
	if e == nil {
		return nil, nil, false // girc would drop the connection over it
	}
	if e.Source == nil {
		if !sourceless[e.Command] && !isNumeric(e.Command) {
			return nil, nil, false
		}
		if _, ok := e.Tags.Get("account"); ok {
			return nil, nil, false // girc's tag handler needs a source
		}
		if e.Command == "NOTICE" && strings.Contains(s, "\x01") {
			return nil, nil, false
		}
	}
	if len(e.Params) < minParams[e.Command] {
		return nil, nil, false // girc's own handlers would index past the end
	}
	if e.Command == "PRIVMSG" && len(e.Params) == 2 && strings.HasPrefix(e.Params[1], "\x01") {
		cmd, _, _ := strings.Cut(strings.Trim(e.Params[1], "\x01"), " ")
		if !ctcpKept[cmd] {
			return nil, nil, false
		}
	}
	if cut && hasTrailing(s) {
		s = strings.TrimRight(s, "\r") + cutNote
		if e = girc.ParseEvent(s); e == nil {
			return nil, nil, false
		}
	}
	return []byte(s + "\r\n"), e, true
}

// hasTrailing reports whether a line has a trailing (" :") parameter.
func hasTrailing(s string) bool {
	if strings.HasPrefix(s, "@") {
		_, s, _ = strings.Cut(s, " ")
	}
	if strings.HasPrefix(s, ":") {
		_, s, _ = strings.Cut(s, " ")
	}
	return strings.Contains(s, " :")
}

func isNumeric(cmd string) bool {
	return len(cmd) == 3 && cmd[0] >= '0' && cmd[0] <= '9' && cmd[1] >= '0' && cmd[1] <= '9' && cmd[2] >= '0' && cmd[2] <= '9'
}
