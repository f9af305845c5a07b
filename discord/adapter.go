package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/internal/bounded"
	"github.com/switchboard-im/switchboard/transports"
)

// echoWait bounds how long the event of the user's own message waits for
// the Send that made it to return (its ID is known only then).
const echoWait = 15 * time.Second

// adapter is one user's Discord session: one gateway connection, whose
// events are handled in order on discordgo's reading goroutine.
//
// Goroutines: discordgo's reader and heartbeat (ended by Session.Close),
// and at most one redial at a time (a.wg), started when the gateway drops
// and ended by Close.
type adapter struct {
	transports.Ending
	n     *Network
	s     *discordgo.Session
	dl    *deadlines
	sink  transports.Sink
	login login
	self  string // the account's user ID
	log   *slog.Logger
	link  *transports.Link

	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	release func() // the budget's lease

	mu         sync.Mutex
	closed     bool
	busy       sync.WaitGroup // handlers running; none starts once closed
	wg         sync.WaitGroup // the redial
	redialing  bool
	rooms      map[string]*room  // joined rooms by channel ID
	dmPeer     map[string]string // DM channel ID → the other user's ID
	dmOf       map[string]string // user ID → DM channel ID
	inFlight   map[string]int    // channel ID → calls that may make events of the user's own
	ours       map[string]string // "op:message ID" → the XMPP ID, until its event came
	settled    *sync.Cond        // inFlight went down, or closed
	last       map[string]string // channel ID → the last message delivered (see bookmark)
	profiles   map[string]string // DM partner → the name and avatar last delivered
	watched    map[string]bool   // people whose presence the user asked for (Watch)
	catchUpDue bool              // a redial opened the gateway: fetch what was missed at READY/RESUMED
	droppedAt  time.Time         // (a little before) when the gateway last dropped
	store      transports.Store  // nil: no bookmarks
	gw         gatewaySession    // kept in the store for a RESUME after a restart (resume.go)

	held  map[string][]func()        // channel → events for when the room is joined again (held.go)
	marks *bounded.Map[string, bool] // channel → joined at the stop (joinedKey), as read
}

// Connect logs in as Validate does and keeps the gateway open. The
// session's events reach sink; a bot without the Message Content intent
// is told once that guild message bodies will arrive empty.
func (n *Network) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (transports.Adapter, error) {
	l, err := parseLogin(acct.Credentials)
	if err != nil {
		return nil, err
	}
	s, dl, err := n.newSession(l)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	u, err := n.checkToken(cctx, s, l)
	if err != nil {
		return nil, err
	}
	release, err := n.budget(acct.User)
	if err != nil {
		return nil, err
	}
	a := &adapter{
		n: n, s: s, dl: dl, sink: sink, login: l, self: u.ID, release: release,
		log:      n.log.With("user", acct.User),
		link:     acct.Reconnect.Link(true),
		rooms:    map[string]*room{},
		dmPeer:   map[string]string{},
		dmOf:     map[string]string{},
		inFlight: map[string]int{},
		ours:     map[string]string{},
		last:     map[string]string{},
		profiles: map[string]string{},
		held:     map[string][]func(){},
		marks:    bounded.New[string, bool](maxMarks),
		store:    acct.Store,
	}
	a.settled = sync.NewCond(&a.mu)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.addHandlers()
	rctx, rcancel := context.WithTimeout(ctx, n.cfg.Timeout)
	resuming := a.restore(rctx, u)
	rcancel()
	var content bool
	if resuming {
		if err = s.Open(); err == nil {
			dl.clear()
			content = s.Identify.Intents&discordgo.IntentMessageContent != 0
		} else {
			a.log.Info("discord: the stored gateway session did not open; identifying anew", "err", classify(err))
			resuming = false
			a.forgetResume()
		}
	}
	if !resuming {
		content, err = openGateway(s, dl, l.bot)
	}
	if err != nil {
		a.cancel()
		release()
		return nil, err
	}
	a.mu.Lock()
	a.gw.intents = s.Identify.Intents
	a.wg.Add(1)
	a.mu.Unlock()
	go a.keepResume()
	if l.bot && !content {
		sink.Deliver(&transports.NoticeEvent{Text: "This bot has no Message Content intent, so the text of guild messages will arrive empty. " +
			"Enable it in Discord's developer portal (your application → Bot → Privileged Gateway Intents) and reconnect."})
	}
	if !resuming {
		a.goCatchUp(a.privateChannels(), time.Time{})
	}
	return a, nil
}

// on wraps a handler: it does not run once the adapter is closing, Close
// waits for it, and a panic (a peer's bytes that discordgo decoded into
// something unexpected) is logged, not fatal.
func on[T any](a *adapter, h func(T)) func(*discordgo.Session, T) {
	return func(_ *discordgo.Session, ev T) {
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			return
		}
		a.busy.Add(1)
		a.mu.Unlock()
		defer a.busy.Done()
		defer func() {
			if r := recover(); r != nil {
				a.log.Error("discord: panic in an event handler", "event", fmt.Sprintf("%T", ev), "panic", r)
			}
		}()
		h(ev)
	}
}

func (a *adapter) addHandlers() {
	a.s.AddHandler(on(a, func(m *discordgo.MessageCreate) { a.onMessage(m.Message) }))
	// Edits, deletions and reactions of a room not joined again yet
	// after a restart wait for it (held.go).
	a.s.AddHandler(on(a, func(m *discordgo.MessageUpdate) {
		if m.Message != nil {
			a.unlessHeld(m.ChannelID, m.GuildID, func() { a.onUpdate(m) })
		}
	}))
	a.s.AddHandler(on(a, func(m *discordgo.MessageDelete) {
		if m.Message != nil {
			a.unlessHeld(m.ChannelID, m.GuildID, func() { a.onDelete(m) })
		}
	}))
	a.s.AddHandler(on(a, func(r *discordgo.MessageReactionAdd) {
		if r.MessageReaction != nil {
			a.unlessHeld(r.ChannelID, r.GuildID, func() { a.onReaction(r.MessageReaction, r.Member, false) })
		}
	}))
	a.s.AddHandler(on(a, func(r *discordgo.MessageReactionRemove) {
		if r.MessageReaction != nil {
			a.unlessHeld(r.ChannelID, r.GuildID, func() { a.onReaction(r.MessageReaction, nil, true) })
		}
	}))
	a.s.AddHandler(on(a, a.onTyping))
	a.s.AddHandler(on(a, a.onChannel))
	a.s.AddHandler(on(a, a.onChannelUpdate))
	a.s.AddHandler(on(a, a.onPresence))
	a.s.AddHandler(on(a, a.onMemberUpdate))
	a.s.AddHandler(on(a, a.onMemberRemove))
	a.s.AddHandler(on(a, a.onGuildDelete))
	a.s.AddHandler(on(a, func(*discordgo.Ready) { a.onSession(true) }))
	a.s.AddHandler(on(a, func(*discordgo.Resumed) { a.onSession(false) }))
	a.s.AddHandler(on(a, a.onDisconnect))
	// Last: discordgo runs the raw event's handlers after the typed
	// ones, so the sequence recorded is that of an event handled.
	a.s.AddHandler(on(a, a.recordSeq))
}

// Close logs out: the redial (if any) ends, the gateway is closed, and
// the handlers running finish; no event reaches the sink afterwards. The
// gateway session stays resumable (close code closeResumable) and its
// last sequence is written: the next process RESUMEs it.
func (a *adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.settled.Broadcast()
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	err := a.s.CloseWithCode(closeResumable)
	a.busy.Wait()
	a.saveResume(context.Background(), false)
	a.release()
	if err != nil {
		a.log.Debug("discord: closing the gateway", "err", err)
	}
	return nil
}

// onDisconnect starts the redial when the gateway dropped on its own.
func (a *adapter) onDisconnect(*discordgo.Disconnect) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.redialing {
		return
	}
	// A little before the drop: what the dropped connection may not
	// have read yet counts as missed (the Sink ignores what it had).
	a.redialing, a.droppedAt = true, time.Now().Add(-5*time.Second)
	a.wg.Add(1)
	go a.redial()
}

// redial opens the gateway again through the supervisor's policy:
// discordgo RESUMEs where the server still has the session, and
// IDENTIFYs anew where not. A token the server now refuses (revoked)
// ends the session for good: the supervisor tells the user and does not
// retry.
func (a *adapter) redial() {
	defer a.wg.Done()
	defer func() {
		a.mu.Lock()
		a.redialing = false
		a.mu.Unlock()
		if r := recover(); r != nil {
			a.log.Error("discord: panic while redialling", "panic", r)
			a.End(fmt.Errorf("%w: internal error while reconnecting", transports.ErrUnavailable))
		}
	}()
	err := fmt.Errorf("%w: the Discord gateway connection dropped", transports.ErrUnavailable)
	for a.link.Lost(a.ctx, err) {
		ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
		_, err = a.n.checkToken(ctx, a.s, a.login)
		cancel()
		if err == nil {
			_, err = openGateway(a.s, a.dl, a.login.bot)
		}
		if err == nil || errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			a.mu.Lock()
			a.gw.intents = a.s.Identify.Intents
			a.mu.Unlock()
			// What was missed is fetched once the server has the
			// session again (READY or RESUMED, see onSession): a
			// server that refused the RESUME sends READY only after
			// Open returned, and what is sent before that is not
			// delivered live.
			a.mu.Lock()
			a.catchUpDue = true
			a.mu.Unlock()
			a.link.Up()
			return
		}
	}
	if a.ctx.Err() == nil {
		a.End(err)
	}
}

// onSession fetches what was missed while the gateway was away, once a
// redialled session is up again (ready: READY, else RESUMED). A session
// restored from the store (resume.go) that the server RESUMEd had every
// missed event replayed: nothing to fetch; refused, it fetches as a
// fresh Connect does, for the DMs and the conversations known.
func (a *adapter) onSession(ready bool) {
	a.mu.Lock()
	due, since, restored := a.catchUpDue, a.droppedAt, a.gw.replaying
	a.catchUpDue, a.gw.replaying = false, false
	a.mu.Unlock()
	switch {
	case !due:
	case restored && ready:
		a.goCatchUp(a.knownConversations(), time.Time{})
	case !restored:
		a.goCatchUp(a.conversations(), since)
	}
}

// await blocks until no call that may make an event of the user's own
// runs in channel (so its ID is in a.ours), or echoWait passed, or the
// adapter closes.
func (a *adapter) await(channel string) {
	stop := time.AfterFunc(echoWait, func() {
		a.mu.Lock()
		a.settled.Broadcast()
		a.mu.Unlock()
	})
	defer stop.Stop()
	deadline := time.Now().Add(echoWait)
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.inFlight[channel] > 0 && !a.closed && time.Now().Before(deadline) {
		a.settled.Wait()
	}
}

// begin marks a call in channel that may make events of the user's own;
// the returned function ends it, after the call recorded its IDs with
// mark.
func (a *adapter) begin(channel string) func() {
	a.mu.Lock()
	a.inFlight[channel]++
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		if a.inFlight[channel]--; a.inFlight[channel] <= 0 {
			delete(a.inFlight, channel)
		}
		a.settled.Broadcast()
		a.mu.Unlock()
	}
}

// maxOurs bounds a.ours: IDs whose events never came (the gateway was
// down) are forgotten beyond it.
const maxOurs = 1000

// mark records that the user made op ("msg", "edit", "del") on message
// id through this adapter, as XMPP message xmppID.
func (a *adapter) mark(op, id, xmppID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ours) >= maxOurs {
		clear(a.ours)
	}
	a.ours[op+":"+id] = xmppID
}

// ourOwn waits for the calls in channel and says whether op on id was
// made through this adapter, and as which XMPP message.
func (a *adapter) ourOwn(channel, op, id string) (string, bool) {
	a.await(channel)
	a.mu.Lock()
	defer a.mu.Unlock()
	x, ok := a.ours[op+":"+id]
	delete(a.ours, op+":"+id)
	return x, ok
}

// conv is a conversation as events name it.
type conv struct {
	id   transports.ID
	room *room  // the joined room, nil for a DM
	peer string // a DM's other user
}

// conversation finds the conversation of channel: a joined room, or a
// DM. ok is false for a room the user did not join (its events are not
// the user's business) and for channels the account cannot see.
func (a *adapter) conversation(channel, guild string) (conv, bool) {
	a.mu.Lock()
	r, joined := a.rooms[channel]
	peer, dm := a.dmPeer[channel]
	a.mu.Unlock()
	if joined {
		return conv{id: r.id, room: r}, true
	}
	if guild != "" {
		return conv{}, false
	}
	if dm {
		return conv{id: UserID(peer), peer: peer}, true
	}
	ch, err := a.channel(a.ctx, channel)
	if err != nil || ch.Type != discordgo.ChannelTypeDM || len(ch.Recipients) == 0 {
		return conv{}, false
	}
	peer = ch.Recipients[0].ID
	for _, u := range ch.Recipients {
		if u.ID != a.self {
			peer = u.ID
		}
	}
	a.rememberDM(channel, peer)
	return conv{id: UserID(peer), peer: peer}, true
}

func (a *adapter) rememberDM(channel, peer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dmPeer[channel], a.dmOf[peer] = peer, channel
}

// channelInfo is what the adapter reads of a channel, copied out of
// discordgo's state (which other goroutines change under its lock).
type channelInfo struct {
	ID, GuildID, Name, Topic string
	Icon                     string // a group DM's icon hash
	Type                     discordgo.ChannelType
	Recipients               []discordgo.User
}

// channel looks channel up in the state, else over REST.
func (a *adapter) channel(ctx context.Context, id string) (channelInfo, error) {
	// The state's getters lock it themselves; the fields are read under
	// its lock after (discordgo's RWMutex is not re-entrant).
	if ch, err := a.s.State.Channel(id); err == nil {
		a.s.State.RLock()
		defer a.s.State.RUnlock()
		return copyChannel(ch), nil
	}
	ch, err := a.s.Channel(id, discordgo.WithContext(ctx))
	if err != nil {
		return channelInfo{}, classify(err)
	}
	return copyChannel(ch), nil
}

func copyChannel(ch *discordgo.Channel) channelInfo {
	info := channelInfo{ID: ch.ID, GuildID: ch.GuildID, Name: ch.Name, Topic: ch.Topic, Icon: ch.Icon, Type: ch.Type}
	for _, u := range ch.Recipients {
		if u != nil {
			info.Recipients = append(info.Recipients, *u)
		}
	}
	return info
}

// onChannel learns new DM channels (a DM opened from the other side).
func (a *adapter) onChannel(c *discordgo.ChannelCreate) {
	if c.Channel == nil || c.Type != discordgo.ChannelTypeDM {
		return
	}
	for _, u := range c.Recipients {
		if u != nil && u.ID != a.self {
			a.rememberDM(c.ID, u.ID)
			a.sink.Deliver(&transports.ContactEvent{Contact: transports.Contact{ID: UserID(u.ID), Name: displayName(u, nil)}})
		}
	}
}

// onMessage delivers a message: in a joined room from its author's nick,
// in a DM from the other user. The user's own messages come marked Own:
// in a room as the echo of the Send that made them (EchoOf), in a DM only
// when written from another client.
func (a *adapter) onMessage(m *discordgo.Message) {
	if m == nil || m.Author == nil {
		return
	}
	switch m.Type {
	case discordgo.MessageTypeDefault, discordgo.MessageTypeReply:
	default:
		return // joins, pins, calls: not messages
	}
	if a.replayed(m) {
		return
	}
	c, ok := a.conversation(m.ChannelID, m.GuildID)
	if !ok {
		a.unjoinedMention(m)
		return
	}
	ev := a.messageEvent(c, m)
	if ev.Own {
		x, ours := a.ourOwn(m.ChannelID, "msg", m.ID)
		if ours && c.room == nil {
			a.bookmark(m.ChannelID, m.ID)
			return // the user's XMPP client shows it already
		}
		ev.EchoOf = x
	}
	a.sink.Deliver(ev)
	a.bookmark(m.ChannelID, m.ID)
}

// messageEvent converts m, of conversation c.
func (a *adapter) messageEvent(c conv, m *discordgo.Message) *transports.MessageEvent {
	ev := &transports.MessageEvent{
		From:     c.id,
		Room:     c.room != nil,
		RemoteID: transports.RemoteID(m.ID),
		Body:     a.body(c, m),
		Time:     m.Timestamp,
		Own:      m.Author.ID == a.self,
	}
	if m.MessageReference != nil && m.Type == discordgo.MessageTypeReply {
		ev.ReplyTo = transports.RemoteID(m.MessageReference.MessageID)
	}
	if c.room != nil {
		ev.Nick, ev.OccupantID = a.occupant(c.room, m.Author, m.Member), m.Author.ID
		for _, u := range m.Mentions {
			ev.Mention = ev.Mention || (u != nil && u.ID == a.self)
		}
		ev.Mention = (ev.Mention || m.MentionEveryone) && !ev.Own
	} else if !ev.Own {
		ev.Nick = displayName(m.Author, nil)
	}
	ev.Attachments = a.files(m)
	return ev
}

// files are m's attachments, then its stickers that are images.
func (a *adapter) files(m *discordgo.Message) []transports.Attachment {
	var out []transports.Attachment
	for _, at := range m.Attachments {
		if at != nil {
			out = append(out, a.attachment(at))
		}
	}
	for _, st := range m.StickerItems {
		if st == nil {
			continue
		}
		if ext := stickerExt(st.FormatType); ext != "" && IsSnowflake(st.ID) {
			// Their size is not known: a link the component fetches.
			out = append(out, transports.Attachment{Name: clean(st.Name, 100) + ext, Type: mime.TypeByExtension(ext),
				URL: a.n.cdnURL("stickers/" + st.ID + ext)})
		}
	}
	return out
}

// stickerExt is the file extension of a sticker shown as an image, ""
// for those that are not (Lottie animations).
func stickerExt(f discordgo.StickerFormat) string {
	switch f {
	case discordgo.StickerFormatTypePNG, discordgo.StickerFormatTypeAPNG:
		return ".png"
	case discordgo.StickerFormatTypeGIF:
		return ".gif"
	}
	return ""
}

// body is m's text made readable: mentions as names, then the text of
// embeds and the names of stickers, which XMPP has no place for.
func (a *adapter) body(c conv, m *discordgo.Message) string {
	mentioned := map[string]string{}
	for _, u := range m.Mentions {
		if u != nil {
			mentioned[u.ID] = displayName(u, nil)
			if c.room != nil {
				mentioned[u.ID] = a.occupantNick(c.room, u)
			}
		}
	}
	text := readable(m.Content, names{
		user:    func(id string) string { return mentioned[id] },
		role:    func(id string) string { return a.roleName(m.GuildID, id) },
		channel: a.channelName,
	})
	var extra []string
	for _, e := range m.Embeds {
		if e == nil {
			continue
		}
		var parts []string
		for _, s := range []string{e.Title, e.Description, e.URL} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		for _, f := range e.Fields {
			if f != nil {
				parts = append(parts, f.Name+": "+f.Value)
			}
		}
		if len(parts) > 0 && !(len(parts) == 1 && strings.Contains(text, parts[0])) {
			extra = append(extra, "> "+strings.Join(parts, "\n> "))
		}
	}
	for _, st := range m.StickerItems {
		if st != nil && stickerExt(st.FormatType) == "" {
			extra = append(extra, "[sticker: "+st.Name+"]") // an animation XMPP clients cannot show
		}
	}
	if len(extra) > 0 {
		if text != "" {
			text += "\n"
		}
		text += strings.Join(extra, "\n")
	}
	return strings.ToValidUTF8(text, "\uFFFD")
}

func (a *adapter) roleName(guild, role string) string {
	if guild == "" {
		return ""
	}
	r, err := a.s.State.Role(guild, role)
	if err != nil {
		return ""
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	return r.Name
}

func (a *adapter) channelName(id string) string {
	ch, err := a.s.State.Channel(id)
	if err != nil {
		return ""
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	return ch.Name
}

// attachment is a Discord file as the component fetches it: from the
// server the network talks to, the adapter streams it itself (the
// component's own fetch would refuse a self-hosted server on a private
// address); anything else is a link the component fetches under its
// egress policy.
func (a *adapter) attachment(at *discordgo.MessageAttachment) transports.Attachment {
	f := transports.Attachment{Name: at.Filename, Type: at.ContentType, Size: int64(at.Size)}
	if !a.n.fromServer(at.URL) || at.Size <= 0 || (a.n.cfg.MaxAttachment > 0 && int64(at.Size) > a.n.cfg.MaxAttachment) {
		f.URL = at.URL
		return f
	}
	url := at.URL
	f.Open = func(ctx context.Context) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: a file's address is not a URL", transports.ErrUnavailable)
		}
		resp, err := (&http.Client{Transport: a.n.transport, CheckRedirect: noRedirect}).Do(req)
		if err != nil {
			return nil, classify(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: Discord's CDN answered HTTP %d", transports.ErrUnavailable, resp.StatusCode)
		}
		return resp.Body, nil
	}
	return f
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// onUpdate delivers an edit of a message's text.
func (a *adapter) onUpdate(m *discordgo.MessageUpdate) {
	if m.Message == nil || m.Author == nil || m.EditedTimestamp == nil {
		return // an embed resolved, a pin: not an edit
	}
	c, ok := a.conversation(m.ChannelID, m.GuildID)
	if !ok {
		return
	}
	ev := &transports.EditEvent{
		From: c.id, Room: c.room != nil, Target: transports.RemoteID(m.ID),
		Body: a.body(c, m.Message), Own: m.Author.ID == a.self, Time: *m.EditedTimestamp,
	}
	if ev.Own {
		if _, ours := a.ourOwn(m.ChannelID, "edit", m.ID); ours && c.room == nil {
			return
		}
	} else if c.room != nil {
		ev.Nick = a.occupant(c.room, m.Author, m.Member)
	}
	a.sink.Deliver(ev)
	a.news()
}

// onDelete delivers a deletion. Discord does not say who deleted a
// message; its author is known when the state still held it.
func (a *adapter) onDelete(m *discordgo.MessageDelete) {
	if m.Message == nil {
		return
	}
	c, ok := a.conversation(m.ChannelID, m.GuildID)
	if !ok {
		return
	}
	ev := &transports.RetractEvent{From: c.id, Room: c.room != nil, Target: transports.RemoteID(m.ID)}
	if b := m.BeforeDelete; b != nil && b.Author != nil {
		ev.Own = b.Author.ID == a.self
		if c.room != nil && !ev.Own {
			ev.Nick = a.occupant(c.room, b.Author, b.Member)
		}
	}
	if _, ours := a.ourOwn(m.ChannelID, "del", m.ID); ours {
		if c.room == nil {
			return
		}
		ev.Own = true
	}
	if reason, ours := a.ourOwn(m.ChannelID, "mod", m.ID); ours && c.room != nil {
		ev.Moderated, ev.Reason = true, reason
		ev.By, _ = c.room.nick(a.self)
	}
	a.sink.Deliver(ev)
	a.news()
}

// onReaction delivers a reaction of someone else's, or the user's own
// made from another client (Own; one made through this adapter is not
// news); custom emoji as :name:.
func (a *adapter) onReaction(r *discordgo.MessageReaction, member *discordgo.Member, remove bool) {
	if r == nil {
		return
	}
	c, ok := a.conversation(r.ChannelID, r.GuildID)
	if !ok {
		return
	}
	ev := &transports.ReactionEvent{From: c.id, Room: c.room != nil, Target: transports.RemoteID(r.MessageID), Reaction: emojiText(r.Emoji), Remove: remove}
	switch {
	case r.UserID == a.self:
		op := "react"
		if remove {
			op = "unreact"
		}
		if _, ours := a.ourOwn(r.ChannelID, op, r.MessageID+" "+ev.Reaction); ours {
			return
		}
		ev.Own = true
	case c.room != nil:
		ev.Nick = a.occupantByID(c.room, r.UserID, member)
	}
	if ev.Reaction != "" {
		a.sink.Deliver(ev)
		a.news()
	}
}

func emojiText(e discordgo.Emoji) string {
	if e.ID != "" {
		return ":" + e.Name + ":"
	}
	return e.Name
}

// onTyping delivers someone else's typing.
func (a *adapter) onTyping(t *discordgo.TypingStart) {
	if t.UserID == a.self || a.replaying() {
		return // a replay's typing is long over
	}
	c, ok := a.conversation(t.ChannelID, t.GuildID)
	if !ok {
		return
	}
	ev := &transports.TypingEvent{From: c.id, Room: c.room != nil, State: transports.Composing}
	if c.room != nil {
		ev.Nick = a.occupantByID(c.room, t.UserID, nil)
	}
	a.sink.Deliver(ev)
}

// unjoinedMention delivers a message that mentions the user in a guild
// channel they have not joined as a room: the component shows mentions
// of rooms it holds no state for, and the rest of such a channel's
// chatter is not delivered at all.
func (a *adapter) unjoinedMention(m *discordgo.Message) {
	if m.GuildID == "" || m.Author.ID == a.self {
		return
	}
	mentioned := m.MentionEveryone
	for _, u := range m.Mentions {
		mentioned = mentioned || (u != nil && u.ID == a.self)
	}
	if !mentioned {
		return
	}
	a.sink.Deliver(&transports.MessageEvent{
		From: ChannelID(m.ChannelID, m.GuildID), Room: true, Mention: true,
		RemoteID: transports.RemoteID(m.ID), Time: m.Timestamp,
		Nick: displayName(m.Author, m.Member), OccupantID: m.Author.ID,
		Body: a.body(conv{}, m),
	})
}
