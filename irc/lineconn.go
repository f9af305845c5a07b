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

// What a server sends is read through a lineConn, and parsed by girc's
// parser (the only part of girc the transport uses), so a hostile server
// can neither exhaust memory nor reach the handlers with lines they do not
// expect.
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
//
// It can be resumed: when its source has nothing to read yet
// (errWouldBlock, a parked connection's non-blocking socket: park.go),
// next returns that error and keeps the line begun so far (and how much
// of it was discarded) for the next call; release then gives the read
// buffer back, so that a connection that waits for its server holds none.
type lineReader struct {
	r         *bufio.Reader // nil once released, until the next read
	src       io.Reader
	max, hard int
	buf       []byte
	// partial: buf and discarded hold the start of a line that the
	// source has not finished yet (the last call returned errWouldBlock).
	partial   bool
	discarded int
}

// readBufs are the read buffers of the connections that read (lineReader):
// a parked connection gives its buffer back (release).
var readBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferBytes) }}

func newLineReader(r io.Reader, max, hard int) *lineReader {
	return &lineReader{src: r, max: max, hard: hard}
}

// next returns the next line without its line ending, and whether it was
// cut. The slice is valid until the next call. A line that fits in the
// read buffer (most do) is returned where it was read, uncopied; only a
// longer one, or one whose start was read before the source would block,
// is gathered in buf.
func (l *lineReader) next() (line []byte, cut bool, err error) {
	if l.r == nil {
		l.r = readBufs.Get().(*bufio.Reader)
		l.r.Reset(l.src)
	}
	if !l.partial {
		l.buf = l.buf[:0]
		l.discarded = 0
	}
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !l.partial && err == nil && len(chunk) <= l.max+2 {
			line = chunk
			break
		}
		room := l.max + 2 - len(l.buf) // +2: the line ending may fit
		if room > 0 {
			take := min(room, len(chunk))
			l.buf = append(l.buf, chunk[:take]...)
			l.discarded += len(chunk) - take
		} else {
			l.discarded += len(chunk)
		}
		if len(chunk) > 0 {
			l.partial = true
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if l.discarded > l.hard {
				return nil, false, errLineTooLong
			}
			continue
		}
		// errWouldBlock keeps the line so far for the next call; any
		// other error ends the connection.
		return nil, false, err
	}
	l.partial = false
	discarded := l.discarded
	if discarded > l.hard {
		return nil, false, errLineTooLong
	}
	if line == nil {
		line = l.buf
	}
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

// release gives the read buffer back to readBufs when nothing is left in
// it (after errWouldBlock, nothing is), and the buffer of long lines when
// no line is begun; the next read takes a buffer again. Only the goroutine
// that reads calls it.
func (l *lineReader) release() {
	if l.r != nil && l.r.Buffered() == 0 {
		l.r.Reset(nil) // the pool keeps no socket
		readBufs.Put(l.r)
		l.r = nil
	}
	if !l.partial {
		l.buf = nil
	}
}

// lineConn is one IRC connection's socket: lines are read from it
// through a lineReader, on the connection's own goroutine (conn.readLoop),
// and written whole, one at a time, each within a write deadline, by
// whoever writes (the paced writer's timer, the negotiation, the PONG
// answers, the keepalive and the QUIT). It holds no buffer but the
// reader's, and runs no goroutine of its own.
//
// A TCP connection on Linux (plaintext or TLS) is read without blocking and parks
// when its server has nothing more to say (park.go): no goroutine and no
// read buffer wait for it, and the Network's poller resumes its reading
// on a new goroutine when bytes arrive, or Close does.
type lineConn struct {
	conn net.Conn
	lr   *lineReader
	// writeTimeout bounds each write, so that a server that stops
	// reading cannot hold a writer for ever; 0: none.
	writeTimeout time.Duration
	// read is when a line was last read (Unix nanoseconds), for the
	// keepalive.
	read atomic.Int64

	wmu sync.Mutex // one line written at a time

	// Parking (park.go): state is stateRunning or stateParked; closed
	// is set by Close before it wakes a parked reader; resume starts
	// the goroutine that goes on reading, set before the first read;
	// pk is the registration with the Network's poller (nil pk.raw:
	// reads block, as on other systems and on sockets that are not TCP).
	state  atomic.Int32
	closed atomic.Bool
	resume func()
	pk     parkState
}

func newLineConn(c net.Conn, writeTimeout time.Duration) *lineConn {
	lc := &lineConn{conn: c, writeTimeout: writeTimeout, lr: newLineReader(c, maxLineBytes, maxDiscardBytes)}
	lc.read.Store(time.Now().UnixNano())
	return lc
}

// writeLine writes one line (already sanitised) and its CR LF, in one
// write: it may block until the server reads it, at most writeTimeout.
// Lines are written as built: a trailing parameter keeps its ':' and tags
// are kept.
func (c *lineConn) writeLine(line string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeTimeout > 0 {
		if err := c.conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
			return err
		}
	}
	_, err := io.WriteString(c.conn, line+"\r\n")
	return err
}

// Close closes the socket: the reading goroutine's next read fails, and
// so does every later write. A parked connection (park.go) is taken off
// the poller and resumed, so that its next read fails as well and ends
// the attempt. It may be called more than once, from any goroutine; it
// does not block, but for the poller's end when it was the Network's
// last registered connection.
func (c *lineConn) Close() error {
	c.closed.Store(true)
	c.disarm()
	err := c.conn.Close()
	c.wake()
	return err
}

// next reads the next line the connection handles, parsed, skipping the
// lines filterEvent drops. It records when a line was read. A panic while
// reading or parsing is logged with its stack and ends the connection
// (errBadLine), never the process; log gives the logger for that.
func (c *lineConn) next(log func() *slog.Logger) (e *girc.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			log().Error("reading an IRC line panicked; closing the connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			e, err = nil, fmt.Errorf("irc: reading a line: %w", errBadLine)
		}
	}()
	for {
		line, cut, err := c.lr.next()
		if err != nil {
			return nil, err
		}
		c.read.Store(time.Now().UnixNano())
		if _, e, ok := filterEvent(line, cut); ok {
			return e, nil
		}
	}
}

// errBadLine is a line the reader could not handle.
var errBadLine = errors.New("unreadable line")

// sourceless lists the commands a server may send without a :prefix.
// Anything else without one is dropped: the handlers expect a source for
// them (a CTCP without one crashed girc's handlers, which ran here once).
var sourceless = map[string]bool{
	"PING": true, "PONG": true, "ERROR": true, "AUTHENTICATE": true, "CAP": true,
	"NOTICE": true, "FAIL": true, "WARN": true, "NOTE": true,
}

// minParams is the number of parameters below which a command is
// malformed: such lines are dropped (girc's handlers, which ran here once,
// indexed past the end of them; the transport's handle them as they are).
var minParams = map[string]int{
	"352": 8, // RPL_WHOREPLY
	"353": 4, // RPL_NAMREPLY
}

// ctcpKept lists the CTCP requests that are handled: ACTION is a
// message, VERSION, PING and TIME are answered (paced, onCTCP). Others are
// dropped here.
var ctcpKept = map[string]bool{girc.CTCP_ACTION: true, girc.CTCP_VERSION: true, girc.CTCP_PING: true, girc.CTCP_TIME: true}

// filterEvent decides whether a server line is handled, and returns it
// (with, if it was cut, a note at the end of its text) and its event, as
// girc's parser reads it.
func filterEvent(line []byte, cut bool) (string, *girc.Event, bool) {
	s := string(line)
	e := girc.ParseEvent(s)
	if e == nil {
		return "", nil, false // not an IRC line
	}
	if e.Source == nil {
		if !sourceless[e.Command] && !isNumeric(e.Command) {
			return "", nil, false
		}
		if _, ok := e.Tags.Get("account"); ok {
			return "", nil, false // an account tag needs a source
		}
		if e.Command == "NOTICE" && strings.Contains(s, "\x01") {
			return "", nil, false
		}
	}
	if len(e.Params) < minParams[e.Command] {
		return "", nil, false
	}
	if e.Command == "PRIVMSG" && len(e.Params) == 2 && strings.HasPrefix(e.Params[1], "\x01") {
		cmd, _, _ := strings.Cut(strings.Trim(e.Params[1], "\x01"), " ")
		if !ctcpKept[cmd] {
			return "", nil, false
		}
	}
	if cut && hasTrailing(s) {
		s = strings.TrimRight(s, "\r") + cutNote
		if e = girc.ParseEvent(s); e == nil {
			return "", nil, false
		}
	}
	return s, e, true
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
