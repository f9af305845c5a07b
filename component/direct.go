package component

import (
	"context"
	"errors"
	"log/slog"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/direct"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/transports"
)

// One-to-one chats have what rooms have, where the network claims it:
// chat states, reactions, corrections and retractions, both ways; package
// direct owns those flows and the stanzas they make. directCore is the
// bridge core as direct.Service sees it (direct.Core): a view of the
// component, so the service's needs are named in one place and
// *Component gains no methods for it.
//
// The user's own messages sent from another legacy client cannot come
// from the user's JID: a component may only send as its own domain
// unless the server grants it XEP-0356 message permission (then they
// would be carbons, <sent/>). Not yet: the Prosody the tests run has no
// mod_privilege. Until then they arrive from the contact's JID, their
// body starting with ownMarker, never as if the contact had written them.
type directCore struct{ c *Component }

var _ direct.Core = directCore{}

// ownMarker starts the body of the user's own message (or edit, or
// deletion) that reached the contact from another legacy client.
const ownMarker = direct.OwnMarker

func (d directCore) NetworkName() string { return d.c.net.Identity().Name }

func (d directCore) Capabilities() transports.Capabilities { return d.c.netCaps() }

func (d directCore) Domain() jid.JID { return d.c.domain }

func (d directCore) LegacyJID(id transports.ID) (jid.JID, error) { return d.c.legacyJID(id) }

func (d directCore) LegacyID(j jid.JID) (transports.ID, error) { return legacyID(j) }

func (d directCore) Kind(id transports.ID) (transports.IDKind, error) { return d.c.kindOf(id) }

func (d directCore) Registered(ctx context.Context, user jid.JID) bool {
	return d.c.registered(ctx, user)
}

func (d directCore) Adapter(user string) transports.Adapter { return d.c.sup.Adapter(user) }

func (d directCore) Status(user string) transports.Status { return d.c.sup.Status(user) }

func (d directCore) Admit(s *stanza.In, job func(ctx context.Context)) {
	d.c.admit(s, func() { job(d.c.ctx()) })
}

func (d directCore) ReplyError(s *stanza.In, e *stanzaerr.Error) { d.c.replyError(s.Element, e) }

func (d directCore) WaitToSend(ctx context.Context, user string) error {
	return d.c.limiter(user).Wait(ctx)
}

func (d directCore) Retract(ctx context.Context, a transports.Adapter, user string, to transports.ID, ref string) *stanzaerr.Error {
	return d.c.retract(ctx, a, user, to, false, ref)
}

func (d directCore) MessageRef(ctx context.Context, user string, to transports.ID, ref string) transports.RemoteID {
	return d.c.messageRef(ctx, user, to, false, ref)
}

func (d directCore) XMPPRef(ctx context.Context, user string, conv transports.ID, target transports.RemoteID) string {
	return d.c.xmppRef(ctx, user, conv, target)
}

func (d directCore) MaxBody() int { return d.c.maxBody() }

func (d directCore) Correct(ctx context.Context, a transports.Adapter, user string, to transports.ID, ref, body string) (bool, string, *stanzaerr.Error) {
	return d.c.correct(ctx, a, user, to, false, ref, body)
}

func (d directCore) SendMessage(ctx context.Context, s *stanza.In, a transports.Adapter, msg transports.Message, files bool,
	done func(context.Context, transports.RemoteID, error)) {
	var shared []sharedFile
	if files {
		shared = sharedFiles(s.Element, d.c.maxAttachments())
	}
	d.c.sendThen(ctx, s.From.Bare(), a, msg, shared, done)
}

func (d directCore) Pair(ctx context.Context, user string, to transports.ID, rid transports.RemoteID, xid string) error {
	return d.c.ids.Pair(ctx, user, d.c.net.Name(), string(to), string(rid), xid)
}

func (d directCore) AwaitReceipt(ctx context.Context, user string, to transports.ID, rid transports.RemoteID, p direct.PendingReceipt) error {
	return d.c.ids.Await(ctx, user, d.c.net.Name(), string(to), string(rid), msgid.Receipt{
		StanzaID: p.StanzaID, OriginID: p.OriginID, Sender: p.To, Contact: p.From, Requested: p.Requested})
}

func (d directCore) AwaitedReceipt(ctx context.Context, user string, to transports.ID, rid transports.RemoteID) (direct.PendingReceipt, bool, error) {
	r, err := d.c.ids.Awaited(ctx, user, d.c.net.Name(), string(to), string(rid))
	if errors.Is(err, msgid.ErrNoMapping) {
		return direct.PendingReceipt{}, false, nil
	}
	if err != nil {
		return direct.PendingReceipt{}, false, err
	}
	return direct.PendingReceipt{StanzaID: r.StanzaID, OriginID: r.OriginID, From: r.Contact, To: r.Sender, Requested: r.Requested}, true, nil
}

func (d directCore) ReceiptResolved(ctx context.Context, user string, to transports.ID, rid transports.RemoteID) error {
	return d.c.ids.Resolved(ctx, user, d.c.net.Name(), string(to), string(rid))
}

func (d directCore) SendQuiet(ctx context.Context, m *stanza.Message) { d.c.sendQuiet(ctx, m) }

func (d directCore) Deliver(ctx context.Context, m *stanza.Message) error {
	if err := d.c.queue(ctx, m); err != nil {
		if err2 := d.c.send(ctx, m); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	return nil
}

func (d directCore) Count(ok bool) {
	if ok {
		d.c.stats.toLegacy.Add(1)
	} else {
		d.c.stats.legacyErrors.Add(1)
	}
}

func (d directCore) Logger() *slog.Logger { return d.c.log }

// typing shows a contact's typing notification; it is not stored.
func (s *userSink) typing(ctx context.Context, ev *transports.TypingEvent) {
	if m := s.c.direct.Typing(s.user, ev); m != nil {
		s.c.sendQuiet(ctx, m)
	}
}

// reaction shows a contact's reaction as their whole set of reactions to
// the message (XEP-0444), or, when the message is unknown, as text.
func (s *userSink) reaction(ctx context.Context, ev *transports.ReactionEvent) {
	m := s.c.direct.Reaction(ctx, s.user, ev)
	if m == nil {
		return
	}
	if ev.Own {
		// The user's own, from another legacy client: sent as theirs
		// where the server allows, else marked.
		if contact, err := jid.Parse(m.From); err == nil && m.Body == "" {
			if p, _ := s.ownAsCarbon(m, contact); p != nil {
				s.queue(ctx, p)
				return
			}
		}
		m = direct.OwnReactionText(m, ev)
	}
	s.queue(ctx, m)
}

// receipt handles the network's report on a message the user sent
// (XEP-0184, deferred receipts). Owner work.
func (s *userSink) receipt(ctx context.Context, ev *transports.ReceiptEvent) {
	s.resolved(s.c.direct.Receipt(ctx, s.user, ev))
}

// resolved notes, for Component.Deliver, a receipt that could not be
// stored.
func (s *userSink) resolved(err error) {
	if err != nil && s.lost == nil {
		s.lost = err
	}
}
