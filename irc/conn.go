package irc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lrstanley/girc"
	"golang.org/x/time/rate"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/transports"
)

// conn is one user's connection to one IRC server. It opens a socket per
// connection attempt (lineConn), reconnects with backoff once it has been
// registered, rejoins the user's channels, writes lines through a rate
// limiter, and turns what the server sends into transports events.
//
// One goroutine at a time runs a connection (run): it dials, registers
// (CAP, SASL, NICK, USER: caps.go, registrationLines), then a goroutine
// started for it reads the server's lines (readLoop) while they come, and
// parks the connection when they stop (park.go: no goroutine waits for an
// idle connection; the Network's poller starts the next reader); each is handled in
// the server's order (handleLine, dispatch) on a goroutine that runs only
// while lines wait (lineQueue), answering PING itself. Everything else is
// a timer: the paced writer (flush), the keepalive pings, the registration deadline, the QUIT at the end. girc
// is used only as the line parser (girc.ParseEvent, girc.DecodeCTCP).
type conn struct {
	a        *adapter
	server   string
	wantNick string
	password string
	lim      *rate.Limiter
	// ctcpLim and typeLim pace the CTCP answers and the typing
	// notifications; made at their first use (ctcpLimiter,
	// typeLimiter), since most connections never need them. Under mu.
	ctcpLim *rate.Limiter
	typeLim *rate.Limiter

	// link is the connection's place in the session's reconnect policy
	// (Account.Reconnect), reporting once the connection is the
	// registered server's (linkMain); see retryLink.
	linkMu   sync.Mutex
	linkMain bool
	link     *transports.Link

	mu sync.Mutex
	// The flags are together, so that the struct has no padding after
	// each of them (conn is kept per user).
	registered bool
	everUp     bool
	saslOK     bool
	saslTried  bool          // AUTHENTICATE was sent on this connection
	flushArmed bool          // see flushTimer
	writerDone bool          // see flushTimer
	monitored  bool          // the server's MONITOR list is not empty (monitor.go)
	caps       capSet        // capabilities the server accepted (caps.go)
	firstErr   error         // why the first attempt failed
	regWait    chan struct{} // closed at registration or first failure (then regWaited)
	failErr    error         // what went wrong in the current attempt
	reg        *regLines     // gathered over several lines while registering; nil otherwise
	wire       *lineConn     // the current connection's socket; nil between attempts
	at         *attempt      // the current attempt, with wire
	nick       string
	user, host string
	isupport   isupport
	channels   map[string]*channel // by folded name
	waits      []*await
	echoes     []*echoWait
	seq        int
	out        []outLine
	// The writer is no goroutine of its own: flush runs on a goroutine
	// started when lines are queued, and on a timer when the rate limit
	// lets the next one go (flushArmed: a flush is due or running;
	// writerDone: no more). The timer exists only while the limit holds
	// lines back: an idle connection keeps none.
	flushTimer *time.Timer
	flushing   sync.WaitGroup
	unfenced   []*echoWait       // sends written whose fence is not yet queued
	awayLine   string            // the AWAY line last queued on this connection
	rawUntil   int64             // numerics are forwarded to the user until then (Unix nanoseconds)
	typed      map[string]string // last typing state sent, by folded target
	batches    map[string]bool   // open BATCH references (history replays)
	// quietRedacts are the msgids of the further lines of messages being
	// deleted now: their echoes are not shown (redact.go).
	quietRedacts map[string]int
	linesMu      sync.Mutex // the user's stored line sets of this server (rememberLines)
}

// channel is a joined (or joining) IRC channel.
type channel struct {
	name      string        // as the server spells it
	id        transports.ID // as the user named it
	want      bool          // the user wants to be in it: rejoin after a reconnection
	joined    bool          // our JOIN was seen
	synced    bool          // the member list is complete
	rejoining bool          // joined again after a reconnection
	leaving   bool          // we sent PART
	// sub is the connection's place in the channel's shared view
	// (members, topic), from its own JOIN until it leaves or the
	// connection is lost; nil otherwise.
	sub *viewSub
	old map[string]member // members before a reconnection, by folded nick
}

// member is someone in a channel.
type member struct {
	nick     string
	prefixes string // mode letters, highest first ("ov")
	account  string
	away     bool
	awayText string
}

// await is a wait for a server answer, checked against every event.
type await struct {
	match func(e *girc.Event, self bool) (bool, error)
	done  chan error
}

// echoWait tracks a message sent by the user until the server confirmed
// it: by echoing every line (echo-message), or, without that capability,
// by answering the PING sent after it (errors for the message arrive before
// that answer).
type echoWait struct {
	target string // folded
	lines  int    // echoes still expected (echo-message)
	fence  string // the PING token that confirms it, once queued
	// left counts its lines not written yet; written is closed when
	// they are (and, without echo-message, its fence too): the time to
	// confirm it counts from then, not while it waits its turn.
	left    int
	written chan struct{}
	room    bool
	msg     transports.Message
	id      transports.ID
	action  bool
	body    string
	first   *girc.Event
	ids     []string // the msgids of its echoed lines, in order (redact.go)
	done    chan error
}

// outLine is a queued line; owner is the send it belongs to (nil for
// the connection's own lines), so that a send that gave up can take its
// lines back before they are written. A fence line confirms the sends
// in fenced once the server answers it.
type outLine struct {
	text   string
	owner  any
	fenced []*echoWait
}

// isupport is what the server said in RPL_ISUPPORT that we use.
type isupport struct {
	prefixModes string // "qaohv"
	prefixChars string // "~&@%+"
	chanModes   [4]string
	chanTypes   string
	// historyLimit is CHATHISTORY=n: the most messages one request gets.
	historyLimit int
	// monitor is whether the server has MONITOR; monitorLimit its
	// limit, 0 for none (monitor.go).
	monitor      bool
	monitorLimit int
}

func defaultISupport() isupport {
	return isupport{prefixModes: "ov", prefixChars: "@+", chanModes: [4]string{"beI", "k", "l", "imnpst"}, chanTypes: "#&"}
}

func newConn(a *adapter, server, nick, password string) *conn {
	return &conn{
		a: a, server: server,
		wantNick: nick,
		password: password,
		lim:      rate.NewLimiter(rate.Limit(a.n.cfg.SendRate), a.n.cfg.SendBurst),
		regWait:  make(chan struct{}),
		channels: make(map[string]*channel),
		isupport: defaultISupport(),
	}
}

// servicesHost is the server's services host the admin configured, ""
// when none is.
func (c *conn) servicesHost() string { return c.a.n.cfg.Servers[c.server].ServicesHost }

// regLines is what a connection gathers over several lines while it
// registers: a CAP LS in several lines, so far, and the MOTD. It exists
// only while something is gathered (conn.reg is nil otherwise): an idle
// connection keeps no room for either.
type regLines struct {
	capOffer []string
	motd     []string
}

// regLinesLocked returns the connection's regLines, made if need be.
// Call with c.mu held.
func (c *conn) regLinesLocked() *regLines {
	if c.reg == nil {
		c.reg = &regLines{}
	}
	return c.reg
}

// tidyRegLocked drops the connection's regLines once they hold nothing.
// Call with c.mu held.
func (c *conn) tidyRegLocked() {
	if c.reg != nil && c.reg.capOffer == nil && c.reg.motd == nil {
		c.reg = nil
	}
}

// logger is the connection's log: the Network's logger with the user and
// the server, built when a line is logged rather than kept. A logger
// cloned by With for every connection (and adapter) cost each user about
// 400 bytes of live heap for lines that are rarely written.
func (c *conn) logger() *slog.Logger {
	return c.a.n.log.With("user", c.a.acct.User, "server", c.server)
}

// The paces of the answers a connection makes on its own: at most 3 CTCP
// answers at once, then one per 5 s; 5 typing notifications, then one per
// 2 s.
const (
	ctcpEvery = 5 * time.Second
	ctcpBurst = 3
	typeEvery = 2 * time.Second
	typeBurst = 5
)

// ctcpLimiter returns the limiter of the CTCP answers, made at the first.
func (c *conn) ctcpLimiter() *rate.Limiter { return c.lazyLimiter(&c.ctcpLim, ctcpEvery, ctcpBurst) }

// typeLimiter returns the limiter of the typing notifications, made at
// the first.
func (c *conn) typeLimiter() *rate.Limiter { return c.lazyLimiter(&c.typeLim, typeEvery, typeBurst) }

// lazyLimiter returns *l, made at the first call with one event per
// every after a burst.
func (c *conn) lazyLimiter(l **rate.Limiter, every time.Duration, burst int) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *l == nil {
		*l = rate.NewLimiter(rate.Every(every), burst)
	}
	return *l
}

// regWaited is what a connection's regWait becomes once the wait is
// over: a channel closed already, shared, so that the connection does not
// keep its own for its life.
var regWaited = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// endRegWaitLocked ends the wait for the first registration (once). Call
// with c.mu held.
func (c *conn) endRegWaitLocked() {
	close(c.regWait)
	c.regWait = regWaited
}

// waitRegistered waits until the server accepted the connection's first
// registration, and returns why it failed otherwise.
func (c *conn) waitRegistered(ctx context.Context) error {
	c.mu.Lock()
	wait := c.regWait
	c.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return fmt.Errorf("%w: %s did not accept the connection in time", transports.ErrUnavailable, c.server)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.everUp {
		return nil
	}
	return c.firstErr
}

func (c *conn) isRegistered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registered
}

func (c *conn) authenticated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saslOK
}

// run connects, and once the connection has been registered redials it
// whenever it drops, when the session's reconnect policy says, until the
// adapter closes. The channels the user is in are rejoined (onRegistered).
// The registered server's connection reports its state through the policy;
// when the policy gives up on it (a refused login, the gateway's policy)
// the session ends, and the supervisor tells the user.
//
// It runs as a chain of goroutines, one at a time (step): the one that
// dials hands a connection that is up to a new goroutine, which reads it
// (read) and, when it ends, dials the next attempt itself. So the
// goroutine that reads starts at a shallow frame and keeps a small stack:
// neither the dial's depth nor the frames of a loop around it stay under
// its Read. Where connections park (park.go), a reader ends when the
// server has nothing more to say, and the poller, or Close, starts the
// next one (lineConn.resume): the attempt stays handed off meanwhile.
func (c *conn) run() {
	c.step(c.dial)
}

// step runs f as the connection's goroutine. f reports whether it handed
// the connection to a new goroutine (which then owns its end);
// otherwise the connection has ended, and step does what ends it: the
// writer stopped, the connection out of the adapter's table, the
// adapter's count of goroutines. A panic ends the connection only
// (recoverRoot).
func (c *conn) step(f func() (handedOff bool)) {
	handedOff := false
	defer func() {
		if handedOff {
			return
		}
		c.stopWriter()
		a := c.a
		a.mu.Lock()
		a.conns.drop(c)
		a.mu.Unlock()
		a.wg.Done()
	}()
	defer c.recoverRoot("run")
	handedOff = f()
}

// dial makes connection attempts until one is up, which it hands to a
// new goroutine that reads it (read), or until the connection ends
// (attemptEnded).
func (c *conn) dial() (handedOff bool) {
	for {
		at, err := c.open(&c.a.ctx)
		if err == nil {
			go c.step(func() bool { return c.read(at) })
			return true
		}
		if !c.attemptEnded(err) {
			return false
		}
	}
}

// read reads an attempt's connection until it ends, then goes on as dial
// does; or until the connection parks (park.go): then the poller, or
// Close, resumes it on a new goroutine (lineConn.resume) and this one
// ends, the attempt handed off.
func (c *conn) read(at *attempt) (handedOff bool) {
	parked, err := c.readAttempt(at)
	if parked {
		return true
	}
	if !c.attemptEnded(err) {
		return false
	}
	return c.dial()
}

// readAttempt reads an attempt's connection until it ends and ends the
// attempt (finish), also when a panic unwinds it; a parked attempt is not
// ended.
func (c *conn) readAttempt(at *attempt) (parked bool, err error) {
	defer func() {
		if !parked {
			err = c.finish(at, err)
		}
	}()
	return c.readLoop(at)
}

// attemptEnded cleans up after an attempt that ended with err (lost) and
// reports whether to make another: only for a connection that was
// registered once, and when the session's reconnect policy says so,
// after its wait.
func (c *conn) attemptEnded(err error) (again bool) {
	ctx := &c.a.ctx
	c.lost(err)
	if ctx.Err() != nil {
		c.mu.Lock()
		if !c.everUp && c.firstErr == nil {
			c.firstErr = fmt.Errorf("%w: connection closed", transports.ErrNotConnected)
			c.endRegWaitLocked()
		}
		c.mu.Unlock()
		return false
	}
	c.mu.Lock()
	ever := c.everUp
	if !ever {
		c.firstErr = err
		c.endRegWaitLocked()
	}
	c.mu.Unlock()
	if !ever {
		c.logger().Info("IRC connection failed", "err", err)
		return false
	}
	c.logger().Warn("IRC connection lost", "err", err)
	if !c.retryLink().Lost(ctx, err) {
		if ctx.Err() == nil && c.isMain() {
			c.a.End(err)
		}
		return false
	}
	return true
}

// retryLink returns the connection's link in the session's reconnect
// policy; the registered server's connection gets a reporting one (it
// becomes that once Connect saw it registered).
func (c *conn) retryLink() *transports.Link {
	main := c.isMain()
	c.linkMu.Lock()
	defer c.linkMu.Unlock()
	if c.link == nil || (main && !c.linkMain) {
		c.link, c.linkMain = c.a.acct.Reconnect.Link(main), main
	}
	return c.link
}

// attempt is one connection attempt that is up: its socket and what
// watches it, until finish.
type attempt struct {
	lc      *lineConn
	q       *lineQueue // its lines on their way to handleLine
	release func()     // its place in the egress budget
	// clock is the attempt's one timer: the registration's deadline,
	// then the keepalive (tick). Only its callback touches the fields
	// below it, after open armed it.
	clock          *time.Timer
	regDue         time.Time // the registration's deadline; zero once checked
	pingDue        time.Time // when the keepalive looks next
	every, timeout time.Duration
	// quitting is set by the QUIT at the adapter's end (quit), or by
	// finish; quitTimer then closes the socket of a server that ignores
	// our QUIT.
	quitting  atomic.Bool
	quitTimer atomic.Pointer[time.Timer]
}

// open makes one connection attempt: it dials, writes the registration's
// first lines and arms the timers that watch the connection (the
// registration's deadline, the keepalive, the QUIT at the context's end);
// the server's lines are then read (readLoop) and the attempt ended by
// finish.
func (c *conn) open(ctx context.Context) (*attempt, error) {
	// The server's address, TLS, and whether the admin configured it
	// (then it is dialled without the egress policy) follow from the
	// configuration: looked up for each attempt, not kept per connection.
	addr, useTLS := c.a.n.address(c.server)
	admin := c.a.n.adminServer(c.server)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%w: bad server address %q", transports.ErrInvalidInput, addr)
	}
	release, err := c.a.n.cfg.Budget.Open(c.a.acct.User)
	if err != nil {
		kind := transports.ErrBusy
		if errors.Is(err, egress.ErrRate) {
			kind = transports.ErrLimit
		}
		return nil, fmt.Errorf("%w: %s", kind, egress.Describe(c.server, err))
	}
	opened := false
	var lc *lineConn
	defer func() {
		if !opened { // a failed dial, or a panic
			if lc != nil { // a panic after the dial: the socket goes too
				lc.Close()
				c.mu.Lock()
				if c.wire == lc {
					c.wire, c.at = nil, nil
				}
				c.mu.Unlock()
			}
			release()
		}
	}()
	c.mu.Lock()
	nick := c.wantNick
	if c.nick != "" {
		nick = c.nick // keep the nick we had
	}
	c.failErr = nil
	c.saslOK, c.saslTried = false, false
	c.caps, c.reg = 0, nil
	c.awayLine = "AWAY" // a new connection is not away
	c.isupport = defaultISupport()
	c.batches = nil
	c.mu.Unlock()

	d := &dialer{ctx: ctx, timeout: c.a.n.cfg.Timeout, dial: c.a.n.cfg.Dial}
	if d.dial == nil && !admin {
		d.dial = c.a.n.cfg.Egress.DialContext
	}
	if useTLS {
		// The certificate must be valid for the server's name, also
		// where an entry's address is an IP address (L9).
		d.tls = &tls.Config{ServerName: c.server, RootCAs: c.a.n.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	start := time.Now()
	lc, err = d.open(addr, nick, c.a.n.cfg.RealName)
	if err != nil {
		return nil, dialError(c.server, err)
	}
	// The connection's reading goroutine reads (readLoop), and parks it
	// when idle, to be resumed (resume) when there is more to read or
	// the socket was closed; timers and the context stop it from the
	// side by closing the socket.
	at := &attempt{lc: lc, q: c.lineQueue(lc), release: release}
	lc.resume = func() { go c.step(func() bool { return c.read(at) }) }
	if err := c.a.n.parked.enablePark(lc); err != nil {
		c.logger().Warn("IRC connection read by a blocked goroutine", "err", err)
	}
	c.mu.Lock()
	c.wire, c.at = lc, at // reachable from here on (closeWire, quit)
	// The adapter's Close cancels ctx and then quits the connection's
	// current attempt: either it saw this one, or this sees ctx ended.
	ended := ctx.Err() != nil
	c.mu.Unlock()
	c.startClock(at, start.Add(c.a.n.cfg.Timeout), pingEvery, pingTimeout) // the dial counts
	if ended {
		c.quitAttempt(at)
	}
	opened = true
	return at, nil
}

// quit says QUIT on the connection's current attempt, if any, when the
// adapter closes (its context ended first: no attempt follows). The
// adapter's Close calls it, rather than a context.AfterFunc per attempt
// that every idle connection kept for its life.
func (c *conn) quit() {
	c.mu.Lock()
	at := c.at
	c.mu.Unlock()
	if at != nil {
		c.quitAttempt(at)
	}
}

// quitAttempt writes the attempt's QUIT, once, and closes its socket
// 3 s later if the server has not by then (a server that ignores QUIT).
func (c *conn) quitAttempt(at *attempt) {
	defer c.recoverLog("quit")
	if !at.quitting.CompareAndSwap(false, true) {
		return // said, or the attempt finished
	}
	lc := at.lc
	at.quitTimer.Store(time.AfterFunc(3*time.Second, func() { lc.Close() }))
	if err := lc.writeLine("QUIT :Switchboard: session closed"); err != nil {
		lc.Close()
	}
}

// finish ends an attempt whose reading stopped with err (readLoop): it
// stops the attempt's timers, closes its socket, gives its place in the
// budget back, and returns why the connection ended, as the user is told.
func (c *conn) finish(at *attempt, err error) error {
	at.quitting.Store(true) // no QUIT from now on
	if t := at.quitTimer.Load(); t != nil {
		t.Stop()
	}
	c.mu.Lock()
	fail := c.failErr
	c.mu.Unlock()
	switch {
	case fail != nil:
		err = fail
	case errors.Is(err, errLineTooLong):
		err = fmt.Errorf("%w: %s sent a line longer than 2 MiB; the connection was closed", transports.ErrUnavailable, c.server)
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, errServerClosed):
		err = fmt.Errorf("%w: %s", transports.ErrUnavailable, egress.Describe(c.server, err))
	default:
		err = fmt.Errorf("%w: %s closed the connection", transports.ErrUnavailable, c.server)
	}
	at.clock.Stop()
	at.lc.Close()
	c.mu.Lock()
	c.wire, c.at = nil, nil
	c.registered = false
	c.mu.Unlock()
	at.release()
	return err
}

// dialError is what a failed dial (or a failed first write) returns.
func dialError(server string, err error) error {
	if errors.Is(err, egress.ErrForbidden) {
		return fmt.Errorf("%w: %s", transports.ErrPolicy, egress.Describe(server, err))
	}
	return fmt.Errorf("%w: %s", transports.ErrUnavailable, egress.Describe(server, err))
}

// readLoop reads the attempt's lines until it ends, and has each
// handled in the server's order (handleLine) on the connection's handling
// goroutine (lineQueue), which runs only while lines wait: the goroutine
// that reads keeps a small stack. When the server has nothing more to
// say, the connection parks (park.go) and readLoop returns parked; it
// starts again, with the same queue and the line begun, when resumed.
// Otherwise it returns, once the lines read are handled, why reading
// stopped (or why the handling ended the connection).
func (c *conn) readLoop(at *attempt) (parked bool, err error) {
	lc, q := at.lc, at.q
	for {
		e, err := lc.next(c.logger)
		if err == errWouldBlock {
			parked, perr := lc.park()
			if parked {
				return true, nil
			}
			if perr != nil {
				c.logger().Warn("IRC connection read by a blocked goroutine", "err", perr)
			}
			continue
		}
		if err != nil {
			return false, q.wait(err)
		}
		if !q.push(e) {
			return false, q.wait(nil)
		}
	}
}

// lineQueue returns the queue of an attempt's lines: handled by
// handleLine, the socket closed when that fails.
func (c *conn) lineQueue(lc *lineConn) *lineQueue {
	return newLineQueue(func(e *girc.Event) error { return c.handleLine(lc, e) }, func() { lc.Close() })
}

// handleLine handles one line from the server (dispatch) and answers
// what the connection itself must: a PING at once with its PONG
// (unpaced, also before the registration), and ERROR ends the connection
// (handle kept the server's reason). An error ends the connection.
func (c *conn) handleLine(lc *lineConn, e *girc.Event) error {
	if err := c.dispatch(e); err != nil {
		return err
	}
	switch e.Command {
	case "PING":
		return lc.writeLine("PONG :" + lastParam(e.Params))
	case "ERROR":
		return errServerClosed
	}
	return nil
}

// errServerClosed is the server's ERROR: it closes the connection.
var errServerClosed = errors.New("the server closed the connection")

// How the connection checks that the server is still there: a PING every
// pingEvery, and the end of the connection when nothing was read for
// pingEvery + pingTimeout.
const (
	pingEvery   = 90 * time.Second
	pingTimeout = 3 * time.Minute
)

// startClock arms the attempt's one timer (no goroutine waits for it):
// at regDue (if not zero) the connection ends unless the server accepted
// its registration by then; from the start, every every, the keepalive
// pings the server, and closes the connection when nothing was read
// (lc.read: when the last line was) for every + timeout. One timer, not
// one per duty: an idle connection keeps each of them for its whole
// life. finish stops it.
func (c *conn) startClock(at *attempt, regDue time.Time, every, timeout time.Duration) {
	at.regDue, at.every, at.timeout = regDue, every, timeout
	at.pingDue = time.Now().Add(every)
	at.clock = time.AfterFunc(time.Hour, func() { c.tick(at) })
	at.clock.Reset(at.nextTick())
}

// nextTick is how long until the clock's next duty.
func (at *attempt) nextTick() time.Duration {
	next := at.pingDue
	if !at.regDue.IsZero() && at.regDue.Before(next) {
		next = at.regDue
	}
	return time.Until(next)
}

// tick does the clock's duties that are due (startClock) and arms it for
// the next one.
func (c *conn) tick(at *attempt) {
	defer c.recoverLog("clock")
	lc, now := at.lc, time.Now()
	if !at.regDue.IsZero() && !now.Before(at.regDue) {
		at.regDue = time.Time{}
		if !c.isRegistered() {
			c.setFail(fmt.Errorf("%w: %s did not complete the registration in time", transports.ErrUnavailable, c.server))
			lc.Close()
			return
		}
	}
	if !now.Before(at.pingDue) {
		if time.Since(time.Unix(0, lc.read.Load())) > at.every+at.timeout {
			c.setFail(fmt.Errorf("%w: %s did not answer for %v", transports.ErrUnavailable, c.server, at.every+at.timeout))
			lc.Close()
			return
		}
		if err := lc.writeLine("PING :keepalive"); err != nil {
			lc.Close()
			return
		}
		at.pingDue = time.Now().Add(at.every)
	}
	at.clock.Reset(at.nextTick())
}

// dispatch handles one line from the server: the connection's state and
// events (handle), then its CTCP request (onCTCP). It runs on the
// connection's handling goroutine (lineQueue), one line at a time, so
// events are produced in the server's order. A panic is logged with its
// stack and ends this connection only, with the user told why.
func (c *conn) dispatch(e *girc.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.logger().Error("IRC handler panicked; closing the connection", "command", e.Command,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.setFail(fmt.Errorf("%w: %s", transports.ErrUnavailable, internalErrorText(c.server)))
			err = fmt.Errorf("irc: handling a line: %w", errBadLine)
		}
	}()
	c.handle(*e)
	if ctcp := girc.DecodeCTCP(e); ctcp != nil {
		c.onCTCP(*ctcp)
	}
	return nil
}

// recoverLog logs a panic of a goroutine that only runs a timer's
// callback, with its stack; it must be deferred directly.
func (c *conn) recoverLog(where string) {
	if p := recover(); p != nil {
		c.logger().Error("IRC connection callback panicked", "callback", where, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

func (c *conn) setFail(err error) {
	c.mu.Lock()
	if c.failErr == nil {
		c.failErr = err
	}
	c.mu.Unlock()
}

// lost cleans up after a connection ended: waiters fail, queued lines are
// dropped (their senders were told), and the user is told in every room.
func (c *conn) lost(err error) {
	isMain := c.isMain()
	c.mu.Lock()
	waits, echoes := c.waits, c.echoes
	c.waits, c.echoes, c.out, c.unfenced = nil, nil, nil, nil
	var evs []transports.Event
	for _, ch := range c.channels {
		if ch.joined && ch.want && c.a.ctx.Err() == nil {
			evs = append(evs, &transports.NoticeEvent{About: ch.id, Error: true,
				Text: fmt.Sprintf("Connection to %s lost (%v); reconnecting…", c.server, err)})
		}
		ch.joined, ch.synced = false, false
		if ch.old == nil && ch.want && ch.sub != nil {
			ch.old = ch.sub.members()
		}
		ch.sub.close()
		ch.sub = nil
		if !ch.want {
			delete(c.channels, FoldName(ch.name))
		}
	}
	if len(evs) == 0 && c.everUp && c.a.ctx.Err() == nil && !isMain {
		// In no room, and not the registered server (whose state the
		// user sees): say it from the server's address.
		evs = append(evs, &transports.NoticeEvent{About: c.serverID(), Error: true,
			Text: fmt.Sprintf("Connection to %s lost (%v).", c.server, err)})
	}
	c.mu.Unlock()
	notConnected := fmt.Errorf("%w: the connection to %s was lost", transports.ErrNotConnected, c.server)
	for _, w := range waits {
		w.done <- notConnected
	}
	for _, e := range echoes {
		e.done <- notConnected
	}
	c.a.deliver(evs...)
}

// onRegistered runs when the server ended the registration (end of MOTD).
func (c *conn) onRegistered() {
	c.mu.Lock()
	if c.registered {
		c.mu.Unlock()
		return
	}
	c.registered = true
	c.kickLocked() // lines queued while it was not registered
	first := !c.everUp
	c.everUp = true
	var rejoin []string
	for _, ch := range c.channels {
		if ch.want {
			ch.rejoining = !first
			rejoin = append(rejoin, "JOIN "+ch.name)
		}
	}
	identify := c.password != "" && !c.saslOK && c.wire != nil && !c.hasCapLocked("sasl")
	services := c.servicesHost()
	if identify && services == "" {
		// A password goes only to SASL, or to the NickServ of a services
		// host the admin named: whoever holds the nick NickServ on a
		// server without services would read it otherwise.
		c.registered, c.everUp = false, !first
		c.mu.Unlock()
		c.setFail(fmt.Errorf("%w: %s offers no SASL, and this gateway sends passwords only with SASL or to services it knows for the server; register without a password", transports.ErrPolicy, c.server))
		c.closeWire()
		return
	}
	nick := c.nick
	var motd string
	if c.reg != nil {
		motd = strings.Join(c.reg.motd, "\n")
		c.reg.motd = nil // shown once below; not kept for the connection's life
		c.tidyRegLocked()
	}
	c.mu.Unlock()
	if first {
		c.a.showMOTD(c.serverID(), c.server, motd)
		c.mu.Lock()
		c.endRegWaitLocked()
		c.mu.Unlock()
	} else {
		c.retryLink().Up()
	}
	if identify {
		// No SASL here: fall back to the NickServ of the services host
		// the admin configured (nick@server reaches only that server).
		if err := c.enqueue("PRIVMSG NickServ@" + services + " :IDENTIFY " + nick + " " + c.password); err != nil {
			c.logger().Warn("NickServ IDENTIFY not sent", "err", err)
		}
	}
	c.setAway(c.a.presence())
	if err := c.enqueue(rejoin...); err != nil {
		c.logger().Warn("channels not rejoined", "err", err)
	}
	c.monitor() // the watched contacts, again after a reconnect
}

// dialer dials with the adapter's context, so Close interrupts a dial,
// does the TLS handshake itself, and opens the IRC connection on it.
type dialer struct {
	ctx     context.Context
	timeout time.Duration
	// dial is Config.Dial, the egress policy (servers named by users),
	// or nil: a plain dialer (servers the admin configured).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	tls  *tls.Config // nil: plaintext
}

// open dials address and starts the registration: the capability
// negotiation first (CAP LS, so the server holds the registration until
// CAP END, caps.go), then NICK and USER. Writes are bounded by the
// dialer's timeout.
func (d *dialer) open(address, nick, realName string) (*lineConn, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	var (
		raw net.Conn
		err error
	)
	if d.dial != nil {
		raw, err = d.dial(ctx, "tcp", address)
	} else {
		nd := net.Dialer{Timeout: d.timeout}
		raw, err = nd.DialContext(ctx, "tcp", address)
	}
	if err != nil {
		return nil, err
	}
	conn := raw
	if d.tls != nil {
		tc := tls.Client(parkable(raw), d.tls) // parks once the handshake is done (park.go)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	lc := newLineConn(conn, d.timeout)
	for _, l := range registrationLines(nick, realName) {
		if err := lc.writeLine(l); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return lc, nil
}

// registrationLines are the lines that open a connection: CAP LS 302,
// NICK, and USER with the ident derived from the nick and the real name.
func registrationLines(nick, realName string) []string {
	if realName = Sanitize(realName); realName == "" {
		realName = nick
	}
	return []string{"CAP LS 302", "NICK " + nick, "USER " + ident(nick) + " * * :" + realName}
}

// closeWire closes the current connection's socket, if any: its reading
// goroutine then ends the attempt (run redials, or not, as the policy
// says). Safe from any goroutine, also the reading one.
func (c *conn) closeWire() {
	c.mu.Lock()
	w := c.wire
	c.mu.Unlock()
	if w != nil {
		w.Close()
	}
}

// internalErrorText is what the user is told when handling a server's
// line failed (a recovered panic).
func internalErrorText(server string) string {
	return "internal error while handling a line from " + server + "; the connection was closed"
}

// maxQueued caps the lines waiting to be written on one connection, so
// that nothing a user sends stays queued for long.
const maxQueued = 200

// enqueue queues the connection's own lines for the writer. Lines are
// already sanitised. It fails (ErrBusy) when the queue is full.
func (c *conn) enqueue(lines ...string) error { return c.enqueueFor(nil, lines...) }

// enqueueFor queues lines that belong to owner (a send or a request), so
// that unqueue can take them back when it gives up. All lines are queued
// or none.
func (c *conn) enqueueFor(owner any, lines ...string) error {
	if len(lines) == 0 {
		return nil
	}
	c.mu.Lock()
	if len(c.out)+len(lines) > maxQueued {
		c.mu.Unlock()
		return fmt.Errorf("%w: too many lines are waiting to be sent to %s; try again later", transports.ErrBusy, c.server)
	}
	for _, l := range lines {
		c.out = append(c.out, outLine{text: l, owner: owner})
	}
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// unqueue removes the lines of owner that were not written yet.
func (c *conn) unqueue(owner any) {
	if owner == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.out[:0]
	for _, l := range c.out {
		if l.owner != owner {
			kept = append(kept, l)
		}
	}
	clear(c.out[len(kept):])
	c.out = kept
	if len(kept) == 0 {
		c.out = nil
	}
}

// request queues the lines of a command and waits for w, the answer;
// lines not written when it gives up are taken back.
func (c *conn) request(ctx context.Context, w *await, what string, lines ...string) error {
	if err := c.enqueueFor(w, lines...); err != nil {
		c.removeAwait(w)
		return err
	}
	err := c.waitFor(ctx, w, what)
	if err != nil {
		c.unqueue(w)
	}
	return err
}

// kickLocked makes the writer look at the queue now, unless a flush is
// due already. Call with c.mu held.
func (c *conn) kickLocked() {
	if c.flushArmed || c.writerDone || !c.registered || len(c.out) == 0 {
		return
	}
	c.flushArmed = true
	go c.flush() // stopWriter waits for it (flushing), or it sees writerDone
}

// flush writes queued lines in order, within the rate limit, while the
// connection is registered; when the limit holds the next line back, it
// arms its timer for when it may go. It runs on the timer's goroutine,
// one at a time (flushArmed), and never after stopWriter returned.
//
// Without echo-message, a send is confirmed by the server's answer to a
// PING written after it: one PING (a fence) goes after the last of the
// sends queued one behind the other, and confirms them all.
func (c *conn) flush() {
	c.mu.Lock()
	if c.writerDone {
		c.mu.Unlock()
		return
	}
	c.flushing.Add(1)
	c.mu.Unlock()
	defer c.flushing.Done()
	defer c.recoverLog("writer")
	for {
		c.mu.Lock()
		if c.writerDone || !c.registered || len(c.out) == 0 || c.wire == nil {
			c.flushArmed, c.flushTimer = false, nil
			c.mu.Unlock()
			return
		}
		r := c.lim.Reserve()
		if !r.OK() { // a limit that lets nothing through: until a kick
			c.flushArmed, c.flushTimer = false, nil
			c.mu.Unlock()
			return
		}
		if d := r.Delay(); d > 0 {
			r.Cancel()
			if c.flushTimer == nil {
				c.flushTimer = time.AfterFunc(d, c.flush)
			} else {
				c.flushTimer.Reset(d) // the timer that runs this flush: it has fired
			}
			c.mu.Unlock()
			return
		}
		l := c.out[0]
		c.out[0] = outLine{}
		c.out = c.out[1:]
		if len(c.out) == 0 {
			c.out = nil
		}
		c.wroteLocked(l)
		w := c.wire
		c.mu.Unlock()
		if err := w.writeLine(l.text); err != nil {
			c.logger().Warn("IRC line not sent", "command", strings.SplitN(l.text, " ", 2)[0], "err", err)
		}
	}
}

// wroteLocked notes that l is being written: a send whose last line it is
// is written, or waits for a fence; a fence confirms the sends it names
// once answered. The fence is queued first in line when the next queued
// line belongs to no send that needs one. Call with c.mu held.
func (c *conn) wroteLocked(l outLine) {
	for _, w := range l.fenced {
		close(w.written)
	}
	w, ok := l.owner.(*echoWait)
	if !ok {
		return
	}
	if w.left--; w.left > 0 {
		return
	}
	if w.lines > 0 { // echo-message: the echoes confirm it
		close(w.written)
		return
	}
	c.unfenced = append(c.unfenced, w)
	if len(c.out) > 0 {
		if next, ok := c.out[0].owner.(*echoWait); ok && next.lines == 0 && next != w {
			return // the next send's fence will confirm this one too
		}
	}
	c.seq++
	token := "sb" + strconv.Itoa(c.seq)
	for _, u := range c.unfenced {
		u.fence = token
	}
	c.out = append([]outLine{{text: "PING :" + token, fenced: c.unfenced}}, c.out...)
	c.unfenced = nil
}

// stopWriter stops the writer for good and waits for a flush under way.
func (c *conn) stopWriter() {
	c.mu.Lock()
	c.writerDone = true
	if c.flushTimer != nil {
		c.flushTimer.Stop()
	}
	c.mu.Unlock()
	c.flushing.Wait()
}

// wait registers an await before the lines that cause the answer are sent.
func (c *conn) addAwait(match func(e *girc.Event, self bool) (bool, error)) *await {
	w := &await{match: match, done: make(chan error, 1)}
	c.mu.Lock()
	c.waits = append(c.waits, w)
	c.mu.Unlock()
	return w
}

func (c *conn) removeAwait(w *await) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.waits {
		if x == w {
			c.waits = without(c.waits, i)
			return
		}
	}
}

// without returns s without its element i: the slot it frees is cleared,
// so that no finished wait stays reachable from the slice's backing array
// (with the event and the message it holds), and an empty slice is nil,
// so that an idle connection keeps no array at all.
func without[T any](s []T, i int) []T {
	s = slices.Delete(s, i, i+1)
	if len(s) == 0 {
		return nil
	}
	return s
}

// waitFor waits for w's answer, bounded by ctx and the network timeout.
func (c *conn) waitFor(ctx context.Context, w *await, what string) error {
	t := time.NewTimer(c.a.n.cfg.Timeout)
	defer t.Stop()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		c.removeAwait(w)
		return ctx.Err()
	case <-t.C:
		c.removeAwait(w)
		return fmt.Errorf("%w: %s did not answer %s in time", transports.ErrUnavailable, c.server, what)
	}
}

// checkAwaits hands e to the waits; every wait that matches is done.
// Matches run without the lock (they may look at the connection's state);
// only the reading goroutine (dispatch) runs them.
func (c *conn) checkAwaits(e *girc.Event) {
	self := c.isSelf(e)
	c.mu.Lock()
	waits := append([]*await(nil), c.waits...)
	c.mu.Unlock()
	for _, w := range waits {
		ok, err := w.match(e, self)
		if !ok {
			continue
		}
		c.removeAwait(w)
		w.done <- err
	}
}

// serverError turns an IRC error numeric from server into an error
// wrapping the right sentinel, with the server's text after the server's
// name (the user's own, so the text names the server once).
func serverError(server string, e *girc.Event) error {
	text := DecodeText(lastParam(e.Params))
	if len(e.Params) >= 3 {
		text = DecodeText(e.Params[1]) + ": " + text
	}
	var kind error
	switch e.Command {
	case "401", "403", "406", "441": // no such nick/channel, was no such nick, not on channel
		kind = transports.ErrNotFound
	case "433", "436", "437": // nick in use, collision, unavailable
		kind = transports.ErrConflict
	case "432": // erroneous nickname
		kind = transports.ErrInvalidInput
	case "464", "904", "902": // password mismatch, SASL failed, nick locked
		kind = transports.ErrBadCredentials
	case "471", "405": // channel full, too many channels
		kind = transports.ErrUnavailable
	default: // 404 cannot send, 442 not on channel, 465 banned, 473, 474, 475, 477, 482, 489 …
		kind = transports.ErrForbidden
	}
	return fmt.Errorf("%w: %s: %s", kind, server, cutUTF8(StripFormatting(text), 300))
}

// join joins name (the user's room ID id) and waits for the member list.
func (c *conn) join(ctx context.Context, id transports.ID, name string) error {
	key := FoldName(name)
	c.mu.Lock()
	ch := c.channels[key]
	if ch != nil && ch.joined && ch.synced && !ch.leaving {
		ch.want = true
		evs := c.snapshotLocked(ch)
		c.mu.Unlock()
		c.a.deliver(evs...)
		return nil
	}
	if ch == nil {
		ch = &channel{name: name, id: id}
		c.channels[key] = ch
	}
	ch.id, ch.want, ch.leaving = id, true, false
	c.mu.Unlock()
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		if len(e.Params) < 2 || FoldName(e.Params[1]) != key {
			return false, nil
		}
		switch e.Command {
		case "366":
			return true, nil
		case "403", "405", "437", "471", "473", "474", "475", "477", "489", "520":
			return true, serverError(c.server, e)
		}
		return false, nil
	})
	err := c.request(ctx, w, "the join", "JOIN "+name)
	if err != nil {
		c.mu.Lock()
		if ch := c.channels[key]; ch != nil && !ch.joined {
			delete(c.channels, key)
		}
		c.mu.Unlock()
	}
	return err
}

// part leaves name and waits for the server's confirmation.
func (c *conn) part(ctx context.Context, name string) error {
	key := FoldName(name)
	c.mu.Lock()
	ch := c.channels[key]
	if ch == nil {
		c.mu.Unlock()
		return nil
	}
	ch.want = false
	if !ch.joined {
		delete(c.channels, key)
		c.mu.Unlock()
		return nil
	}
	ch.leaving = true
	c.mu.Unlock()
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		if len(e.Params) < 1 {
			return false, nil
		}
		switch e.Command {
		case "PART":
			return self && FoldName(e.Params[0]) == key, nil
		case "442", "403":
			return len(e.Params) >= 2 && FoldName(e.Params[1]) == key, nil
		}
		return false, nil
	})
	return c.request(ctx, w, "the part", "PART "+name)
}

func (c *conn) inChannel(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.channels[FoldName(name)]
	return ch != nil && ch.joined
}

// isSelf reports whether e comes from us.
func (c *conn) isSelf(e *girc.Event) bool {
	if e.Source == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return EqualFold(e.Source.Name, c.nick)
}

// snapshotLocked lists a synced channel's state as the events of a join.
func (c *conn) snapshotLocked(ch *channel) []transports.Event {
	self := FoldName(c.nick)
	var me *member
	v := ch.sub.v
	v.mu.Lock()
	// The events are built in two allocations at their final size, not
	// one per member and a slice grown by appends: a join in a channel of
	// N makes N of them, all short-lived, and fewer small objects among
	// the join's long-lived ones leave fewer half-empty heap pages.
	evs := make([]transports.Event, 0, len(v.members)+2)
	others := make([]transports.OccupantEvent, 0, len(v.members))
	for k, m := range v.members {
		if k == self {
			me = m
			continue
		}
		others = append(others, c.occupant(ch, *m)) // within its capacity: the pointers stay valid
		evs = append(evs, &others[len(others)-1])
	}
	ready := &transports.RoomReadyEvent{Room: ch.id, Nick: c.nick}
	if me != nil {
		ready.Role, ready.Affiliation = c.roleOf(me.prefixes)
		ready.OccupantID = occupantID(me.account)
	}
	evs = append(evs, ready, &transports.SubjectEvent{Room: ch.id, Subject: v.topic, Nick: v.topicBy, Time: v.topicAt})
	v.mu.Unlock()
	return evs
}

// occupantEvent is the event that shows member m of ch to the user.
func (c *conn) occupantEvent(ch *channel, m member) *transports.OccupantEvent {
	ev := c.occupant(ch, m)
	return &ev
}

// occupant is occupantEvent's event as a value.
func (c *conn) occupant(ch *channel, m member) transports.OccupantEvent {
	role, aff := c.roleOf(m.prefixes)
	ev := transports.OccupantEvent{Room: ch.id, Nick: m.nick, Role: role, Affiliation: aff, Account: m.account,
		OccupantID: occupantID(m.account), Self: EqualFold(m.nick, c.nick)}
	if m.away {
		ev.Presence = transports.Presence{Show: transports.Away, Status: m.awayText}
	}
	return ev
}

// roleOf maps channel status modes to MUC roles and affiliations, as
// biboumi does: founder → owner, admin and operator → admin, all three
// moderators; half-operator → member and moderator; voice → member.
func (c *conn) roleOf(modes string) (transports.Role, transports.Affiliation) {
	switch {
	case strings.ContainsRune(modes, 'q'):
		return transports.RoleModerator, transports.AffiliationOwner
	case strings.ContainsRune(modes, 'a'), strings.ContainsRune(modes, 'o'):
		return transports.RoleModerator, transports.AffiliationAdmin
	case strings.ContainsRune(modes, 'h'):
		return transports.RoleModerator, transports.AffiliationMember
	case strings.ContainsRune(modes, 'v'):
		return transports.RoleParticipant, transports.AffiliationMember
	}
	return transports.RoleParticipant, transports.AffiliationNone
}

// sendMessage sends a PRIVMSG (or CTCP ACTION) to target, split into
// lines that fit, and waits until the server confirmed it.
func (c *conn) sendMessage(ctx context.Context, target string, id transports.ID, room bool, msg transports.Message) (transports.RemoteID, error) {
	w, err := c.queueMessage(target, id, room, msg)
	if err != nil || w == nil {
		return "", err
	}
	return c.waitSent(ctx, w)
}

// queueMessage queues a PRIVMSG (or CTCP ACTION) to target, split into
// lines that fit, behind what the connection queued before, and returns
// the wait for its confirmation (waitSent): nil for a body with nothing
// to send. It does not wait for the server; an error means nothing was
// queued.
func (c *conn) queueMessage(target string, id transports.ID, room bool, msg transports.Message) (*echoWait, error) {
	body, action := msg.Body, msg.Action
	if rest, ok := strings.CutPrefix(body, "/me "); ok {
		body, action = rest, true
	}
	// \x01 would let the user forge CTCP requests (DCC, …).
	body = strings.ReplaceAll(body, "\x01", "")
	c.mu.Lock()
	if !c.registered || c.wire == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: not connected to %s right now", transports.ErrNotConnected, c.server)
	}
	budget := LineBudget(c.nick, c.user, c.host, "PRIVMSG", target)
	if action {
		budget -= ActionOverhead
	}
	tags := c.hasCapLocked("message-tags")
	echo := c.hasCapLocked("echo-message")
	c.mu.Unlock()
	pieces := SplitMessage(body, budget)
	if len(pieces) == 0 {
		return nil, nil
	}
	if max := c.a.n.cfg.MaxLinesPerMessage; len(pieces) > max {
		return nil, fmt.Errorf("%w: message would be %d IRC lines; the limit is %d", transports.ErrLimit, len(pieces), max)
	}
	lines := make([]string, 0, len(pieces)+1)
	for i, p := range pieces {
		line := "PRIVMSG " + target + " :" + p
		if action {
			line = "PRIVMSG " + target + " :\x01ACTION " + p + "\x01"
		}
		if i == 0 && tags && msg.ReplyTo != "" {
			line = "@+draft/reply=" + escapeTag(string(msg.ReplyTo)) + " " + line
		}
		lines = append(lines, line)
	}
	w := &echoWait{target: FoldName(target), lines: len(pieces), left: len(lines), room: room, msg: msg, id: id, action: action, body: body,
		written: make(chan struct{}), done: make(chan error, 1)}
	if !echo {
		w.lines = 0 // a fence confirms it (wroteLocked)
	}
	c.mu.Lock()
	c.echoes = append(c.echoes, w)
	c.mu.Unlock()
	if err := c.enqueueFor(w, lines...); err != nil {
		c.dropEcho(w)
		return nil, err
	}
	return w, nil
}

// waitSent waits until the server confirmed the message w queued and
// returns its IRCv3 msgid, if any. The server has Timeout to confirm the
// message once it is written; while it waits its turn in the queue
// (bounded by maxQueued and the pace) only ctx and the connection's end
// stop it. When ctx ends first, the message's lines not written yet are
// taken back.
func (c *conn) waitSent(ctx context.Context, w *echoWait) (transports.RemoteID, error) {
	written := w.written
	var expired <-chan time.Time
	for done := false; !done; {
		select {
		case err := <-w.done:
			if err != nil {
				return "", err
			}
			done = true
		case <-written:
			written = nil
			t := time.NewTimer(c.a.n.cfg.Timeout)
			defer t.Stop()
			expired = t.C
		case <-ctx.Done():
			c.dropEcho(w)
			return "", ctx.Err()
		case <-expired:
			c.dropEcho(w)
			return "", fmt.Errorf("%w: %s did not confirm the message in time", transports.ErrUnavailable, c.server)
		}
	}
	if len(w.ids) > 1 {
		c.rememberLines(ctx, w.target, w.ids) // folded; linesKey folds again
	}
	if w.first != nil {
		if msgid, ok := w.first.Tags.Get("msgid"); ok {
			return transports.RemoteID(msgid), nil
		}
	}
	return "", nil
}

// dropEcho forgets a send that gave up, and takes back its lines not
// written yet: they are never sent later.
func (c *conn) dropEcho(w *echoWait) {
	c.unqueue(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.echoes {
		if x == w {
			c.echoes = without(c.echoes, i)
			return
		}
	}
}

// echoDone completes w: for a room, the user's message is reflected.
func (c *conn) echoDone(w *echoWait) {
	if w.room {
		ev := &transports.MessageEvent{From: w.id, Room: true, Nick: c.currentNick(), Body: w.body, Action: w.action,
			Own: true, EchoOf: w.msg.ID, ReplyTo: w.msg.ReplyTo}
		if w.first != nil {
			if msgid, ok := w.first.Tags.Get("msgid"); ok {
				ev.RemoteID = transports.RemoteID(msgid)
			}
			if _, ok := w.first.Tags.Get("time"); ok {
				ev.Time = w.first.Timestamp
			}
		}
		c.a.deliver(ev)
	}
	w.done <- nil
}

func (c *conn) currentNick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick
}

// maxRawLines caps the commands of one message to the server JID.
const maxRawLines = 10

// rawAllowed lists the raw commands a registered user may send from the
// server JID: queries, and channel and user management that the server
// itself checks. Commands that would change the connection (QUIT, NICK,
// PASS, CAP, JOIN, PART, OPER…) are the gateway's own business.
var rawAllowed = map[string]bool{
	"WHOIS": true, "WHO": true, "WHOWAS": true, "LIST": true, "NAMES": true, "MOTD": true, "VERSION": true,
	"TIME": true, "INFO": true, "LUSERS": true, "ADMIN": true, "INVITE": true, "KNOCK": true, "MODE": true,
	"TOPIC": true, "KICK": true, "AWAY": true, "PRIVMSG": true, "NOTICE": true,
}

// serviceNicks are the services PRIVMSG and NOTICE may reach from the
// server JID, where the admin configured the server's services host.
var serviceNicks = []string{"NickServ", "ChanServ", "MemoServ", "HostServ", "BotServ", "OperServ", "HelpServ", "SaslServ", "GroupServ", "InfoServ", "StatServ", "ALIS"}

// sendRaw sends each line of body as a raw IRC command (biboumi's
// behaviour for messages to the server JID); replies come back as
// messages from the server for a while. Only registered users may, only
// commands of rawAllowed, at most maxRawLines, no CTCP, no tags and no
// prefix; PRIVMSG and NOTICE only to services, addressed to the services
// host the admin configured. Every line is checked before any is queued.
func (c *conn) sendRaw(ctx context.Context, body string, registered bool) error {
	if !registered {
		return fmt.Errorf("%w: raw IRC commands are only for registered users", transports.ErrPolicy)
	}
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(Sanitize(l))
		if l == "" {
			continue
		}
		if len(lines) == maxRawLines {
			return fmt.Errorf("%w: at most %d IRC commands per message", transports.ErrLimit, maxRawLines)
		}
		if len(l) > 510 {
			return fmt.Errorf("%w: an IRC command is at most 510 bytes", transports.ErrInvalidInput)
		}
		if strings.ContainsRune(l, '\x01') {
			return fmt.Errorf("%w: CTCP is not allowed in raw IRC commands", transports.ErrPolicy)
		}
		if l[0] == '@' || l[0] == ':' {
			return fmt.Errorf("%w: raw IRC commands take no tags and no prefix", transports.ErrPolicy)
		}
		e := girc.ParseEvent(l)
		if e == nil {
			return fmt.Errorf("%w: that is not an IRC command", transports.ErrInvalidInput)
		}
		if !rawAllowed[e.Command] {
			return fmt.Errorf("%w: the IRC command %s is not allowed here; allowed: WHOIS, WHO, WHOWAS, LIST, NAMES, MOTD, VERSION, TIME, INFO, LUSERS, ADMIN, INVITE, KNOCK, MODE, TOPIC, KICK, AWAY, and PRIVMSG or NOTICE to services",
				transports.ErrPolicy, cutUTF8(e.Command, 20))
		}
		if e.Command == "PRIVMSG" || e.Command == "NOTICE" {
			if len(e.Params) != 2 {
				return fmt.Errorf("%w: %s takes a target and a text", transports.ErrInvalidInput, e.Command)
			}
			svc := ""
			for _, n := range serviceNicks {
				if EqualFold(e.Params[0], n) {
					svc = n
				}
			}
			services := c.servicesHost()
			if svc == "" || services == "" {
				return fmt.Errorf("%w: raw %s goes only to the services of a server whose services host the admin configured", transports.ErrPolicy, e.Command)
			}
			l = e.Command + " " + svc + "@" + services + " :" + e.Params[1]
		}
		lines = append(lines, l)
	}
	c.mu.Lock()
	c.rawUntil = time.Now().Add(30 * time.Second).UnixNano()
	c.mu.Unlock()
	return c.enqueue(lines...)
}

// setAway mirrors an XMPP availability as IRC AWAY, only when that
// changes what the server knows.
func (c *conn) setAway(p transports.Presence) {
	line := awayLine(p)
	c.mu.Lock()
	if line == c.awayLine {
		c.mu.Unlock()
		return
	}
	c.awayLine = line
	c.mu.Unlock()
	if err := c.enqueue(line); err != nil {
		c.logger().Warn("AWAY not sent", "err", err)
	}
}

// maxAwayBytes caps an away text.
const maxAwayBytes = 200

// awayLine is the AWAY line for an XMPP availability.
func awayLine(p transports.Presence) string {
	switch p.Show {
	case transports.Away, transports.ExtendedAway, transports.DoNotDisturb:
		text := cutUTF8(Sanitize(p.Status), maxAwayBytes)
		if strings.TrimSpace(text) == "" {
			text = "Away"
		}
		return "AWAY :" + text
	}
	return "AWAY"
}

// cutUTF8 cuts s to at most n bytes, never inside a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// onCTCP answers CTCP VERSION, PING and TIME: as NOTICE replies through
// the paced writer, at most a few per minute, so a CTCP flood cannot make
// the gateway flood. A request without a source (or from a name that is
// not a nick) is dropped.
func (c *conn) onCTCP(e girc.CTCPEvent) {
	if e.Reply || e.Source == nil || !validNick(e.Source.Name) || EqualFold(e.Source.Name, c.currentNick()) {
		return
	}
	var text string
	switch e.Command {
	case girc.CTCP_VERSION:
		text = c.a.n.cfg.Version
	case girc.CTCP_PING:
		text = e.Text
	case girc.CTCP_TIME:
		text = time.Now().UTC().Format(time.RFC1123Z)
	default:
		return
	}
	if !c.ctcpLimiter().Allow() {
		return
	}
	text = cutUTF8(strings.ReplaceAll(Sanitize(text), "\x01", ""), 100)
	line := "NOTICE " + e.Source.Name + " :\x01" + e.Command
	if text != "" {
		line += " " + text
	}
	if err := c.enqueue(line + "\x01"); err != nil {
		c.logger().Debug("CTCP answer dropped", "err", err)
	}
}

// topic sets a channel's topic and waits for the server's answer.
func (c *conn) topic(ctx context.Context, name, text string) error {
	key := FoldName(name)
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		switch e.Command {
		case "TOPIC":
			return len(e.Params) >= 1 && FoldName(e.Params[0]) == key && self, nil
		case "482", "442", "403", "477":
			if len(e.Params) >= 2 && FoldName(e.Params[1]) == key {
				return true, serverError(c.server, e)
			}
		}
		return false, nil
	})
	return c.request(ctx, w, "the topic change", "TOPIC "+name+" :"+Sanitize(text))
}

// kick kicks nick out of a channel.
func (c *conn) kick(ctx context.Context, name, nick, reason string) error {
	if !validNick(nick) {
		return fmt.Errorf("%w: %q is not an IRC nickname", transports.ErrInvalidInput, nick)
	}
	key := FoldName(name)
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		switch e.Command {
		case "KICK":
			return len(e.Params) >= 2 && FoldName(e.Params[0]) == key && EqualFold(e.Params[1], nick), nil
		case "482", "441", "442", "401", "403":
			if len(e.Params) >= 2 && (FoldName(e.Params[1]) == key || EqualFold(e.Params[1], nick)) {
				return true, serverError(c.server, e)
			}
		}
		return false, nil
	})
	line := "KICK " + name + " " + nick
	if r := Sanitize(reason); r != "" {
		line += " :" + r
	}
	return c.request(ctx, w, "the kick", line)
}

// setRole gives or takes channel status to match a MUC role.
func (c *conn) setRole(ctx context.Context, name, nick string, role transports.Role) error {
	var modes string
	switch role {
	case transports.RoleModerator:
		modes = "+o"
	case transports.RoleParticipant:
		if c.has(name, nick, 'o') {
			modes = "-o"
		} else {
			modes = "+v"
		}
	case transports.RoleVisitor:
		modes = "-v"
	}
	return c.mode(ctx, name, nick, modes)
}

// setAffiliation gives or takes channel status to match a MUC affiliation.
func (c *conn) setAffiliation(ctx context.Context, name, nick string, aff transports.Affiliation) error {
	switch aff {
	case transports.AffiliationOwner:
		if !strings.ContainsRune(c.statusModes(), 'q') {
			return fmt.Errorf("%w: %s has no channel owner status", transports.ErrUnsupported, c.server)
		}
		return c.mode(ctx, name, nick, "+q")
	case transports.AffiliationAdmin:
		return c.mode(ctx, name, nick, "+o")
	case transports.AffiliationMember:
		return c.mode(ctx, name, nick, "+v")
	case transports.AffiliationOutcast:
		if err := c.mode(ctx, name, nick+"!*@*", "+b"); err != nil {
			return err
		}
		return c.kick(ctx, name, nick, "Banned")
	default:
		held := c.heldModes(name, nick)
		if held == "" {
			return nil
		}
		return c.mode(ctx, name, nick, "-"+held)
	}
}

func (c *conn) statusModes() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isupport.prefixModes
}

func (c *conn) has(name, nick string, mode rune) bool {
	return strings.ContainsRune(c.heldModes(name, nick), mode)
}

func (c *conn) heldModes(name, nick string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.channels[FoldName(name)]; ch != nil && ch.sub != nil {
		if m, ok := ch.sub.member(nick); ok {
			return m.prefixes
		}
	}
	return ""
}

// mode sets modes (each taking arg) and waits for the server's answer.
func (c *conn) mode(ctx context.Context, name, arg, modes string) error {
	if len(modes) < 2 {
		return nil
	}
	key := FoldName(name)
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		switch e.Command {
		case "MODE":
			return len(e.Params) >= 2 && FoldName(e.Params[0]) == key && self, nil
		case "482", "441", "442", "401", "403", "472":
			if len(e.Params) >= 2 {
				return true, serverError(c.server, e)
			}
		}
		return false, nil
	})
	args := strings.Repeat(" "+arg, len(modes)-1)
	return c.request(ctx, w, "the mode change", "MODE "+name+" "+modes+args)
}

// list lists the server's channels (IRC LIST).
func (c *conn) list(ctx context.Context) ([]transports.RoomInfo, error) {
	var rooms []transports.RoomInfo
	const maxRooms = 20000
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		switch e.Command {
		case "322":
			if len(e.Params) >= 3 && len(rooms) < maxRooms {
				n, _ := strconv.Atoi(e.Params[2])
				t := Target{Server: c.server, Channel: e.Params[1]}
				topic := ""
				if len(e.Params) >= 4 {
					topic = StripFormatting(DecodeText(e.Params[3]))
				}
				rooms = append(rooms, transports.RoomInfo{ID: c.a.id(t), Name: e.Params[1], Members: n, Topic: topic})
			}
		case "323":
			return true, nil
		case "481", "263":
			return true, serverError(c.server, e)
		}
		return false, nil
	})
	if err := c.request(ctx, w, "LIST", "LIST"); err != nil {
		return nil, err
	}
	return rooms, nil
}

// typing sends a typing notification where the server takes client tags.
func (c *conn) typing(target string, state transports.ChatState) error {
	if !c.hasCap("message-tags") {
		return nil
	}
	v := "active"
	switch state {
	case transports.Paused:
		v = "paused"
	case transports.Active:
		v = "done"
	}
	key := FoldName(target)
	c.mu.Lock()
	last, seen := c.typed[key]
	c.mu.Unlock()
	if seen && last == v {
		return nil // nothing changed
	}
	if !c.typeLimiter().Allow() {
		return nil // a hint, not worth a flood: dropped
	}
	c.mu.Lock()
	if c.typed == nil || len(c.typed) >= 100 {
		c.typed = make(map[string]string)
	}
	c.typed[key] = v
	c.mu.Unlock()
	return c.enqueue("@+typing=" + v + " TAGMSG " + target)
}

// checkMember returns an error unless nick is a valid nick and a known
// member of channel name, so moderation never sends a MODE or KICK with
// an unchecked argument (L6).
func (c *conn) checkMember(name, nick string) error {
	if !validNick(nick) {
		return fmt.Errorf("%w: %q is not an IRC nickname", transports.ErrInvalidInput, nick)
	}
	c.mu.Lock()
	ch := c.channels[FoldName(name)]
	ok := false
	if ch != nil && ch.sub != nil {
		_, ok = ch.sub.member(nick)
	}
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s is not in %s", transports.ErrNotFound, nick, name)
	}
	return nil
}

// react sends a reaction where the server takes client tags.
func (c *conn) react(target string, to transports.RemoteID, reaction string) error {
	if !c.hasCap("message-tags") {
		return fmt.Errorf("%w: %s does not take reactions", transports.ErrUnsupported, c.server)
	}
	if to == "" {
		return fmt.Errorf("%w: the message has no IRC ID", transports.ErrNotFound)
	}
	return c.enqueue("@+draft/react=" + escapeTag(cutUTF8(Sanitize(reaction), 64)) + ";+draft/reply=" + escapeTag(cutUTF8(string(to), 256)) + " TAGMSG " + target)
}

func (c *conn) hasCap(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wire != nil && c.hasCapLocked(name)
}

// escapeTag escapes an IRCv3 tag value.
func escapeTag(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\:`, " ", `\s`, "\r", `\r`, "\n", `\n`, "\x00", "")
	return r.Replace(s)
}
