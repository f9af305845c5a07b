package component

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// mucCore is the bridge core as the MUC service sees it (muc.Core): a
// view of the component, so the service's needs are named in one place
// and *Component gains no methods for it. Its methods keep the contracts
// muc.Core states.
type mucCore struct{ c *Component }

var _ muc.Core = mucCore{}

// liveDelay is how old a live message's legacy timestamp must be before
// it is shown with a delay stamp: the MUC service's rule, which one-to-one
// messages follow too.
const liveDelay = muc.LiveDelay

// connectWait bounds the wait for a legacy session to come up when a
// join needs one.
const connectWait = 30 * time.Second

func (m mucCore) Adapter(user string) transports.Adapter { return m.c.sup.Adapter(user) }

func (m mucCore) Capabilities() transports.Capabilities { return m.c.netCaps() }

func (m mucCore) NetworkName() string { return m.c.net.Identity().Name }

func (m mucCore) NetworkKey() string { return m.c.net.Name() }

func (m mucCore) Domain() jid.JID { return m.c.domain }

func (m mucCore) LegacyJID(id transports.ID) (jid.JID, error) { return m.c.legacyJID(id) }

func (m mucCore) Own(ctx context.Context, user string, fn func(ctx context.Context)) bool {
	return m.c.own(ctx, user, fn)
}

func (m mucCore) Post(user string, fn func(ctx context.Context)) {
	m.c.owners.Post(m.c.ctx(), user, fn)
}

func (m mucCore) Later(user string, job func(ctx context.Context)) { m.c.later(user, job) }

func (m mucCore) After(d time.Duration, user string, job func(ctx context.Context)) {
	m.c.after(d, user, job)
}

// Send writes a room stanza to the stream, or to the outbox when the
// stream is down.
func (m mucCore) Send(ctx context.Context, v any) {
	c := m.c
	err := c.send(ctx, v)
	if err == nil {
		return
	}
	if err2 := c.queue(ctx, v); err2 != nil {
		c.log.Warn("room stanza lost", "send_err", err, "store_err", err2)
	}
}

func (m mucCore) SendQuiet(ctx context.Context, v any) { m.c.sendQuiet(ctx, v) }

func (m mucCore) Write(ctx context.Context, v any) error {
	err := m.c.send(ctx, v)
	if errors.Is(err, errStanzaTooLarge) {
		return fmt.Errorf("%w: %w", muc.ErrTooLarge, err)
	}
	return err
}

// QueueOrSend puts a stanza in the outbox, or sends it when storage fails.
func (m mucCore) QueueOrSend(ctx context.Context, user jid.JID, msg *stanza.Message) {
	c := m.c
	err := c.queue(ctx, msg)
	if err == nil {
		return
	}
	if err2 := c.send(ctx, msg); err2 != nil {
		c.log.Error("message from the legacy network lost", "user", user.String(), "store_err", err, "send_err", err2)
	}
}

func (m mucCore) ReplyError(s *stanza.In, e *stanzaerr.Error) { m.c.replyError(s.Element, e) }

func (m mucCore) Result(s *stanza.In, payload any) { m.c.result(s, payload) }

func (m mucCore) JoinError(s *stanza.In, e *stanzaerr.Error) { m.c.mucError(s, e) }

// RoomAdapter returns the user's adapter for a join, starting a session
// when there is none: the registered one, or an anonymous one. It runs in
// the user's lane: it may wait for the session to come up.
func (m mucCore) RoomAdapter(ctx context.Context, user jid.JID, room transports.ID, nick string) (transports.Adapter, *stanzaerr.Error) {
	c := m.c
	u := user.String()
	if a := c.sup.Adapter(u); a != nil {
		return a, nil
	}
	name := c.net.Identity().Name
	if !c.sup.Running(u) {
		if c.registered(ctx, user) {
			c.startUser(ctx, user)
		} else {
			an, ok := c.net.(transports.AnonymousNetwork)
			if !ok || !c.netCaps().AnonymousJoin {
				return nil, stanzaerr.New("auth", "registration-required", "Register with %s first to join rooms.", c.domain)
			}
			acct, err := an.AnonymousAccount(u, room, nick)
			if err != nil {
				return nil, stanzaerr.FromLegacy(err)
			}
			if !c.own(ctx, u, func(context.Context) { c.muc.User(u).Anon = true }) {
				return nil, stanzaerr.New("wait", "service-unavailable", "The gateway is shutting down.")
			}
			c.sup.Start(acct)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if a := c.sup.Adapter(u); a != nil {
			return a, nil
		}
		st := c.sup.Status(u)
		if st.State == transports.StateBadCredentials {
			return nil, stanzaerr.New("auth", "not-authorized", "%s refused the login: %s", name, stanzaerr.Detail(st.Text))
		}
		if !c.sup.Running(u) {
			return nil, stanzaerr.New("wait", "service-unavailable", "You are not connected to %s.", name)
		}
		select {
		case <-wctx.Done():
			text := "Could not connect to " + name + " in time"
			if st.Text != "" {
				text += ": " + stanzaerr.Detail(st.Text)
			}
			return nil, stanzaerr.New("wait", "remote-server-timeout", "%s.", text)
		case <-tick.C:
		}
	}
}

func (m mucCore) Registered(ctx context.Context, user jid.JID) bool { return m.c.registered(ctx, user) }

func (m mucCore) StayConnected(settings map[string]string) bool { return m.c.stayConnected(settings) }

func (m mucCore) Online(user string) bool { return m.c.presence.Online(user) }

func (m mucCore) Replayed(s *stanza.In) bool { return m.c.replays.is(s.Element) }

func (m mucCore) Stop(user string) {
	m.c.settle(m.c.ctx(), user) // the messages on their way first; an error: shutting down
	m.c.sup.Stop(user)
}

func (m mucCore) RoomsPerUser() int { return m.c.roomsPerUser() }

func (m mucCore) MaxBody() int { return m.c.maxBody() }

func (m mucCore) WaitSend(ctx context.Context, user string) error { return m.c.limiter(user).Wait(ctx) }

func (m mucCore) IncomingAllowed(user jid.JID) bool { return m.c.incomingAllowed(user) }

func (m mucCore) CountSent(ok bool) {
	if ok {
		m.c.stats.toLegacy.Add(1)
	} else {
		m.c.stats.legacyErrors.Add(1)
	}
}

func (m mucCore) Body(el *xmltree.Element) (string, bool) {
	body, hasBody := "", false
	if b := el.Child("", "body"); b != nil {
		body, hasBody = b.Text, true
	}
	return withLinks(body, hasBody, sharedFiles(el, m.c.maxAttachments()))
}

func (m mucCore) SendWithFiles(ctx context.Context, user jid.JID, a transports.Adapter, msg transports.Message, el *xmltree.Element,
	done func(context.Context, transports.RemoteID, error)) {
	var shared []sharedFile
	if el != nil {
		shared = sharedFiles(el, m.c.maxAttachments())
	}
	m.c.sendThen(ctx, user, a, msg, shared, done)
}

func (m mucCore) Correct(ctx context.Context, a transports.Adapter, user string, room transports.ID, ref, body string) (bool, string, *stanzaerr.Error) {
	return m.c.correct(ctx, a, user, room, true, ref, body)
}

func (m mucCore) Retract(ctx context.Context, a transports.Adapter, user string, room transports.ID, ref string) *stanzaerr.Error {
	return m.c.retract(ctx, a, user, room, true, ref)
}

func (m mucCore) PairID(ctx context.Context, user string, room transports.ID, legacyID, xmppID string) error {
	if legacyID == "" {
		return m.c.ids.Unnamed(ctx, user, m.c.net.Name(), string(room), xmppID)
	}
	return m.c.ids.Pair(ctx, user, m.c.net.Name(), string(room), legacyID, xmppID)
}

func (m mucCore) LegacyRef(ctx context.Context, user string, room transports.ID, ref string) transports.RemoteID {
	return m.c.legacyRef(ctx, user, room, ref)
}

func (m mucCore) XMPPRef(ctx context.Context, user string, conv transports.ID, target transports.RemoteID) string {
	return m.c.xmppRef(ctx, user, conv, target)
}

func (m mucCore) Archive() *archive.Archive { return m.c.cfg.Archive }

func (m mucCore) OccupantPhoto(user string, room transports.ID, nick, occupantID string) (string, bool) {
	return m.c.occupantPhoto(user, room, nick, occupantID)
}

func (m mucCore) Settings(ctx context.Context, user string) (map[string]string, error) {
	return m.c.reg.Settings(ctx, user, m.c.net.Name())
}

func (m mucCore) SetSettings(ctx context.Context, user string, settings map[string]string) error {
	return m.c.reg.SetSettings(ctx, user, m.c.net.Name(), settings)
}

func (m mucCore) Logger() *slog.Logger { return m.c.log }

// legacyRef maps an XMPP message reference in a room (a reply or reaction
// target) to the legacy ID: through the stored map, else as is, since
// room messages' stanza-ids are their legacy IDs; "" for a stanza-id the
// gateway made for a message the network gave no ID (muc.Service.MadeID),
// which the network never issued.
func (c *Component) legacyRef(ctx context.Context, user string, room transports.ID, ref string) transports.RemoteID {
	if ref == "" || c.muc.MadeID(ref) {
		return ""
	}
	c.settle(ctx, user) // the user's messages in flight are paired first
	if id, err := c.ids.LegacyID(ctx, user, c.net.Name(), string(room), ref); err == nil {
		return transports.RemoteID(id)
	}
	return transports.RemoteID(ref)
}

// roomIDKey signs the stanza-ids the MUC service makes for room messages
// the network gave no ID (muc.IDKey): derived from the component's
// secret, so it is the same after a restart (the archive keeps those IDs)
// and known to no network.
func roomIDKey(domain, secret string) []byte {
	sum := sha256.Sum256([]byte("switchboard room stanza-id\x00" + domain + "\x00" + secret))
	return sum[:]
}
