// Package component is the XMPP side of Switchboard: one external component
// (XEP-0114) per legacy network. It owns the stream to the XMPP server
// (with reconnection), routes stanzas, answers service discovery (XEP-0030,
// XEP-0115), in-band registration (XEP-0077) and its two other doors (ad-hoc
// commands, XEP-0050, and chat with the gateway JID), XEP-0100, ping and
// version, tracks users' resources and priorities, serves legacy rooms as
// MUC rooms (XEP-0045, see muc.go), and turns legacy events into stanzas. What the legacy side sends is written to an outbox in
// storage first, so a dropped stream or a restart loses nothing.
package component

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/egress"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	xmppcomponent "mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// Config configures one component.
type Config struct {
	// Domain is the component's JID ("irc.example.org").
	Domain string
	// Server is the host:port of the XMPP server's component listener.
	Server string
	// Secret is the shared component secret.
	Secret string
	// Network is the legacy network this component bridges to.
	Network transports.Network
	// Registry stores registrations, settings, the message-ID map and
	// the outbox.
	Registry *registry.Registry
	// AllowedDomains lists the XMPP server domains whose users may use
	// the gateway; "*" allows every domain. Empty means the domain the
	// component hangs under (irc.example.org → example.org).
	AllowedDomains []string
	// Admins are bare JIDs allowed to run the admin commands.
	Admins []string
	// StreamBackoff paces reconnections to the XMPP server. The default
	// retries within 2 seconds so a restarted server sees the component
	// back quickly.
	StreamBackoff transports.Backoff
	// AdapterBackoff paces reconnections of legacy sessions.
	AdapterBackoff transports.Backoff
	// SendRate bounds each user's messages towards the legacy network
	// (messages per second, burst of SendBurst). Excess messages wait.
	SendRate  float64
	SendBurst int
	// Version is reported by XEP-0092.
	Version string
	Logger  *slog.Logger

	// Egress checks the addresses of upload slots (XEP-0363) handed out
	// by users' servers; nil allows public addresses only.
	Egress *egress.Policy
	// MaxStanzaBytes is the largest stanza read from or written to the
	// stream; 0 means 256 KiB.
	MaxStanzaBytes int
	// MaxAttachmentBytes and MaxAttachments bound the legacy files
	// uploaded for one message; 0 means 25 MiB and 10.
	MaxAttachmentBytes int64
	MaxAttachments     int
	// CommandsPerMinute caps reconnect and register requests per user;
	// 0 means 5.
	CommandsPerMinute int
	// IncomingPerMinute caps legacy messages delivered to one user per
	// minute; 0 means 120.
	IncomingPerMinute int
	// RoomsPerUser caps the rooms one user is in; 0 means 50.
	RoomsPerUser int
}

// Component is one running gateway domain. Create it with New and run it
// with Run.
type Component struct {
	cfg     Config
	domain  jid.JID
	log     *slog.Logger
	reg     *registry.Registry
	net     transports.Network
	sup     *transports.Supervisor
	allowed map[string]bool
	admins  map[string]bool
	info    discoInfo

	runCtx context.Context // set by Run; owns background work
	wg     sync.WaitGroup

	sessMu    sync.Mutex
	sess      *xmpp.Session
	connected chan struct{} // closed while a session is up

	flush chan struct{}

	presence *presenceTracker
	workers  *workers
	muc      *mucService
	commands *commandSessions
	iq       iqs
	uploads  uploadServices
	dialogs  *dialogs

	lim limits // per-user limits and rate counters (limits.go)

	stats counters
}

type counters struct {
	stanzasIn, stanzasOut      atomic.Int64
	toLegacy, fromLegacy       atomic.Int64
	legacyErrors, streamConns  atomic.Int64
	registrations, unregisters atomic.Int64
}

// Stats is a snapshot of a component's counters, for /metrics and the
// admin "statistics" command.
type Stats struct {
	Network         string
	Domain          string
	Connected       bool
	StanzasIn       int64
	StanzasOut      int64
	MessagesToNet   int64
	MessagesFromNet int64
	LegacyErrors    int64
	StreamConnects  int64
	Registrations   int64
	Unregistrations int64
	OnlineUsers     int
	Sessions        int
	ConnectedUsers  int
	OutboxPending   int
}

// New checks cfg and returns a component ready to Run.
func New(cfg Config) (*Component, error) {
	if cfg.Network == nil || cfg.Registry == nil {
		return nil, errors.New("component: Network and Registry are required")
	}
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return nil, fmt.Errorf("component: invalid domain %q", cfg.Domain)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StreamBackoff.Min == 0 {
		cfg.StreamBackoff.Min = 250 * time.Millisecond
	}
	if cfg.StreamBackoff.Max == 0 {
		cfg.StreamBackoff.Max = 2 * time.Second
	}
	if cfg.SendRate <= 0 {
		cfg.SendRate = 5
	}
	if cfg.SendBurst <= 0 {
		cfg.SendBurst = 10
	}
	c := &Component{
		cfg:       cfg,
		domain:    domain,
		log:       cfg.Logger.With("component", domain.String()),
		reg:       cfg.Registry,
		net:       cfg.Network,
		allowed:   make(map[string]bool),
		admins:    make(map[string]bool),
		connected: make(chan struct{}),
		flush:     make(chan struct{}, 1),
		presence:  newPresenceTracker(),
		muc:       newMUCService(),
		commands:  newCommandSessions(),
		dialogs:   newDialogs(),
	}
	c.workers = &workers{queues: make(map[string]*workQueue), wg: &c.wg, log: c.log}
	if len(cfg.AllowedDomains) == 0 {
		parent := domain.Domainpart()
		if i := strings.IndexByte(parent, '.'); i >= 0 {
			parent = parent[i+1:]
		}
		c.allowed[parent] = true
	}
	for _, d := range cfg.AllowedDomains {
		c.allowed[strings.ToLower(d)] = true
	}
	for _, a := range cfg.Admins {
		j, err := jid.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("component: invalid admin JID %q: %w", a, err)
		}
		c.admins[j.Bare().String()] = true
	}
	c.sup = transports.NewSupervisor(cfg.Network, c.sinkFor, cfg.AdapterBackoff, c.log)
	c.info = c.buildDiscoInfo()
	return c, nil
}

// Domain returns the component's JID.
func (c *Component) Domain() jid.JID { return c.domain }

// Network returns the legacy network bridged by the component.
func (c *Component) Network() transports.Network { return c.net }

// Run connects to the XMPP server and serves until ctx is cancelled,
// reconnecting with backoff whenever the stream drops. On return every
// adapter is closed and all background work has ended. It returns nil after
// ctx is cancelled.
func (c *Component) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.runCtx = ctx

	if err := c.startStayingUsers(ctx); err != nil {
		c.log.Warn("starting always-connected users", "err", err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.flushLoop(ctx)
	}()

	attempt := 0
	for ctx.Err() == nil {
		sess, conn, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d := c.cfg.StreamBackoff.Delay(attempt)
			attempt++
			c.log.Warn("cannot connect to XMPP server", "server", c.cfg.Server, "err", err, "retry_in", d)
			sleep(ctx, d)
			continue
		}
		attempt = 0
		c.stats.streamConns.Add(1)
		c.log.Info("connected to XMPP server", "server", c.cfg.Server)
		err = c.serve(ctx, sess, conn)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("XMPP stream ended", "err", err)
		sleep(ctx, c.cfg.StreamBackoff.Delay(0))
	}

	c.sup.Close()
	c.wg.Wait()
	return nil
}

func (c *Component) dial(ctx context.Context) (*xmpp.Session, net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", c.cfg.Server)
	if err != nil {
		return nil, nil, err
	}
	// The handshake's deadline: streamConn ignores mellium's.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	sess, err := xmppcomponent.NewSession(dctx, c.domain, []byte(c.cfg.Secret), streamConn{conn})
	if !stop() {
		err = fmt.Errorf("timed out: %w", dctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("component handshake: %w", err)
	}
	return sess, conn, nil
}

// streamWriteTimeout bounds one write to the XMPP server.
const streamWriteTimeout = 15 * time.Second

// streamConn is the connection to the XMPP server as the session sees it.
//
// mellium arms, for every write (and for the handshake), a goroutine that
// sets the connection's deadline in the past once the write's context
// ends. Callers cancel that context as soon as the write returned, and the
// goroutine may then fire during the next write, from any goroutine,
// breaking it half-way with "i/o timeout" and corrupting the stream. So the
// session's deadline calls are ignored; every write gets a timeout of its
// own, and a failed write closes the connection, since a half-written
// stanza cannot be taken back (Run reconnects).
type streamConn struct {
	net.Conn
}

func (streamConn) SetDeadline(time.Time) error      { return nil }
func (streamConn) SetReadDeadline(time.Time) error  { return nil }
func (streamConn) SetWriteDeadline(time.Time) error { return nil }

func (c streamConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	n, err := c.Conn.Write(p)
	if err != nil {
		c.Conn.Close()
	}
	return n, err
}

// serve runs one stream until it ends or ctx is cancelled.
func (c *Component) serve(ctx context.Context, sess *xmpp.Session, conn net.Conn) error {
	c.sessMu.Lock()
	c.sess = sess
	connected := c.connected
	close(connected)
	c.sessMu.Unlock()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			sess.Close()
			conn.Close()
		case <-stop:
		}
	}()

	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.onStreamUp(ctx)
	}()
	c.wakeFlush()

	err := sess.Serve(xmpp.HandlerFunc(c.handle))

	c.sessMu.Lock()
	c.sess = nil
	c.connected = make(chan struct{})
	c.sessMu.Unlock()
	conn.Close()
	return err
}

// session returns the live stream, or nil.
func (c *Component) session() *xmpp.Session {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	return c.sess
}

var errNoStream = errors.New("not connected to the XMPP server")

// send writes a stanza now. It fails when the stream is down; use queue
// for what must not be lost.
func (c *Component) send(ctx context.Context, v any) error {
	sess := c.session()
	if sess == nil {
		return errNoStream
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sess.Encode(ctx, v); err != nil {
		return err
	}
	c.stats.stanzasOut.Add(1)
	return nil
}

// sendQuiet is send for stanzas whose loss is harmless (presence, replies
// to a stream that is gone): a failure is only logged.
func (c *Component) sendQuiet(ctx context.Context, v any) {
	if err := c.send(ctx, v); err != nil {
		c.log.Debug("stanza not sent", "err", err)
	}
}

// queue stores a stanza in the outbox and wakes the flusher. The stanza is
// delivered in order with everything queued before it, as soon as the
// stream is up.
func (c *Component) queue(ctx context.Context, v any) error {
	if _, err := c.reg.Enqueue(ctx, c.net.Name(), mustMarshal(v)); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	c.wakeFlush()
	return nil
}

// queueOnce queues a stanza carrying legacy message legacyID of
// conversation, unless that message was queued before (a network
// delivering again after a crash); see registry.EnqueueOnce.
func (c *Component) queueOnce(ctx context.Context, user string, conversation transports.ID, legacyID, xmppID string, v any) (bool, error) {
	ok, err := c.reg.EnqueueOnce(ctx, user, c.net.Name(), string(conversation), legacyID, xmppID, mustMarshal(v))
	if err != nil {
		return false, fmt.Errorf("outbox: %w", err)
	}
	if ok {
		c.wakeFlush()
	}
	return ok, nil
}

func (c *Component) wakeFlush() {
	select {
	case c.flush <- struct{}{}:
	default:
	}
}

// flushLoop hands outbox stanzas to the XMPP server in order, removing each
// only once it was written to the stream.
func (c *Component) flushLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.flush:
		}
		for ctx.Err() == nil {
			sess := c.session()
			if sess == nil {
				break
			}
			items, err := c.reg.Pending(ctx, c.net.Name(), 64)
			if err != nil {
				c.log.Error("reading outbox", "err", err)
				break
			}
			if len(items) == 0 {
				break
			}
			ok := true
			for _, it := range items {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := sess.Send(sctx, xml.NewDecoder(bytes.NewReader(it.Value)))
				cancel()
				if err != nil {
					c.log.Warn("outbox stanza not sent; will retry", "err", err)
					ok = false
					break
				}
				c.stats.stanzasOut.Add(1)
				if err := c.reg.Ack(ctx, c.net.Name(), it.Seq); err != nil {
					c.log.Error("acknowledging outbox item", "err", err)
				}
			}
			if !ok {
				break
			}
		}
	}
}

// onStreamUp runs after each (re)connection: it asks the server for the
// presence of every registered user, so resources are tracked again and
// adapters start for those who are online.
func (c *Component) onStreamUp(ctx context.Context) {
	c.presence.reset()
	err := c.reg.List(ctx, c.net.Name(), func(r registry.Registration) error {
		c.sendQuiet(ctx, &outPresence{Type: "probe", From: c.domain.String(), To: r.User})
		return nil
	})
	if err != nil {
		c.log.Warn("probing registered users", "err", err)
	}
}

// startStayingUsers connects, at start-up, the users whose setting keeps
// them connected while they are offline.
func (c *Component) startStayingUsers(ctx context.Context) error {
	var accts []transports.Account
	err := c.reg.List(ctx, c.net.Name(), func(r registry.Registration) error {
		s, err := c.reg.Settings(ctx, r.User, c.net.Name())
		if err != nil {
			return err
		}
		if c.stayConnected(s) {
			accts = append(accts, c.accountOf(r.User, r.Credentials, s))
		}
		return nil
	})
	for _, a := range accts {
		c.sup.Start(a)
	}
	return err
}

// Stats returns a snapshot of the component's counters.
func (c *Component) Stats() Stats {
	st := Stats{
		Network:         c.net.Name(),
		Domain:          c.domain.String(),
		Connected:       c.session() != nil,
		StanzasIn:       c.stats.stanzasIn.Load(),
		StanzasOut:      c.stats.stanzasOut.Load(),
		MessagesToNet:   c.stats.toLegacy.Load(),
		MessagesFromNet: c.stats.fromLegacy.Load(),
		LegacyErrors:    c.stats.legacyErrors.Load(),
		StreamConnects:  c.stats.streamConns.Load(),
		Registrations:   c.stats.registrations.Load(),
		Unregistrations: c.stats.unregisters.Load(),
		OnlineUsers:     c.presence.onlineUsers(),
	}
	users := c.sup.Users()
	st.Sessions = len(users)
	for _, u := range users {
		if c.sup.Status(u).State == transports.StateConnected {
			st.ConnectedUsers++
		}
	}
	if items, err := c.reg.Pending(context.Background(), c.net.Name(), 1000); err == nil {
		st.OutboxPending = len(items)
	}
	return st
}

// WaitConnected blocks until the stream to the XMPP server is up.
func (c *Component) WaitConnected(ctx context.Context) error {
	c.sessMu.Lock()
	ch := c.connected
	c.sessMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// handle is the stream handler: it reads one top-level element, counts it
// and routes it. It never returns an error for a bad stanza (that would
// tear the stream down); only a broken stream ends it.
func (c *Component) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	n, err := xmltree.Read(*start, t, maxStanzaBytes)
	if err != nil && !errors.Is(err, xmltree.ErrTooLarge) {
		return err
	}
	c.stats.stanzasIn.Add(1)
	if errors.Is(err, xmltree.ErrTooLarge) {
		n = &node{Name: start.Name, Attrs: start.Attr}
		c.replyError(n, errorf("modify", "policy-violation", "The stanza is larger than %d bytes.", maxStanzaBytes))
		return nil
	}
	c.route(n)
	return nil
}
