// Connections to mail servers. Every server is untrusted: users name it
// themselves, so what it sends (or fails to send) must neither crash,
// stall nor exhaust the gateway, and must never be echoed to the user.

package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/transports"
)

// metaCap is how many bytes an IMAP server may send for one command other
// than a message fetch (and for one IDLE): plenty for SELECT, SEARCH, an
// envelope or a burst of flag updates, far too little to exhaust memory.
const metaCap = 4 << 20

// errReadCap is what a capConn's Read returns once the server sent more
// than the current command allows.
var errReadCap = errors.New("email: the server sent more than the command allows")

// capConn bounds what a server may send: Read fails once the allowance
// set by allow is spent, which ends the connection.
type capConn struct {
	net.Conn
	left atomic.Int64
	over atomic.Bool
}

func newCapConn(c net.Conn) *capConn {
	cc := &capConn{Conn: c}
	cc.allow(metaCap)
	return cc
}

// allow sets how many more bytes the server may send.
func (c *capConn) allow(n int64) { c.left.Store(n) }

func (c *capConn) Read(b []byte) (int, error) {
	left := c.left.Load()
	if left <= 0 {
		c.over.Store(true)
		return 0, errReadCap
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	n, err := c.Conn.Read(b)
	c.left.Add(-int64(n))
	return n, err
}

// reachError is what the user is told when addr could not be reached or
// did not speak the protocol: a fixed phrase (egress.Describe), never the
// peer's bytes. An address the policy refuses wraps transports.ErrPolicy,
// an exhausted connection budget transports.ErrLimit, anything else
// transports.ErrUnavailable.
func reachError(addr string, err error) error {
	switch {
	case errors.Is(err, egress.ErrForbidden):
		return fmt.Errorf("%w: %s is not a public address, and this gateway connects only to public mail servers and the ones its admin configured", transports.ErrPolicy, addr)
	case errors.Is(err, egress.ErrTooMany), errors.Is(err, egress.ErrRate):
		return fmt.Errorf("%w: %s", transports.ErrLimit, egress.Reason(err))
	case errors.Is(err, errNoStartTLS):
		return fmt.Errorf("%w: %s refused STARTTLS; choose security tls, or ask its admin", transports.ErrUnavailable, addr)
	}
	return fmt.Errorf("%w: %s", transports.ErrUnavailable, egress.Describe(addr, err))
}

// dial opens a TCP connection to a mail server: directly for the admin's
// default server, through the egress policy (address checked at dial
// time) for one the user named.
func (n *Network) dial(ctx context.Context, addr string, admin bool) (net.Conn, error) {
	if n.dialer != nil {
		return n.dialer(ctx, addr)
	}
	if admin {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	return n.cfg.Egress.DialContext(ctx, "tcp", addr)
}

// lease takes one connection of the budget for user.
func (n *Network) lease(user, addr string) (func(), error) {
	release, err := n.cfg.Budget.Open(user)
	if err != nil {
		return nil, reachError(addr, err)
	}
	return release, nil
}

// imapConn is one IMAP connection with what bounds it: a budget lease
// released on close, a cap on the bytes the server may send per command,
// and a watchdog that closes the connection when a command stalls.
type imapConn struct {
	*imapclient.Client
	raw     *capConn
	addr    string
	timeout time.Duration
	release func()
	stop    func() bool // undoes the close on the end of the session
	once    sync.Once
}

// closeGrace is how long a connection may still log out once its session
// was cancelled, before it is closed hard.
func (n *Network) closeGrace() time.Duration {
	return min(n.cfg.Timeout, 3*time.Second)
}

// dialIMAP connects to the user's IMAP server for user and logs in. ctx
// bounds connecting and logging in; life is the session's lifetime: when
// it ends the connection gets closeGrace to log out, then it is closed,
// whatever the server does. newMail, if not nil, is signalled when the
// selected mailbox grows.
//
// The server's greeting is read before the password is sent, so a service
// that is not IMAP never receives it; every network-level failure reads
// as a fixed phrase (reachError).
func (n *Network) dialIMAP(ctx, life context.Context, user string, l login, newMail chan struct{}) (*imapConn, error) {
	release, err := n.lease(user, l.imap)
	if err != nil {
		return nil, err
	}
	conn, err := n.dial(ctx, l.imap, l.imapAdmin)
	if err != nil {
		release()
		return nil, reachError(l.imap, err)
	}
	raw := newCapConn(conn)
	fail := func(err error) error {
		raw.Close()
		release()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return reachError(l.imap, err)
	}
	// Until logged in, the dial context bounds every exchange.
	stopDial := context.AfterFunc(ctx, func() { raw.Close() })
	defer stopDial()

	opts := &imapclient.Options{TLSConfig: n.tlsConfig(l.imap)}
	if newMail != nil {
		opts.UnilateralDataHandler = &imapclient.UnilateralDataHandler{
			// Runs on go-imap's reader goroutine: only signal.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case newMail <- struct{}{}:
					default:
					}
				}
			},
		}
	}
	// go-imap reads the plaintext through a capGuard, always.
	var c *imapclient.Client
	switch l.security {
	case SecurityTLS:
		tc := tls.Client(raw, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fail(err)
		}
		c = imapclient.New(&capGuard{Conn: tc}, opts)
	case SecurityStartTLS:
		// STARTTLS is negotiated here rather than by go-imap, which
		// would send it before reading the greeting and read what the
		// server says before TLS without the guard. go-imap starts on
		// the TLS stream with a greeting of ours.
		tc, err := startTLS(ctx, raw, opts.TLSConfig)
		if err != nil {
			return nil, fail(err)
		}
		c = imapclient.New(&capGuard{Conn: &greeted{Conn: tc, greeting: []byte("* OK TLS established\r\n")}}, opts)
	default:
		c = imapclient.New(&capGuard{Conn: raw}, opts)
	}
	ic := &imapConn{Client: c, raw: raw, addr: l.imap, timeout: n.cfg.Timeout, release: release, stop: func() bool { return true }}
	if err := c.WaitGreeting(); err != nil {
		ic.closeNow()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, reachError(l.imap, err)
	}
	if err := c.Login(l.address.Address, l.password).Wait(); err != nil {
		ic.closeNow()
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && ctx.Err() == nil {
			return nil, loginRefused(ie)
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, reachError(l.imap, err)
	}
	if !stopDial() {
		// The dial context ended while logging in: the connection is
		// being closed.
		ic.closeNow()
		return nil, reachError(l.imap, context.DeadlineExceeded)
	}
	grace := n.closeGrace()
	ic.stop = context.AfterFunc(life, func() { time.AfterFunc(grace, func() { raw.Close() }) })
	return ic, nil
}

// errNoStartTLS is returned by startTLS when the server refused it.
var errNoStartTLS = errors.New("email: STARTTLS refused")

// errNotIMAP is returned when a server's first line is not an IMAP
// greeting.
var errNotIMAP = errors.New("email: not an IMAP greeting")

// maxPreambleLine bounds a line read before TLS; maxPreambleLines the
// untagged lines accepted before STARTTLS's answer.
const (
	maxPreambleLine  = 8 << 10
	maxPreambleLines = 100
)

// startTLS reads an IMAP server's greeting on conn, asks for STARTTLS
// and, once the server agreed, completes the TLS handshake. It reads the
// server byte by byte, so nothing meant for TLS is buffered here, and
// never more than maxPreambleLine per line.
func startTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	line, err := readLine(conn)
	if err != nil {
		return nil, err
	}
	if !hasPrefixFold(line, "* OK") {
		return nil, errNotIMAP // PREAUTH too: RFC 9051 section 7.1.4
	}
	if _, err := io.WriteString(conn, "S1 STARTTLS\r\n"); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		if i >= maxPreambleLines {
			return nil, errNotIMAP
		}
		line, err := readLine(conn)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(line, "* ") {
			continue
		}
		if hasPrefixFold(line, "S1 OK") {
			break
		}
		return nil, errNoStartTLS
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// readLine reads one line (without CRLF) from r, one byte at a time.
func readLine(r io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for len(line) < maxPreambleLine {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			return strings.TrimSuffix(string(line), "\r"), nil
		}
		line = append(line, b[0])
	}
	return "", errNotIMAP
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// greeted is a connection whose first bytes read are greeting.
type greeted struct {
	net.Conn
	greeting []byte
}

func (g *greeted) Read(b []byte) (int, error) {
	if len(g.greeting) > 0 {
		n := copy(b, g.greeting)
		g.greeting = g.greeting[n:]
		return n, nil
	}
	return g.Conn.Read(b)
}

// loginRefused classifies an IMAP NO to LOGIN by its response code, with
// a fixed text: the server's own text is not shown.
func loginRefused(ie *imap.Error) error {
	switch ie.Code {
	case imap.ResponseCodeUnavailable:
		return fmt.Errorf("%w: the mail server cannot log you in right now", transports.ErrUnavailable)
	case imap.ResponseCodeExpired:
		return fmt.Errorf("%w: the mail server says your password expired", transports.ErrBadCredentials)
	case imap.ResponseCodePrivacyRequired:
		return fmt.Errorf("%w: the mail server requires an encrypted connection", transports.ErrBadCredentials)
	case imap.ResponseCodeContactAdmin:
		return fmt.Errorf("%w: the mail server refused the login; contact its admin", transports.ErrBadCredentials)
	}
	return fmt.Errorf("%w: the mail server refused the address or password", transports.ErrBadCredentials)
}

// closeNow closes the connection at once and releases its lease. It is
// safe to call more than once and returns within the timeout whatever
// the server does.
func (c *imapConn) closeNow() {
	c.once.Do(func() {
		c.stop()
		c.raw.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if v := recover(); v != nil {
					slog.Error("closing an IMAP connection panicked", "panic", v, "stack", string(debug.Stack()))
				}
			}()
			c.Client.Close()
		}()
		t := time.NewTimer(c.timeout)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		c.release()
	})
}

// do runs one command exchange f, during which the server may send at
// most limit bytes. A server that does not complete it within d gets its
// connection closed, which makes f return. The error names what failed
// with a fixed phrase.
func (c *imapConn) do(what string, limit int64, d time.Duration, f func() error) error {
	c.raw.allow(limit)
	var fired atomic.Bool
	t := time.AfterFunc(d, func() {
		fired.Store(true)
		c.raw.Close()
	})
	err := f()
	t.Stop()
	switch {
	case fired.Load():
		return fmt.Errorf("%w: %s: %s", transports.ErrUnavailable, what, egress.Describe(c.addr, os.ErrDeadlineExceeded))
	case err == nil:
		return nil
	case errors.Is(err, errTooLarge):
		return err
	case c.raw.over.Load():
		return fmt.Errorf("%w: %s: %s sent more data than this gateway accepts for it", transports.ErrUnavailable, what, c.addr)
	}
	return imapError(c.addr, what, err)
}

// logout says goodbye within the timeout, then closes.
func (c *imapConn) logout() {
	c.do("logging out", metaCap, c.timeout, func() error { return c.Logout().Wait() })
	c.closeNow()
}

// imapError classifies an IMAP failure with a fixed text: a command the
// server refused, or a connection that failed.
func imapError(addr, what string, err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return fmt.Errorf("%w: %s: %s refused it", transports.ErrUnavailable, what, addr)
	}
	return fmt.Errorf("%w: %s: %s", transports.ErrUnavailable, what, egress.Describe(addr, err))
}

// smtpConn is one SMTP submission connection; Close releases its lease.
type smtpConn struct {
	*smtp.Client
	release func()
	stop    func() bool
	once    sync.Once
}

// Close closes the connection and releases its lease.
func (c *smtpConn) Close() error {
	var err error
	c.once.Do(func() {
		c.stop()
		err = c.Client.Close()
		c.release()
	})
	return err
}

// dialSMTP connects to the submission server for user and authenticates.
// ctx bounds the whole life of the connection: when it ends the
// connection is closed, so a silent server cannot hold a send. The
// greeting and EHLO come before AUTH (go-smtp), so a service that is not
// SMTP never receives the password.
func (n *Network) dialSMTP(ctx context.Context, user string, l login) (*smtpConn, error) {
	release, err := n.lease(user, l.smtp)
	if err != nil {
		return nil, err
	}
	dialled, err := n.dial(ctx, l.smtp, l.smtpAdmin)
	if err != nil {
		release()
		return nil, reachError(l.smtp, err)
	}
	// SMTP replies are short: a server gets smtpCap bytes for the whole
	// connection, so an endless reply line cannot fill memory.
	conn := newCapConn(dialled)
	conn.allow(smtpCap)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) error {
		stop()
		conn.Close()
		release()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return reachError(l.smtp, err)
	}
	var c *smtp.Client
	switch l.security {
	case SecurityTLS:
		tc := tls.Client(conn, n.tlsConfig(l.smtp))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fail(err)
		}
		c = smtp.NewClient(tc)
	case SecurityStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, n.tlsConfig(l.smtp)); err != nil {
			return nil, fail(err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, fail(err)
	}
	sc := &smtpConn{Client: c, release: release, stop: stop}
	if err := c.Auth(sasl.NewPlainClient("", l.address.Address, l.password)); err != nil {
		sc.Close()
		var se *smtp.SMTPError
		if errors.As(err, &se) && ctx.Err() == nil {
			if se.Code == 535 {
				return nil, fmt.Errorf("%w: the mail server refused the address or password", transports.ErrBadCredentials)
			}
			return nil, fmt.Errorf("%w: the mail server refused the login (%d)", transports.ErrUnavailable, se.Code)
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, reachError(l.smtp, err)
	}
	return sc, nil
}

// smtpCap is what an SMTP server may send over one connection.
const smtpCap = 1 << 20

// smtpError classifies an SMTP failure with a fixed text and the reply
// code: a permanent refusal (5xx) is the server's word on the message, a
// temporary one (4xx) a retry later.
func smtpError(addr, what string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		switch {
		case se.Code == 550 || se.Code == 551 || se.Code == 553:
			return fmt.Errorf("%w: %s: the mail server refused the recipient (%d)", transports.ErrNotFound, what, se.Code)
		case se.Code >= 500:
			return fmt.Errorf("%w: %s: the mail server refused the message (%d)", transports.ErrForbidden, what, se.Code)
		}
		return fmt.Errorf("%w: %s: the mail server cannot take the message now (%d); try again later", transports.ErrUnavailable, what, se.Code)
	}
	return fmt.Errorf("%w: %s: %s", transports.ErrUnavailable, what, egress.Describe(addr, err))
}
