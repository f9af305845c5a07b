package component

import (
	"context"
	"errors"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// userSink turns one user's legacy events into stanzas.
type userSink struct {
	c    *Component
	user jid.JID

	// last is the last state shown, to tell the user about changes once
	// rather than at every retry. Owner work only.
	last transports.State
	// oneEvent marks a sink Component.Deliver made for one event; ran
	// and lost tell it whether the event was handled (or was a replay)
	// and what could be neither stored nor sent. Written by owner work
	// (and, for oneEvent only, by the caller of Deliver).
	oneEvent bool
	ran      bool
	lost     error
}

func (c *Component) sinkFor(user string) transports.Sink {
	j, err := jid.Parse(user)
	if err != nil {
		// Registrations are stored under parsed bare JIDs.
		panic("component: sink for invalid JID " + user)
	}
	return &userSink{c: c, user: j}
}

// Deliver implements transports.Sink. The event is owner work: it runs on
// the user's owner goroutine, in order with the user's other events and
// with the state steps of their stanzas, and Deliver returns once it ran,
// so that what must survive is in the outbox by then. Only the uploads of
// a message's files (slow, and touching no state) run before, on the
// caller's goroutine. Messages go through the outbox, so they survive a
// dropped stream and a restart; presence is state and is sent (or
// recomputed later) directly.
func (s *userSink) Deliver(ev transports.Event) {
	c := s.c
	if m, ok := ev.(*transports.MessageEvent); ok && len(m.Attachments) > 0 && (!m.Room || s.inRoom(m.From)) {
		// A room the user's session is not in shows nothing (handle
		// drops the event), so its files are not fetched.
		if ev = s.upload(m); ev == nil {
			if s.oneEvent {
				s.ran = true
			}
			return // a replay, delivered before
		}
	}
	// Not cancelled with the component: an adapter closing while the
	// component stops still delivers what it read last (its owner runs
	// until every adapter is closed), and that is kept in the outbox for
	// the next run, never lost. Bounded all the same.
	c.own(context.WithoutCancel(c.ctx()), s.user.String(), func(octx context.Context) {
		// Most events only check the bound: no timer unless waited on.
		ctx, cancel := withLazyDeadline(octx, 10*time.Second)
		defer cancel()
		s.handle(ctx, ev)
		s.ran = true
	})
}

// inRoom reports whether the user's session is in room, asking the
// user's owner goroutine from the caller's.
func (s *userSink) inRoom(room transports.ID) bool {
	in := false
	s.c.own(s.c.ctx(), s.user.String(), func(context.Context) {
		in = s.c.muc.Room(s.user, room) != nil
	})
	return in
}

// upload streams a message's files to where the user can fetch them and
// returns the event to relay: a copy whose Body names the files (links,
// and those that did not arrive with the reason) and whose Attachments
// are the uploaded files, each with its download URL, from which the
// stanzas' out-of-band links are made (stanza.Links). The echo of the
// user's own message keeps the links of the files they sent
// (echofiles.go): nothing is fetched or uploaded again. nil means the
// message was delivered before (a replay), files and all.
func (s *userSink) upload(ev *transports.MessageEvent) *transports.MessageEvent {
	c := s.c
	if ev.RemoteID != "" && !ev.Room {
		ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
		_, err := c.ids.XMPPID(ctx, s.user.String(), c.net.Name(), string(ev.From), string(ev.RemoteID))
		cancel()
		if err == nil {
			return nil // queueOnce would drop it, but after the uploads
		}
	}
	atts := ev.Attachments
	var text string
	var links []transports.Attachment
	if ev.Own && ev.EchoOf != "" {
		// The user's own files: already on their upload service.
		if sent := c.sent.take(s.user.String(), ev.From, ev.EchoOf, time.Now()); sent != nil {
			links, atts = reuseSent(sent, atts)
			for _, l := range links {
				text += "\n" + l.URL
			}
		}
	}
	more, uploaded := c.attach(c.ctx(), s.user, atts)
	out := *ev
	out.Body += text + more
	out.Attachments = append(links, uploaded...)
	return &out
}

// handle turns one event into stanzas. Owner work.
func (s *userSink) handle(ctx context.Context, ev transports.Event) {
	c := s.c
	switch ev := ev.(type) {
	case *transports.MessageEvent:
		c.stats.fromLegacy.Add(1)
		if ev.Room {
			c.muc.MessageEvent(ctx, s.user, ev)
			return
		}
		if !c.incomingAllowed(s.user) {
			return // counted; the user is told at the end of the window
		}
		s.message(ctx, ev)
	case *transports.OccupantEvent:
		c.muc.OccupantEvent(ctx, s.user, ev)
	case *transports.RoomReadyEvent:
		c.muc.RoomReadyEvent(ctx, s.user, ev)
	case *transports.SubjectEvent:
		c.muc.SubjectEvent(ctx, s.user, ev)
	case *transports.TypingEvent:
		if ev.Room {
			c.muc.TypingEvent(ctx, s.user, ev)
		} else {
			s.typing(ctx, ev)
		}
	case *transports.ReactionEvent:
		if ev.Room {
			c.muc.ReactionEvent(ctx, s.user, ev)
		} else if c.incomingAllowed(s.user) {
			s.reaction(ctx, ev)
		}
	case *transports.EditEvent:
		if ev.Room {
			c.muc.EditEvent(ctx, s.user, ev)
		} else if c.incomingAllowed(s.user) {
			s.edit(ctx, ev)
		}
	case *transports.RetractEvent:
		if ev.Room {
			c.muc.RetractEvent(ctx, s.user, ev)
		} else if c.incomingAllowed(s.user) {
			s.retracted(ctx, ev)
		}
	case *transports.PresenceEvent:
		c.contacts.PresenceEvent(ctx, s.user, ev)
	case *transports.ProfileEvent:
		c.contacts.ProfileEvent(ctx, s.user, ev)
		if c.occupantProfiles() {
			// After the picture's hash (the contact's lane job, queued
			// first): the member's occupants show it.
			user := s.user
			c.later(user.String(), func(context.Context) {
				c.own(c.ctx(), user.String(), func(ctx context.Context) { c.muc.PhotosChanged(ctx, user) })
			})
		}
	case *transports.ContactEvent:
		c.contacts.ContactEvent(s.user, ev)
	case *transports.StateEvent:
		c.muc.OnState(ctx, s.user, ev.Status)
		s.state(ctx, ev.Status)
		if ev.Status.State == transports.StateConnected {
			user := s.user
			c.later(user.String(), func(ctx context.Context) { c.muc.RestoreRooms(ctx, user) })
			if c.netCaps().Contacts {
				c.later(user.String(), func(ctx context.Context) { c.contacts.Sync(ctx, user) })
			}
			if c.netCaps().WatchPresence {
				c.later(user.String(), func(ctx context.Context) { c.watchRoster(ctx, user) })
			}
		}
	case *transports.ReceiptEvent:
		s.receipt(ctx, ev) // receipts.go
	case *transports.NoticeEvent:
		s.notice(ctx, ev)
	}
}

// notice tells the user ev's text: in the room it is about when they are
// in it, else as a chat message from its contact or room (the gateway
// when none). An invitation it carries follows it.
func (s *userSink) notice(ctx context.Context, ev *transports.NoticeEvent) {
	c := s.c
	var invite *stanza.DirectInvite
	if ev.Invite != "" {
		if j, err := c.legacyJID(ev.Invite); err == nil {
			invite = &stanza.DirectInvite{JID: j.String(), Reason: ev.Text}
			withAddress := *ev
			withAddress.Text = ev.Text + " " + j.String()
			ev = &withAddress
		}
	}
	from := c.domain
	if ev.About != "" {
		if j, err := c.legacyJID(ev.About); err == nil {
			from = j
		}
	}
	if ev.About == "" || !c.muc.Notice(ctx, s.user, ev) {
		if !c.incomingAllowed(s.user) {
			return // counted; the user is told at the end of the window
		}
		s.queue(ctx, &stanza.Message{Type: "chat", From: from.String(), To: s.user.String(), Body: ev.Text})
	}
	if invite != nil {
		// To the bare JID, without a type (XEP-0249 §2): kept offline too.
		s.queue(ctx, &stanza.Message{ID: newID(), From: from.String(), To: s.user.String(), Extra: []any{invite}})
	}
}

func (s *userSink) message(ctx context.Context, ev *transports.MessageEvent) {
	c := s.c
	from, err := c.legacyJID(ev.From)
	if err != nil {
		// Never drop: tell the user what arrived and from whom.
		s.queue(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: s.user.String(),
			Body: "Message from " + string(ev.From) + ": " + ev.Body})
		return
	}
	m := &stanza.Message{
		Type:    "chat",
		ID:      newID(),
		From:    from.String(),
		To:      s.user.String(), // the bare JID: the server picks the resource or stores it offline
		Body:    ev.Body,
		Subject: ev.Subject,
		Thread:  ev.Thread,
	}
	m.OriginID = &stanza.OriginID{ID: m.ID} // what retractions name (XEP-0424)
	if ev.Action {
		m.Body = "/me " + ev.Body
	}
	if !ev.Time.IsZero() {
		m.Delay = &stanza.Delay{From: c.domain.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	if ev.Nick != "" && !ev.Own {
		m.Nick = &stanza.Nick{Nick: ev.Nick} // XEP-0172: the contact's display name
	}
	if ev.ReplyTo != "" {
		if ref := c.xmppRef(ctx, s.user.String(), ev.From, ev.ReplyTo); ref != "" {
			m.Extra = append(m.Extra, &stanza.Reply{ID: ref})
		}
	}
	m.Extra = append(m.Extra, stanza.Links(ev.Attachments)...)
	if ev.Own {
		if p, id := s.ownAsCarbon(m, from); p != nil {
			s.queueOnce(ctx, ev, id, p)
			return
		}
		// Sent by the user from another legacy client: never shown as
		// the contact's (see ownMarker).
		m.Body = ownMarker + m.Body
	}
	s.queueOnce(ctx, ev, m.ID, m)
}

// queueOnce queues v, the stanza that shows ev (its XMPP ID xmppID), once
// per legacy message: a network delivering ev again (after a crash, from
// an older bookmark) is ignored. An event without a legacy ID, or an
// outbox that failed, is queued (or sent) as it is.
func (s *userSink) queueOnce(ctx context.Context, ev *transports.MessageEvent, xmppID string, v any) {
	if ev.RemoteID != "" {
		_, err := s.c.queueOnce(ctx, s.user.String(), ev.From, string(ev.RemoteID), xmppID, v)
		if err == nil {
			return
		}
		s.c.log.Warn("outbox", "err", err)
	}
	s.queue(ctx, v)
}

// state shows a connection state change: always as the gateway's
// presence, and as a message from the gateway when the session failed, so
// the failure is never silent.
func (s *userSink) state(ctx context.Context, st transports.Status) {
	c := s.c
	prev := s.last
	if st.State != transports.StateConnecting {
		s.last = st.State // a retry's "connecting" is not news
	}
	c.sendGatewayPresence(ctx, s.user, st)
	name := c.net.Identity().Name
	var text string
	switch st.State {
	case transports.StateBadCredentials:
		text = name + " refused the login: " + stanzaerr.Detail(st.Text) + "\nRegister again with the right credentials (send \"register\")."
	case transports.StateTransientDisconnect:
		if prev == transports.StateTransientDisconnect {
			return
		}
		text = "Connection to " + name + " failed: " + stanzaerr.Detail(st.Text) + "\nRetrying at " + st.Retry.UTC().Format("15:04:05") + " UTC."
	case transports.StateConnected:
		if prev != transports.StateTransientDisconnect && prev != transports.StateBadCredentials {
			return
		}
		text = "Connected to " + name + " again."
	default:
		return
	}
	s.queue(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: s.user.String(), Body: text})
}

func (s *userSink) queue(ctx context.Context, m any) {
	err := s.c.queue(ctx, m)
	if err == nil {
		return
	}
	// Storage failed: hand it to the stream directly rather than lose it.
	if err2 := s.c.send(ctx, m); err2 != nil {
		s.lost = errors.Join(err, err2)
		s.c.log.Error("message from the legacy network lost", "user", s.user.String(), "store_err", err, "send_err", err2)
	}
}

// ownAsCarbon wraps m, the user's own one-to-one message written from
// another legacy client, to be sent as theirs: on their behalf, with
// their server's XEP-0356 message privilege, from their bare JID to the
// contact's, so their clients get it as a sent carbon (XEP-0280) and
// their archive keeps it. id is the signed ID the message gets, by which
// the server's echo to the contact's JID is known (route.go). nil where
// the server granted no such privilege: the caller then shows m marked
// (ownMarker).
func (s *userSink) ownAsCarbon(m *stanza.Message, contact jid.JID) (wrapped any, id string) {
	own := *m
	own.From, own.To = s.user.String(), contact.String()
	own.Nick = nil
	p := s.c.contacts.AsUser(s.user.String(), newID(), &own)
	if p == nil {
		return nil, ""
	}
	return p, own.ID
}
