package irc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lrstanley/girc"
	"golang.org/x/time/rate"

	"github.com/switchboard-im/switchboard/transports"
)

// conn is one user's connection to one IRC server. It owns a girc client
// per connection attempt, reconnects with backoff once it has been
// registered, rejoins the user's channels, writes lines through a rate
// limiter, and turns what the server sends into transports events.
//
// girc runs handlers for one client sequentially in one goroutine, so
// events are produced in the server's order.
type conn struct {
	a        *adapter
	server   string
	addr     string
	useTLS   bool
	log      *slog.Logger
	wantNick string
	password string
	lim      *rate.Limiter
	wake     chan struct{}

	// done is closed when run returned.
	done chan struct{}

	mu         sync.Mutex
	client     *girc.Client
	registered bool
	everUp     bool
	firstErr   error         // why the first attempt failed
	regWait    chan struct{} // closed at registration or first failure
	failErr    error         // what went wrong in the current attempt
	saslOK     bool
	nick       string
	user, host string
	isupport   isupport
	channels   map[string]*channel // by folded name
	waits      []*await
	echoes     []*echoWait
	seq        int
	out        []string
	rawUntil   time.Time // numerics are forwarded to the user until then
	motd       []string
	batches    map[string]bool // open BATCH references (history replays)
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
	members   map[string]*member
	old       map[string]*member // members before a reconnection
	topic     string
	topicBy   string
	topicAt   time.Time
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
	lines  int
	fence  string
	room   bool
	msg    transports.Message
	id     transports.ID
	action bool
	body   string
	first  *girc.Event
	done   chan error
}

// isupport is what the server said in RPL_ISUPPORT that we use.
type isupport struct {
	prefixModes string // "qaohv"
	prefixChars string // "~&@%+"
	chanModes   [4]string
	chanTypes   string
	// historyLimit is CHATHISTORY=n: the most messages one request gets.
	historyLimit int
}

func defaultISupport() isupport {
	return isupport{prefixModes: "ov", prefixChars: "@+", chanModes: [4]string{"beI", "k", "l", "imnpst"}, chanTypes: "#&"}
}

func newConn(a *adapter, server, nick, password string) *conn {
	addr, useTLS := a.n.address(server)
	return &conn{
		a: a, server: server, addr: addr, useTLS: useTLS,
		log:      a.log.With("server", server),
		wantNick: nick,
		password: password,
		lim:      rate.NewLimiter(rate.Limit(a.n.cfg.SendRate), a.n.cfg.SendBurst),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		regWait:  make(chan struct{}),
		channels: make(map[string]*channel),
		isupport: defaultISupport(),
	}
}

// waitRegistered waits until the server accepted the connection's first
// registration, and returns why it failed otherwise.
func (c *conn) waitRegistered(ctx context.Context) error {
	select {
	case <-c.regWait:
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

// run connects, and reconnects with backoff once the connection has been
// registered, until the adapter closes.
func (c *conn) run() {
	defer close(c.done)
	ctx := c.a.ctx
	attempt := 0
	for {
		up, err := c.connectOnce(ctx)
		if up {
			attempt = 0
		}
		c.lost(err)
		if ctx.Err() != nil {
			c.mu.Lock()
			if !c.everUp && c.firstErr == nil {
				c.firstErr = fmt.Errorf("%w: connection closed", transports.ErrNotConnected)
				close(c.regWait)
			}
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		ever := c.everUp
		if !ever {
			c.firstErr = err
			close(c.regWait)
		}
		c.mu.Unlock()
		if !ever {
			c.log.Info("IRC connection failed", "err", err)
			return
		}
		delay := c.a.n.cfg.Backoff.Delay(attempt)
		attempt++
		c.log.Warn("IRC connection lost", "err", err, "retry_in", delay)
		c.a.connState(c, false, err, time.Now().Add(delay))
		if errors.Is(err, transports.ErrBadCredentials) {
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// connectOnce runs one connection until it ends. up tells whether it got
// registered.
func (c *conn) connectOnce(ctx context.Context) (up bool, err error) {
	host, portStr, err := net.SplitHostPort(c.addr)
	if err != nil {
		return false, fmt.Errorf("%w: bad server address %q", transports.ErrInvalidInput, c.addr)
	}
	port, _ := strconv.Atoi(portStr)
	c.mu.Lock()
	nick := c.wantNick
	if c.nick != "" {
		nick = c.nick // keep the nick we had
	}
	c.mu.Unlock()
	cfg := girc.Config{
		Server:                host,
		Port:                  port,
		Nick:                  nick,
		User:                  ident(nick),
		Name:                  c.a.n.cfg.RealName,
		SSL:                   c.useTLS,
		DisableSTS:            true,
		DisableAutoWHOOnJoin:  true,
		DisableAutoMODEOnJoin: true,
		AllowFlood:            true, // our own limiter paces lines
		Version:               c.a.n.cfg.Version,
		PingDelay:             90 * time.Second,
		PingTimeout:           3 * time.Minute,
		HandleNickCollide:     func(string) string { return "" },
		SupportedCaps: map[string][]string{
			"echo-message":      nil,
			"draft/chathistory": nil,
			"chathistory":       nil,
		},
		RecoverFunc: func(_ *girc.Client, e *girc.HandlerError) {
			c.log.Error("IRC handler panicked", "err", e.Error())
		},
	}
	if c.useTLS {
		cfg.TLSConfig = &tls.Config{ServerName: host, RootCAs: c.a.n.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	if c.password != "" {
		cfg.SASL = &girc.SASLPlain{User: c.wantNick, Pass: c.password}
	}
	cl := girc.New(cfg)
	cl.Handlers.Add(girc.ALL_EVENTS, c.handle)

	c.mu.Lock()
	c.client = cl
	c.failErr = nil
	c.saslOK = false
	c.isupport = defaultISupport()
	c.motd = nil
	c.batches = nil
	c.mu.Unlock()

	d := &dialer{ctx: ctx, timeout: c.a.n.cfg.Timeout, dial: c.a.n.cfg.Dial}
	// DialerConnect blocks until the connection ends; timers and the
	// context stop it from the side, so no goroutine waits per
	// connection besides girc's own.
	regTimer := time.AfterFunc(c.a.n.cfg.Timeout, func() {
		if !c.isRegistered() {
			c.setFail(fmt.Errorf("%w: %s did not complete the registration in time", transports.ErrUnavailable, c.server))
			cl.Close()
		}
	})
	defer regTimer.Stop()
	quitTimer := time.AfterFunc(time.Hour, cl.Close) // armed by a cancellation
	quitTimer.Stop()
	stopQuit := context.AfterFunc(ctx, func() {
		cl.Quit("Switchboard: session closed")
		quitTimer.Reset(3 * time.Second) // a server that ignores QUIT
	})
	err = cl.DialerConnect(d)
	stopQuit()
	quitTimer.Stop()
	c.mu.Lock()
	up = c.registered
	fail := c.failErr
	c.client = nil
	c.registered = false
	c.mu.Unlock()
	switch {
	case fail != nil:
		return up, fail
	case err != nil:
		return up, fmt.Errorf("%w: %s: %v", transports.ErrUnavailable, c.server, err)
	default:
		return up, fmt.Errorf("%w: %s closed the connection", transports.ErrUnavailable, c.server)
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
	c.mu.Lock()
	waits, echoes := c.waits, c.echoes
	c.waits, c.echoes, c.out = nil, nil, nil
	var evs []transports.Event
	for _, ch := range c.channels {
		if ch.joined && ch.want && c.a.ctx.Err() == nil {
			evs = append(evs, &transports.NoticeEvent{About: ch.id, Error: true,
				Text: fmt.Sprintf("Connection to %s lost (%v); reconnecting…", c.server, err)})
		}
		ch.joined, ch.synced = false, false
		if ch.old == nil {
			ch.old = ch.members
		}
		ch.members = make(map[string]*member)
		if !ch.want {
			delete(c.channels, FoldName(ch.name))
		}
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
	first := !c.everUp
	c.everUp = true
	var rejoin []string
	for _, ch := range c.channels {
		if ch.want {
			ch.rejoining = !first
			rejoin = append(rejoin, "JOIN "+ch.name)
		}
	}
	identify := c.password != "" && !c.saslOK && c.client != nil && !c.client.HasCapability("sasl")
	nick := c.nick
	motd := strings.Join(c.motd, "\n")
	c.mu.Unlock()
	if first {
		c.a.showMOTD(c.serverID(), c.server, motd)
		close(c.regWait)
	} else {
		c.a.connState(c, true, nil, time.Time{})
	}
	if identify {
		// No SASL here: fall back to NickServ.
		c.enqueue("PRIVMSG NickServ :IDENTIFY " + nick + " " + c.password)
	}
	if p := c.a.presence(); p.Show != transports.Available && p.Show != transports.FreeForChat {
		c.setAway(p)
	}
	c.enqueue(rejoin...)
}

// dialer dials with the adapter's context, so Close interrupts a dial.
type dialer struct {
	ctx     context.Context
	timeout time.Duration
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	if d.dial != nil {
		ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
		defer cancel()
		return d.dial(ctx, network, address)
	}
	nd := net.Dialer{Timeout: d.timeout}
	return nd.DialContext(d.ctx, network, address)
}

// enqueue queues lines for the writer. Lines are already sanitised.
func (c *conn) enqueue(lines ...string) {
	if len(lines) == 0 {
		return
	}
	c.mu.Lock()
	c.out = append(c.out, lines...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writer writes queued lines in order, within the rate limit, while the
// connection is registered.
func (c *conn) writer() {
	ctx := c.a.ctx
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			ready := c.registered && len(c.out) > 0
			c.mu.Unlock()
			if !ready {
				break
			}
			if err := c.lim.Wait(ctx); err != nil {
				return
			}
			c.mu.Lock()
			if !c.registered || len(c.out) == 0 || c.client == nil {
				c.mu.Unlock()
				break
			}
			line := c.out[0]
			c.out = c.out[1:]
			cl := c.client
			c.mu.Unlock()
			if err := cl.Cmd.SendRawNoSplit(line); err != nil {
				c.log.Warn("IRC line not sent", "command", strings.SplitN(line, " ", 2)[0], "err", err)
			}
		}
	}
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
			c.waits = append(c.waits[:i], c.waits[i+1:]...)
			return
		}
	}
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
// only this goroutine (girc's handler) runs them.
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

// serverError turns an IRC error numeric into an error wrapping the right
// sentinel, with the server's text.
func serverError(e *girc.Event) error {
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
	return fmt.Errorf("%w: %s", kind, text)
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
		ch = &channel{name: name, id: id, members: make(map[string]*member)}
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
			return true, serverError(e)
		}
		return false, nil
	})
	c.enqueue("JOIN " + name)
	err := c.waitFor(ctx, w, "the join")
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
	c.enqueue("PART " + name)
	return c.waitFor(ctx, w, "the part")
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
	var evs []transports.Event
	self := FoldName(c.nick)
	var me *member
	for k, m := range ch.members {
		if k == self {
			me = m
			continue
		}
		evs = append(evs, c.occupantLocked(ch, m))
	}
	ready := &transports.RoomReadyEvent{Room: ch.id, Nick: c.nick}
	if me != nil {
		ready.Role, ready.Affiliation = c.roleOf(me.prefixes)
	}
	evs = append(evs, ready, &transports.SubjectEvent{Room: ch.id, Subject: ch.topic, Nick: ch.topicBy, Time: ch.topicAt})
	return evs
}

func (c *conn) occupantLocked(ch *channel, m *member) *transports.OccupantEvent {
	role, aff := c.roleOf(m.prefixes)
	ev := &transports.OccupantEvent{Room: ch.id, Nick: m.nick, Role: role, Affiliation: aff, Account: m.account,
		Self: EqualFold(m.nick, c.nick)}
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
	body, action := msg.Body, msg.Action
	if rest, ok := strings.CutPrefix(body, "/me "); ok {
		body, action = rest, true
	}
	// \x01 would let the user forge CTCP requests (DCC, …).
	body = strings.ReplaceAll(body, "\x01", "")
	c.mu.Lock()
	if !c.registered || c.client == nil {
		c.mu.Unlock()
		return "", fmt.Errorf("%w: not connected to %s right now", transports.ErrNotConnected, c.server)
	}
	budget := LineBudget(c.nick, c.user, c.host, "PRIVMSG", target)
	if action {
		budget -= ActionOverhead
	}
	tags := c.client.HasCapability("message-tags")
	echo := c.client.HasCapability("echo-message")
	c.mu.Unlock()
	pieces := SplitMessage(body, budget)
	if len(pieces) == 0 {
		return "", nil
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
	w := &echoWait{target: FoldName(target), lines: len(pieces), room: room, msg: msg, id: id, action: action, body: body, done: make(chan error, 1)}
	if !echo {
		w.lines = 0
		c.mu.Lock()
		c.seq++
		w.fence = "sb" + strconv.Itoa(c.seq)
		c.mu.Unlock()
		lines = append(lines, "PING :"+w.fence)
	}
	c.mu.Lock()
	c.echoes = append(c.echoes, w)
	c.mu.Unlock()
	c.enqueue(lines...)

	t := time.NewTimer(c.a.n.cfg.Timeout + time.Duration(len(lines))*time.Second/time.Duration(max(1, int(c.a.n.cfg.SendRate))))
	defer t.Stop()
	select {
	case err := <-w.done:
		if err != nil {
			return "", err
		}
	case <-ctx.Done():
		c.dropEcho(w)
		return "", ctx.Err()
	case <-t.C:
		c.dropEcho(w)
		return "", fmt.Errorf("%w: %s did not confirm the message in time", transports.ErrUnavailable, c.server)
	}
	if w.first != nil {
		if msgid, ok := w.first.Tags.Get("msgid"); ok {
			return transports.RemoteID(msgid), nil
		}
	}
	return "", nil
}

func (c *conn) dropEcho(w *echoWait) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.echoes {
		if x == w {
			c.echoes = append(c.echoes[:i], c.echoes[i+1:]...)
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

// sendRaw sends each line of body as a raw IRC command (biboumi's
// behaviour for messages to the server JID); replies come back as
// messages from the server for a while.
func (c *conn) sendRaw(ctx context.Context, body string) error {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(Sanitize(l))
		if l == "" {
			continue
		}
		if len(l) > 510 {
			return fmt.Errorf("%w: an IRC command is at most 510 bytes", transports.ErrInvalidInput)
		}
		if girc.ParseEvent(l) == nil {
			return fmt.Errorf("%w: %q is not an IRC command", transports.ErrInvalidInput, l)
		}
		lines = append(lines, l)
	}
	c.mu.Lock()
	c.rawUntil = time.Now().Add(30 * time.Second)
	c.mu.Unlock()
	c.enqueue(lines...)
	return nil
}

// setAway mirrors an XMPP availability as IRC AWAY.
func (c *conn) setAway(p transports.Presence) {
	switch p.Show {
	case transports.Away, transports.ExtendedAway, transports.DoNotDisturb:
		text := Sanitize(p.Status)
		if text == "" {
			text = "Away"
		}
		if len(text) > 200 {
			text = text[:200]
		}
		c.enqueue("AWAY :" + text)
	default:
		c.enqueue("AWAY")
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
				return true, serverError(e)
			}
		}
		return false, nil
	})
	c.enqueue("TOPIC " + name + " :" + Sanitize(text))
	return c.waitFor(ctx, w, "the topic change")
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
				return true, serverError(e)
			}
		}
		return false, nil
	})
	line := "KICK " + name + " " + nick
	if r := Sanitize(reason); r != "" {
		line += " :" + r
	}
	c.enqueue(line)
	return c.waitFor(ctx, w, "the kick")
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
	if ch := c.channels[FoldName(name)]; ch != nil {
		if m := ch.members[FoldName(nick)]; m != nil {
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
				return true, serverError(e)
			}
		}
		return false, nil
	})
	args := strings.Repeat(" "+arg, len(modes)-1)
	c.enqueue("MODE " + name + " " + modes + args)
	return c.waitFor(ctx, w, "the mode change")
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
			return true, serverError(e)
		}
		return false, nil
	})
	c.enqueue("LIST")
	if err := c.waitFor(ctx, w, "LIST"); err != nil {
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
	c.enqueue("@+typing=" + v + " TAGMSG " + target)
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
	c.enqueue("@+draft/react=" + escapeTag(Sanitize(reaction)) + ";+draft/reply=" + escapeTag(string(to)) + " TAGMSG " + target)
	return nil
}

func (c *conn) hasCap(name string) bool {
	c.mu.Lock()
	cl := c.client
	c.mu.Unlock()
	return cl != nil && cl.HasCapability(name)
}

// escapeTag escapes an IRCv3 tag value.
func escapeTag(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\:`, " ", `\s`, "\r", `\r`, "\n", `\n`, "\x00", "")
	return r.Replace(s)
}
