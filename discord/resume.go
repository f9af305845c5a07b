package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// Gateway RESUME across a process restart. The gateway session (its ID,
// the last sequence number handled, the resume_gateway_url READY named)
// is kept in Account.Store; a process that starts again within Discord's
// resume window opens the gateway with RESUME, and the server replays
// every event sent meanwhile, then RESUMED. Refused (op 9), discordgo
// IDENTIFYs and READY comes: the missed messages are fetched from history
// then, as without a stored session.
//
// Writes are bounded: the record is written at READY and RESUMED, right
// after an edit, a deletion or a reaction was delivered (one write each,
// as a message's bookmark is), else at most every resumeSaveEvery, and at
// Close. A sequence that is stale (the process was killed) only makes the
// server replay the events after it again, some of which were delivered:
// messages, whose replayed MESSAGE_CREATE at or before its conversation's
// bookmark (written at every delivery) is not delivered again (see
// replayed), and typing, presence and member updates, which say the same
// again. Only a kill between an edit's (deletion's, reaction's) delivery
// and the write after it delivers that one again, which the XMPP side
// applies to the same effect; a message delivered twice the same way is
// one the Sink ignores (same RemoteID).
//
// The sequence written never passes an event not handled: it is recorded
// after the handlers ran (recordSeq), so one read while the adapter
// closes is replayed, not skipped; and while room events are held for
// rooms not joined again yet (held.go), it stays before the first of
// them (gw.pin).
//
// discordgo builds its state (guilds, channels, roles, DM channels) from
// READY and GUILD_CREATE, which a RESUME does not send again: before it
// opens with RESUME, the adapter builds that state over REST
// (rebuildState), so the replayed events find their conversations.
// Presences are not in it (REST has none): members show as the next
// PRESENCE_UPDATE says, as after a READY without them.

// resumeKey is where the gateway session is kept in the Store.
const resumeKey = "gateway/session"

// resumeSaveEvery bounds how often the sequence number is written.
const resumeSaveEvery = 5 * time.Second

// maxRebuildGuilds bounds the guilds whose state is fetched over REST
// before a RESUME (two requests each); an account in more IDENTIFYs.
const maxRebuildGuilds = 200

// closeResumable is the close code the adapter's Close sends: Discord
// invalidates a session closed with 1000 or 1001 ("Gateway Close Event
// Codes"), any other keeps it for a RESUME.
const closeResumable = 4000

// resumeRecord is the gateway session as stored.
type resumeRecord struct {
	Session string           `json:"session"`
	Seq     int64            `json:"seq"`
	URL     string           `json:"url,omitempty"` // READY's resume_gateway_url
	Intents discordgo.Intent `json:"intents"`       // granted at IDENTIFY
}

// loadResume reads the stored gateway session; ok is false without one.
func (a *adapter) loadResume(ctx context.Context) (resumeRecord, bool) {
	var r resumeRecord
	if a.store == nil {
		return r, false
	}
	v, err := a.store.Get(ctx, resumeKey)
	if err != nil {
		if !errors.Is(err, transports.ErrNotFound) {
			a.log.Warn("discord: reading the gateway session", "err", err)
		}
		return r, false
	}
	if len(v) == 0 || json.Unmarshal(v, &r) != nil || r.Session == "" || r.Seq < 0 || len(r.Session) > 256 {
		return r, false
	}
	return r, true
}

// saveResume writes the gateway session when the sequence moved since
// the last write (or always, with force).
func (a *adapter) saveResume(ctx context.Context, force bool) {
	if a.store == nil {
		return
	}
	a.mu.Lock()
	r := resumeRecord{Session: a.gw.session, Seq: a.gw.seq, URL: a.gw.url, Intents: a.gw.intents}
	if a.gw.pin > 0 && a.gw.pin < r.Seq {
		r.Seq = a.gw.pin
	}
	moved := r.Seq != a.gw.saved
	a.mu.Unlock()
	if r.Session == "" || r.Seq < 0 || !(moved || force) {
		return
	}
	v, _ := json.Marshal(r)
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.Timeout)
	defer cancel()
	if err := a.store.Put(ctx, resumeKey, v); err != nil {
		a.log.Warn("discord: saving the gateway session", "err", err)
		return
	}
	a.mu.Lock()
	a.gw.saved = r.Seq
	a.mu.Unlock()
}

// gatewaySession is what the adapter knows of its gateway session.
type gatewaySession struct {
	session string
	seq     int64 // the last dispatch whose handlers ran
	saved   int64 // the last seq written
	url     string
	intents discordgo.Intent
	// pin, while room events are held (held.go): the sequence before the
	// first of them, which the one written does not pass.
	pin       int64
	heldSince time.Time // when the first of them was held
	// urgent: an edit, a deletion or a reaction was delivered; the
	// sequence is written after its event.
	urgent bool
	// replaying: the session was opened with RESUME and its RESUMED
	// (or, refused, READY) has not come: events are the server's replay.
	replaying bool
}

// recordSeq notes a dispatch whose handlers ran (it is registered last,
// and discordgo runs the raw event's handlers after the typed ones);
// READY and RESUMED are written at once.
func (a *adapter) recordSeq(e *discordgo.Event) {
	if e.Operation != 0 || e.Sequence < 0 {
		return // Spacebar numbers READY 0: a session at 0 still resumes
	}
	a.mu.Lock()
	a.gw.seq = e.Sequence
	now := false
	switch e.Type {
	case "READY":
		var r struct {
			Session string `json:"session_id"`
			URL     string `json:"resume_gateway_url"`
		}
		if json.Unmarshal(e.RawData, &r) == nil {
			a.gw.session, a.gw.url = r.Session, r.URL
		}
		now = true
	case "RESUMED":
		now = true
	}
	force := now
	now = now || a.gw.urgent
	a.gw.urgent = false
	a.mu.Unlock()
	if now {
		a.saveResume(a.ctx, force)
	}
}

// news notes that an edit, a deletion or a reaction was delivered: the
// sequence is written after its event (recordSeq), so a stale one never
// replays it.
func (a *adapter) news() {
	a.mu.Lock()
	a.gw.urgent = true
	a.mu.Unlock()
}

// keepResume writes the sequence every resumeSaveEvery until Close
// (which writes the last one).
func (a *adapter) keepResume() {
	defer a.wg.Done()
	t := time.NewTicker(resumeSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
			a.expireHeld()
			a.saveResume(a.ctx, false)
		}
	}
}

// replayed reports whether m is a MESSAGE_CREATE the server replays
// after a RESUME from a stale sequence that an earlier process delivered
// already: at or before its conversation's bookmark.
func (a *adapter) replayed(m *discordgo.Message) bool {
	if !a.replaying() {
		return false
	}
	last := a.lastDelivered(a.ctx, m.ChannelID)
	return last != "" && !snowflakeLess(last, m.ID)
}

// replaying reports whether the events handled now are the server's
// replay after a RESUME from the store.
func (a *adapter) replaying() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gw.replaying
}

// resumeGateway is the websocket address discordgo dials for a RESUME at
// raw (READY's resume_gateway_url), "" (ask GET /gateway) when raw is
// not a websocket address the network may dial.
func (n *Network) resumeGateway(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	// A self-hosted server (server_url) may speak plain ws; Discord only
	// wss.
	if u.Scheme != "wss" && !(u.Scheme == "ws" && n.base != nil) {
		return ""
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/" // as discordgo's Gateway does
	}
	return u.String() + "?v=" + discordgo.APIVersion + "&encoding=json"
}

// rebuildState fills the session's state with what READY and GUILD_CREATE
// would have given an IDENTIFY: the account (me), its guilds with their
// roles and channels, and its DM channels (remembered as DMs).
func (a *adapter) rebuildState(ctx context.Context, me *discordgo.User) error {
	var guilds []*discordgo.UserGuild
	for after := ""; ; {
		page, err := a.s.UserGuilds(200, "", after, false, discordgo.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("listing guilds: %w", classify(err))
		}
		guilds = append(guilds, page...)
		if len(guilds) > maxRebuildGuilds {
			return fmt.Errorf("%w: more than %d guilds", transports.ErrLimit, maxRebuildGuilds)
		}
		if len(page) < 200 {
			break
		}
		after = page[len(page)-1].ID
	}
	var full []*discordgo.Guild
	for _, ug := range guilds {
		if ug == nil || !IsSnowflake(ug.ID) {
			continue
		}
		g, err := a.s.GuildWithCounts(ug.ID, discordgo.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("reading guild %s: %w", ug.ID, classify(err))
		}
		chans, err := a.s.GuildChannels(ug.ID, discordgo.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("listing guild %s's channels: %w", ug.ID, classify(err))
		}
		g.ID = ug.ID
		g.Channels = g.Channels[:0]
		for _, c := range chans {
			if c != nil {
				c.GuildID = ug.ID
				g.Channels = append(g.Channels, c)
			}
		}
		if g.MemberCount == 0 {
			g.MemberCount = g.ApproximateMemberCount
		}
		full = append(full, g)
	}
	// Discord lists no DM channels to a bot (an empty list): a DM
	// channel not listed is looked up over REST when its first event
	// comes (conversation), so a failed listing loses nothing either.
	var private []*discordgo.Channel
	body, err := a.s.RequestWithBucketID("GET", discordgo.EndpointUserChannels("@me"), nil, discordgo.EndpointUserChannels(""), discordgo.WithContext(ctx))
	if err == nil {
		err = json.Unmarshal(body, &private)
	}
	if err != nil {
		a.log.Debug("discord: DM channels not listed", "err", classify(err))
	}
	st := a.s.State
	st.Lock()
	cu := *me
	st.User = &cu
	st.Unlock()
	for _, g := range full {
		if err := st.GuildAdd(g); err != nil {
			return fmt.Errorf("%w: %v", transports.ErrUnavailable, err)
		}
	}
	for _, c := range private {
		if c == nil || (c.Type != discordgo.ChannelTypeDM && c.Type != discordgo.ChannelTypeGroupDM) {
			continue
		}
		if err := st.ChannelAdd(c); err != nil {
			return fmt.Errorf("%w: %v", transports.ErrUnavailable, err)
		}
		if c.Type != discordgo.ChannelTypeDM {
			continue
		}
		for _, u := range c.Recipients {
			if u != nil && u.ID != me.ID {
				a.rememberDM(c.ID, u.ID)
				break
			}
		}
	}
	return nil
}

// restore prepares s to open with the stored gateway session: the state
// rebuilt, the fields set. It reports whether the next Open RESUMEs.
func (a *adapter) restore(ctx context.Context, me *discordgo.User) bool {
	r, ok := a.loadResume(ctx)
	if !ok {
		return false
	}
	if err := a.rebuildState(ctx, me); err != nil {
		a.log.Info("discord: not resuming the gateway session: its state could not be rebuilt", "err", err)
		return false
	}
	if err := setResumable(a.s, r.Session, r.Seq, a.n.resumeGateway(r.URL)); err != nil {
		a.log.Error("discord: not resuming the gateway session", "err", err)
		return false
	}
	if r.Intents != 0 {
		a.s.Identify.Intents = r.Intents // an IDENTIFY after op 9 asks for what was granted
	}
	a.mu.Lock()
	a.gw = gatewaySession{session: r.Session, seq: r.Seq, saved: r.Seq, url: r.URL, intents: r.Intents, replaying: true}
	a.catchUpDue = true // refused: READY fetches what was missed
	a.mu.Unlock()
	return true
}

// forgetResume makes s IDENTIFY at its next Open: the stored session
// failed to open.
func (a *adapter) forgetResume() {
	if err := setResumable(a.s, "", 0, ""); err != nil {
		a.log.Error("discord: clearing the gateway session", "err", err)
	}
	a.mu.Lock()
	a.gw = gatewaySession{}
	a.catchUpDue = false
	a.mu.Unlock()
}

// knownConversations are the DM channels the state lists and the
// conversations the adapter knows, each once: what a refused RESUME
// fetches from history.
func (a *adapter) knownConversations() []string {
	out := append(a.privateChannels(), a.conversations()...)
	slices.Sort(out)
	return slices.Compact(out)
}
