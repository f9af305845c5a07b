// Package component is the XMPP side of Switchboard: one external component
// (XEP-0114) per legacy network. It owns the stream to the XMPP server
// (with reconnection), routes stanzas, answers service discovery (XEP-0030,
// XEP-0115), in-band registration (XEP-0077) and its two other doors (ad-hoc
// commands, XEP-0050, and chat with the gateway JID), XEP-0100, ping and
// version, tracks users' resources and priorities, serves legacy rooms as
// MUC rooms (XEP-0045, through package muc), and turns legacy events into stanzas. What the legacy side sends is written to an outbox in
// storage first, so a dropped stream or a restart loses nothing.
package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/egress"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	xmppcomponent "mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/chatdoor"
	"github.com/switchboard-im/switchboard/component/commands"
	"github.com/switchboard-im/switchboard/component/contacts"
	"github.com/switchboard-im/switchboard/component/direct"
	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/component/userloop"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
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
	// Registry stores registrations, sealed credentials and settings.
	Registry *registry.Registry
	// Outbox is the durable queue of stanzas for the XMPP stream, with
	// its dead letters.
	Outbox *outbox.Outbox
	// MessageIDs maps legacy message IDs to XMPP ones and back.
	MessageIDs *msgid.Map
	// NetState keeps each user's network bookkeeping (Account.Store).
	NetState *netstate.Store
	// AllowedDomains lists the XMPP server domains whose users may use
	// the gateway; "*" allows every domain. Empty means the domain the
	// component hangs under (irc.example.org → example.org).
	AllowedDomains []string
	// OtherDomains are the other gateway domains served by this process
	// (the component's own may be listed too).
	// Like the component's own domain, no user can be there, so stanzas
	// from them are dropped (defence in depth: the server never routes
	// such a stanza to a component).
	OtherDomains []string
	// Admins are bare JIDs allowed to run the admin commands.
	Admins []string
	// StreamBackoff paces reconnections to the XMPP server. The default
	// retries within 2 seconds so a restarted server sees the component
	// back quickly.
	StreamBackoff transports.Backoff
	// AdapterBackoff paces reconnections of legacy sessions, and the
	// redials of connections an adapter holds itself (IRC's per-server
	// connections), through the supervisor.
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
	// HookURL is the absolute URL at which the network's webhook
	// handler is reached from outside (transports.Hooks.PublicURL), ""
	// when unknown.
	HookURL string
	// Archive, if set, keeps every room message the users' sessions
	// receive, for XEP-0313 queries to the room and for join history
	// when the network has none (muc.Service). Run flushes it. nil: no
	// archive, none advertised, and the chatter said while a user is
	// away is kept in memory (muc.Away).
	Archive *archive.Archive
	// Journal, if set, keeps each user's messages to the legacy network
	// from when they are read until the legacy send and the message-ID
	// pair are done (journal.go): Run handles again, once, what a killed
	// process left there. nil: a message read but not yet sent is lost
	// with the process.
	Journal *journal.Journal
}

// Component is one running gateway domain. Create it with New and run it
// with Run.
type Component struct {
	// sent holds the links of the user's files until their echo
	// (echofiles.go).
	sent sentFiles
	// replays marks the journaled stanzas being handled again
	// (journal.go).
	replays replays
	// writer queues the stanzas read for the journal writer
	// (journal_writer.go); nil without a journal. Set by Run.
	writer *journalWriter

	cfg     Config
	domain  jid.JID
	log     *slog.Logger
	reg     *registry.Registry
	out     *outbox.Outbox
	ids     *msgid.Map
	state   *netstate.Store
	net     transports.Network
	sup     *transports.Supervisor
	allowed map[string]bool
	others  map[string]bool // Config.OtherDomains, lower case
	admins  map[string]bool
	info    discoInfo

	runCtx context.Context // set by Run; owns background work
	wg     sync.WaitGroup
	// timerMu guards stopping, set when Run shuts down, after which no
	// timer (after) joins wg: wg.Add must not race wg.Wait.
	timerMu  sync.Mutex
	stopping bool

	// running is Run's context too, for callers that are not started by
	// Run (Deliver, from the HTTP listener's goroutines).
	running atomic.Pointer[context.Context]
	hooks   http.Handler // the network's webhooks (hooks.go)

	sessMu    sync.Mutex
	sess      *xmpp.Session
	connected chan struct{}               // closed while a session is up
	sessDone  chan struct{}               // closed when sess ends
	sessErr   error                       // why the last session ended, set before sessDone is closed
	wire      atomic.Pointer[readCounter] // the current stream's read side

	flush chan struct{}

	presence *presence.Tracker
	// owners runs the work that reads or changes a user's protocol state
	// (rooms, occupants, the last connection state shown): legacy events
	// and the state steps of the user's stanzas, in arrival order, on one
	// goroutine per user, so that this state takes no locks. lanes runs a
	// user's stanza work, which may wait for the legacy network, in
	// order. Owner work never waits for a lane or the network.
	owners   *userloop.Group
	lanes    *userloop.Group
	muc      *muc.Service
	commands *commands.Service
	iq       iqs
	uploads  uploadServices
	chat     *chatdoor.Service
	direct   *direct.Service
	contacts *contacts.Service // contacts' profiles, the contact list in the roster, servers' XEP-0356 grants

	lim limits // per-user limits and rate counters (limits.go)

	// confirms waits, per user and in order, for the network's
	// confirmations of the messages the user's lane queued, and runs
	// what follows each (pipeline.go); flight bounds them per user.
	confirms *userloop.Group
	flight   inflight

	stats counters
}

type counters struct {
	stanzasIn, stanzasOut      atomic.Int64
	toLegacy, fromLegacy       atomic.Int64
	legacyErrors, streamConns  atomic.Int64
	registrations, unregisters atomic.Int64
	deadLetters                atomic.Int64
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
	DeadLetters     int64 // outbox stanzas given up on since start (see outbox.Outbox.DeadLetter)
	// JournalPending is how many of the users' messages to the network
	// are in the inbound journal, read and not yet handled (journal.go;
	// a counter, no storage read).
	JournalPending int
}

// New checks cfg and returns a component ready to Run.
func New(cfg Config) (*Component, error) {
	if cfg.Network == nil || cfg.Registry == nil || cfg.Outbox == nil || cfg.MessageIDs == nil || cfg.NetState == nil {
		return nil, errors.New("component: Network, Registry, Outbox, MessageIDs and NetState are required")
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
		out:       cfg.Outbox,
		ids:       cfg.MessageIDs,
		state:     cfg.NetState,
		net:       cfg.Network,
		allowed:   make(map[string]bool),
		others:    make(map[string]bool),
		admins:    make(map[string]bool),
		connected: make(chan struct{}),
		flush:     make(chan struct{}, 1),
		presence:  presence.New(),
	}
	c.muc = muc.NewService(mucCore{c}, muc.IDKey(roomIDKey(cfg.Domain, cfg.Secret)))
	c.owners = userloop.New("owner", 0, c.log)
	c.lanes = userloop.New("lane", maxQueued, c.log)
	c.confirms = userloop.New("confirm", 0, c.log)
	c.chat = chatdoor.NewService(chatCore{c})
	c.commands = commands.NewService(commandsCore{chatCore{c}}, c.chat)
	c.direct = direct.NewService(directCore{c})
	c.contacts = contacts.NewService(contactsCore{c}, echoKey(cfg.Domain, cfg.Secret))
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
	for _, d := range cfg.OtherDomains {
		c.others[strings.ToLower(d)] = true
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
	c.attachHooks()
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
	c.running.Store(&ctx)

	if err := c.startStayingUsers(ctx); err != nil {
		c.log.Warn("starting always-connected users", "err", err)
	}
	// Before the stream: each user's replayed messages are in their lane
	// ahead of anything new they send.
	c.replayJournal(ctx)
	if c.cfg.Journal != nil {
		w := newJournalWriter()
		c.writer = w
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.journalWriterLoop(ctx, w)
		}()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.flushLoop(ctx)
	}()
	if c.cfg.Archive != nil {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.cfg.Archive.Run(ctx, c.log)
		}()
	}

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
	// Timers first (after refuses new ones from now on), then the lanes,
	// whose jobs may still call into the owners and queue confirmations,
	// then the confirmations, then the owners.
	c.timerMu.Lock()
	c.stopping = true
	c.timerMu.Unlock()
	c.wg.Wait()
	c.lanes.Close()
	c.confirms.Close()
	c.owners.Close()
	return nil
}

func (c *Component) dial(ctx context.Context) (*xmpp.Session, net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", c.cfg.Server)
	if err != nil {
		return nil, nil, err
	}
	wire := &readCounter{limit: int64(hardReadFactor * c.maxStanza())}
	c.wire.Store(wire)
	// The handshake's deadline: streamConn ignores mellium's.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	sess, err := xmppcomponent.NewSession(dctx, c.domain, []byte(c.cfg.Secret), streamConn{Conn: conn, wire: wire})
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
//
// Its read side counts the bytes of each top-level element (see
// readCounter), which bounds what one stanza can make the component read.
type streamConn struct {
	net.Conn
	wire *readCounter
}

// readCounter counts the bytes read from a stream, so the stream handler
// can bound the bytes of each top-level element on the wire, whatever they
// are made of (comments, processing instructions, namespace declarations,
// entity references, whitespace in tags): handle marks the end of each
// element. The count runs ahead of the parser by what the XML decoder has
// buffered, a few KiB. Beyond limit bytes for one element, reading fails
// and the stream is given up: the decoder holds one token whole in
// memory, and no server sends a token that large.
type readCounter struct {
	total, mark atomic.Int64
	limit       int64
}

// errReadLimit ends a stream whose element went past readCounter.limit.
var errReadLimit = errors.New("an element from the XMPP server is far over the stanza size limit")

// since returns the bytes read since the last mark.
func (r *readCounter) since() int64 { return r.total.Load() - r.mark.Load() }

// markEnd records that a top-level element ended.
func (r *readCounter) markEnd() { r.mark.Store(r.total.Load()) }

func (c streamConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.wire != nil {
		c.wire.total.Add(int64(n))
		if c.wire.limit > 0 && c.wire.since() > c.wire.limit {
			return n, errReadLimit // serve closes the connection
		}
	}
	return n, err
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
	done := make(chan struct{})
	c.sessMu.Lock()
	c.sess = sess
	c.sessDone = done
	connected := c.connected
	close(connected)
	c.sessMu.Unlock()
	c.contacts.StreamUp() // the server advertises its grants on every stream

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
	c.sessErr = err
	close(done)
	c.connected = make(chan struct{})
	c.sessMu.Unlock()
	conn.Close()
	return err
}

// stream returns the live stream and a channel closed when it ends, or
// nil and nil.
func (c *Component) stream() (*xmpp.Session, <-chan struct{}) {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	if c.sess == nil {
		return nil, nil
	}
	return c.sess, c.sessDone
}

// streamErr returns why the last stream ended; valid once the channel
// stream returned with it is closed.
func (c *Component) streamErr() error {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	return c.sessErr
}

// session returns the live stream, or nil.
func (c *Component) session() *xmpp.Session {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	return c.sess
}

var errNoStream = errors.New("not connected to the XMPP server")

// send writes a stanza now. It fails when the stream is down; use queue
// for what must not be lost. The stanza is cut to the size limit first
// (see fit); one that cannot be cut is not written.
func (c *Component) send(ctx context.Context, v any) error {
	sess := c.session()
	if sess == nil {
		return errNoStream
	}
	b, err := marshalFit(v, c.maxStanza())
	if err != nil {
		return err
	}
	if err := writeStanza(ctx, sess, b); err != nil {
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
// stream is up. It is cut to the size limit first (see fit), so nothing
// the server would refuse for its size is ever queued.
func (c *Component) queue(ctx context.Context, v any) error {
	b, err := marshalFit(v, c.maxStanza())
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := c.out.Enqueue(ctx, c.recipient(b), c.net.Name(), b); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	c.wakeFlush()
	return nil
}

// recipient names the outbox queue of the stanza marshalled in b: the bare
// JID it is addressed to (its recipient's stanzas are kept in order), or
// the gateway's domain for a stanza without a valid address.
func (c *Component) recipient(b []byte) string {
	_, _, to := stanzaHead(b)
	if j, err := jid.Parse(to); err == nil {
		return j.Bare().String()
	}
	return c.domain.String()
}

// queueOnce queues a stanza carrying legacy message legacyID of
// conversation, unless that message was queued before (a network
// delivering again after a crash); see outbox.Outbox.EnqueueOnce.
func (c *Component) queueOnce(ctx context.Context, user string, conversation transports.ID, legacyID, xmppID string, v any) (bool, error) {
	b, err := marshalFit(v, c.maxStanza())
	if err != nil {
		return false, fmt.Errorf("outbox: %w", err)
	}
	ok, err := c.out.EnqueueOnce(ctx, user, c.net.Name(), string(conversation), legacyID, xmppID, b)
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

// onStreamUp runs after each (re)connection: it asks the server for the
// presence of every registered user, so resources are tracked again and
// adapters start for those who are online.
func (c *Component) onStreamUp(ctx context.Context) {
	c.presence.Reset()
	err := c.reg.List(ctx, c.net.Name(), func(r registry.Registration) error {
		c.sendQuiet(ctx, &stanza.Presence{Type: "probe", From: c.domain.String(), To: r.User})
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
		DeadLetters:     c.stats.deadLetters.Load(),
		OnlineUsers:     c.presence.Users(),
	}
	users := c.sup.Users()
	st.Sessions = len(users)
	for _, u := range users {
		if c.sup.Status(u).State == transports.StateConnected {
			st.ConnectedUsers++
		}
	}
	if c.cfg.Journal != nil {
		st.JournalPending = c.cfg.Journal.Len(c.net.Name())
	}
	st.OutboxPending = c.out.Len(c.net.Name())
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
//
// An element is bounded twice by the stanza size limit: by what it holds
// (xmltree's count of names, namespaces, attributes, text, comments and
// processing instructions) and by the bytes read from the wire for it. An
// element over either is skipped to its end, so the stream stays in step
// and is kept, and answered with policy-violation.
func (c *Component) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	max := c.maxStanza()
	wire := c.wire.Load()
	var over func() bool
	if wire != nil {
		over = func() bool { return wire.since() > int64(max) }
	}
	n, err := xmltree.ReadChecked(*start, t, max, over)
	if wire != nil {
		wire.markEnd()
	}
	if err != nil && !errors.Is(err, xmltree.ErrTooLarge) {
		return err
	}
	c.stats.stanzasIn.Add(1)
	if errors.Is(err, xmltree.ErrTooLarge) {
		n = &node{Name: start.Name, Attrs: start.Attr}
		c.dropped(n, "over the stanza size limit")
		c.replyError(n, stanzaerr.New("modify", "policy-violation", "The stanza is larger than %s.", sizeText(max)))
		return nil
	}
	c.routeRead(n) // journal_writer.go
	return nil
}

// routeSafely routes n on the stream reader's goroutine (mellium's
// callback). A panic in routing costs that stanza an
// internal-server-error answer, logged with its stack but not its
// content; the stream and every other user go on.
func (c *Component) routeSafely(n *node) { c.routeSafelyAt(n, 0) }
