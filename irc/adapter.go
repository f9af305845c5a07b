package irc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// adapter is one user's IRC session: one connection per server.
type adapter struct {
	n    *Network
	acct transports.Account
	sink transports.Sink

	ctx endCtx // ends with Close; owns every connection (as &ctx)
	wg  sync.WaitGroup

	mu    sync.Mutex
	conns connSet // one per server
	main  *conn   // the registered server's connection, or nil
	away  transports.Presence
	// watched are the nicks whose presence the user asked for, by
	// server (monitor.go).
	watched map[string][]string
	// marks are the channels' bookmarks for the join replays (replay.go).
	marks chanMarks

	transports.Ending
}

var (
	_ transports.Adapter     = (*adapter)(nil)
	_ transports.Rooms       = (*adapter)(nil)
	_ transports.Moderator   = (*adapter)(nil)
	_ transports.RoomSubject = (*adapter)(nil)
	_ transports.RoomLister  = (*adapter)(nil)
	_ transports.Typer       = (*adapter)(nil)
	_ transports.Reactor     = (*adapter)(nil)
)

func (n *Network) newAdapter(acct transports.Account, sink transports.Sink) *adapter {
	return &adapter{
		n: n, acct: acct, sink: sink,
	}
}

// logger is the adapter's log: the Network's logger with the user, built
// when a line is logged (see conn.logger).
func (a *adapter) logger() *slog.Logger { return a.n.log.With("user", a.acct.User) }

// closedLocked reports whether the adapter is closed (its Close began).
// Call with a.mu held.
func (a *adapter) closedLocked() bool { return a.ctx.Err() != nil }

// connSet is an adapter's connections, one per server: a slice, since a
// user has one or a few (MaxServersPerUser), where a map cost every
// adapter 250 bytes for its one entry.
type connSet []*conn

// get returns the connection to server, or nil.
func (s connSet) get(server string) *conn {
	for _, c := range s {
		if c.server == server {
			return c
		}
	}
	return nil
}

// put adds c, in the place of the connection to the same server if any.
func (s *connSet) put(c *conn) {
	for i, x := range *s {
		if x.server == c.server {
			(*s)[i] = c
			return
		}
	}
	*s = append(*s, c)
}

// drop removes c, if it is there (not another connection to its server),
// and reports whether it was; the set is nil once empty.
func (s *connSet) drop(c *conn) bool {
	i := slices.Index(*s, c)
	if i < 0 {
		return false
	}
	*s = without(*s, i)
	return true
}

// servers returns the connections' server names, sorted.
func (s connSet) servers() []string {
	names := make([]string, 0, len(s))
	for _, c := range s {
		names = append(names, c.server)
	}
	slices.Sort(names)
	return names
}

func (a *adapter) setMain(c *conn) {
	a.mu.Lock()
	a.main = c
	a.mu.Unlock()
}

// Close implements transports.Adapter: it quits every server and waits.
// The context ends first, so that no connection makes another attempt;
// then each connection's current attempt says QUIT, on a goroutine each
// (a write may wait for a slow server), as the connections end.
func (a *adapter) Close() error {
	a.mu.Lock()
	a.ctx.end() // under a.mu: who checks it under a.mu starts nothing after
	for _, c := range a.conns {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			c.quit()
		}()
	}
	a.mu.Unlock()
	a.wg.Wait()
	a.flushMarks() // the channels' last bookmarks (replay.go)
	return nil
}

// deliver hands events to the sink, in order.
func (a *adapter) deliver(evs ...transports.Event) {
	for _, ev := range evs {
		a.sink.Deliver(ev)
	}
}

// id is the ID of t as events name it.
func (a *adapter) id(t Target) transports.ID { return t.ID(a.n.cfg.DefaultServer) }

// target parses an ID of the user's.
func (a *adapter) target(id transports.ID) (Target, error) {
	return ParseID(id, a.n.cfg.DefaultServer)
}

// connFor returns the connection to server, opening one with nick when
// there is none; it waits until the server accepted the registration.
func (a *adapter) connFor(ctx context.Context, server, nick string) (*conn, error) {
	a.mu.Lock()
	if a.closedLocked() {
		a.mu.Unlock()
		return nil, transports.ErrNotConnected
	}
	c := a.conns.get(server)
	if c == nil {
		if err := a.n.allowed(server); err != nil {
			a.mu.Unlock()
			return nil, err
		}
		if max := a.n.cfg.MaxServersPerUser; len(a.conns) >= max {
			a.mu.Unlock()
			return nil, fmt.Errorf("%w: you are connected to %d IRC servers already; the limit is %d", transports.ErrLimit, len(a.conns), max)
		}
		// Servers other than the registered one are joined with the
		// room nick and no password, as an anonymous user would.
		c = a.newConnLocked(server, nick, "")
	}
	a.mu.Unlock()
	if err := c.waitRegistered(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// existing returns the connection to server, or an error saying there is
// none.
func (a *adapter) existing(server string) (*conn, error) {
	a.mu.Lock()
	c := a.conns.get(server)
	a.mu.Unlock()
	if c == nil || !c.isRegistered() {
		return nil, fmt.Errorf("%w: you are not connected to %s; join one of its channels first", transports.ErrNotConnected, server)
	}
	return c, nil
}

func (a *adapter) newConn(server, nick, password string) *conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.newConnLocked(server, nick, password)
}

func (a *adapter) newConnLocked(server, nick, password string) *conn {
	c := newConn(a, server, nick, password)
	a.conns.put(c)
	a.wg.Add(1) // done when the connection's last goroutine ends (conn.step)
	go c.run()
	return c
}

// recoverRoot ends a connection's goroutine that panicked: it logs the
// panic with its stack, closes that connection and tells the user; the
// process and the user's other connections go on. It must be deferred
// directly.
func (c *conn) recoverRoot(where string) {
	p := recover()
	if p == nil {
		return
	}
	c.logger().Error("IRC connection goroutine panicked; closing the connection", "goroutine", where,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	c.closeWire()
	c.a.deliver(&transports.NoticeEvent{About: c.serverID(), Error: true, Text: internalErrorText(c.server) + "."})
}

func (c *conn) isMain() bool {
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	return c.a.main == c
}

// Send implements transports.Adapter: Queue, then the wait for the
// server's confirmation.
func (a *adapter) Send(ctx context.Context, msg transports.Message) (transports.RemoteID, error) {
	p, err := a.Queue(ctx, msg)
	if err != nil {
		return "", err
	}
	return p.Wait(ctx)
}

// SetPresence implements transports.Adapter: away, extended away and do
// not disturb are IRC AWAY; anything else is back.
func (a *adapter) SetPresence(ctx context.Context, p transports.Presence) error {
	a.mu.Lock()
	a.away = p
	conns := make([]*conn, 0, len(a.conns))
	for _, c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	for _, c := range conns {
		c.setAway(p)
	}
	return nil
}

// registered reports whether the user registered (has a nick of their
// own) rather than joining rooms anonymously.
func (a *adapter) registered() bool { return a.acct.Credentials["nick"] != "" }

func (a *adapter) presence() transports.Presence {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.away
}

// JoinRoom implements transports.Rooms.
func (a *adapter) JoinRoom(ctx context.Context, room transports.ID, nick string) error {
	t, err := a.target(room)
	if err != nil {
		return err
	}
	if t.Channel == "" {
		return fmt.Errorf("%w: %s is not a channel", transports.ErrNotFound, room)
	}
	if !validNick(nick) {
		return fmt.Errorf("%w: %q is not a valid IRC nickname", transports.ErrInvalidInput, nick)
	}
	c, err := a.connFor(ctx, t.Server, nick)
	if err != nil {
		return err
	}
	c.loadMark(ctx, t.Channel) // a rejoin or a fresh join (replay.go)
	return c.join(ctx, room, t.Channel)
}

// LeaveRoom implements transports.Rooms.
func (a *adapter) LeaveRoom(ctx context.Context, room transports.ID) error {
	t, err := a.target(room)
	if err != nil {
		return err
	}
	c, err := a.existing(t.Server)
	if err != nil {
		return nil // not connected: not in the room either
	}
	return c.part(ctx, t.Channel)
}

// SetSubject implements transports.RoomSubject.
func (a *adapter) SetSubject(ctx context.Context, room transports.ID, subject string) error {
	c, ch, err := a.channel(room)
	if err != nil {
		return err
	}
	return c.topic(ctx, ch, subject)
}

// Kick implements transports.Moderator.
func (a *adapter) Kick(ctx context.Context, room transports.ID, nick, reason string) error {
	c, ch, err := a.channel(room)
	if err != nil {
		return err
	}
	if err := c.checkMember(ch, nick); err != nil {
		return err
	}
	return c.kick(ctx, ch, nick, reason)
}

// SetRole implements transports.Moderator: moderator is +o, participant
// takes operator status away (or gives voice to a visitor), visitor takes
// voice away, none kicks.
func (a *adapter) SetRole(ctx context.Context, room transports.ID, nick string, role transports.Role) error {
	c, ch, err := a.channel(room)
	if err != nil {
		return err
	}
	if err := c.checkMember(ch, nick); err != nil {
		return err
	}
	if role == transports.RoleNone {
		return c.kick(ctx, ch, nick, "")
	}
	return c.setRole(ctx, ch, nick, role)
}

// SetAffiliation implements transports.Moderator: owner is +q, admin +o,
// member +v, none takes every status away, outcast bans and kicks.
func (a *adapter) SetAffiliation(ctx context.Context, room transports.ID, nick string, aff transports.Affiliation) error {
	c, ch, err := a.channel(room)
	if err != nil {
		return err
	}
	if err := c.checkMember(ch, nick); err != nil {
		return err
	}
	return c.setAffiliation(ctx, ch, nick, aff)
}

// ListRooms implements transports.RoomLister with IRC LIST.
func (a *adapter) ListRooms(ctx context.Context, server transports.ID) ([]transports.RoomInfo, error) {
	t, err := a.target(server)
	if err != nil {
		return nil, err
	}
	c, err := a.existing(t.Server)
	if err != nil {
		return nil, err
	}
	return c.list(ctx)
}

// SetTyping implements transports.Typer with the +typing client tag.
func (a *adapter) SetTyping(ctx context.Context, to transports.ID, state transports.ChatState) error {
	c, name, err := a.peer(to)
	if err != nil {
		return err
	}
	return c.typing(name, state)
}

// React implements transports.Reactor with the +draft/react client tag.
func (a *adapter) React(ctx context.Context, to transports.ID, target transports.RemoteID, reaction string, remove bool) error {
	if remove {
		return fmt.Errorf("%w: IRC cannot take a reaction back", transports.ErrUnsupported)
	}
	c, name, err := a.peer(to)
	if err != nil {
		return err
	}
	return c.react(name, target, reaction)
}

// peer finds the connection and the IRC name (channel or nick) of to.
func (a *adapter) peer(to transports.ID) (*conn, string, error) {
	t, err := a.target(to)
	if err != nil {
		return nil, "", err
	}
	c, err := a.existing(t.Server)
	if err != nil {
		return nil, "", err
	}
	if t.Channel != "" {
		return c, t.Channel, nil
	}
	return c, t.Nick, nil
}

// channel finds the joined channel room names.
func (a *adapter) channel(room transports.ID) (*conn, string, error) {
	t, err := a.target(room)
	if err != nil {
		return nil, "", err
	}
	if t.Channel == "" {
		return nil, "", fmt.Errorf("%w: %s is not a channel", transports.ErrNotFound, room)
	}
	c, err := a.existing(t.Server)
	if err != nil {
		return nil, "", err
	}
	if !c.inChannel(t.Channel) {
		return nil, "", fmt.Errorf("%w: you are not in %s", transports.ErrForbidden, t.Channel)
	}
	return c, t.Channel, nil
}

// ident derives an IRC user name from a nick.
func ident(nick string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(nick) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
		if b.Len() == 10 {
			break
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

// showMOTD shows a server's message of the day as a notice from the server
// JID: the first time, and when it changed since the user last saw it
// (remembered in the account's Store), so a reconnection or a restart
// does not repeat it.
func (a *adapter) showMOTD(from transports.ID, server, motd string) {
	motd = strings.TrimSpace(StripFormatting(motd))
	if motd == "" {
		return
	}
	sum := sha256.Sum256([]byte(motd))
	seen := hex.EncodeToString(sum[:8])
	if st := a.acct.Store; st != nil {
		ctx, cancel := context.WithTimeout(&a.ctx, 10*time.Second)
		defer cancel()
		if v, err := st.Get(ctx, "motd:"+server); err == nil && string(v) == seen {
			return
		}
		if err := st.Put(ctx, "motd:"+server, []byte(seen)); err != nil {
			a.logger().Warn("remembering the MOTD", "err", err)
		}
	}
	a.deliver(&transports.MessageEvent{From: from, Notice: true, Body: "Message of the day of " + server + ":\n" + motd})
}

// Servers implements transports.ServerLister: the servers the admin
// configured (the default server and [irc.servers]), then those the user
// is connected to, each once, by name. No I/O.
func (a *adapter) Servers(ctx context.Context) ([]transports.ServerInfo, error) {
	seen := make(map[string]bool)
	var out []transports.ServerInfo
	add := func(name string) {
		k := strings.ToLower(name)
		if k == "" || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, transports.ServerInfo{ID: a.id(Target{Server: k}), Name: k})
	}
	add(a.n.cfg.DefaultServer)
	for _, name := range slices.Sorted(maps.Keys(a.n.cfg.Servers)) {
		add(name)
	}
	a.mu.Lock()
	connected := a.conns.servers()
	a.mu.Unlock()
	for _, name := range connected {
		add(name)
	}
	return out, nil
}
