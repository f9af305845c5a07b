package component

import (
	"context"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// userSink turns one user's legacy events into stanzas.
type userSink struct {
	c    *Component
	user jid.JID

	// last is the last state shown, to tell the user about changes once
	// rather than at every retry.
	mu   sync.Mutex
	last transports.State
}

func (c *Component) sinkFor(user string) transports.Sink {
	j, err := jid.Parse(user)
	if err != nil {
		// Registrations are stored under parsed bare JIDs.
		panic("component: sink for invalid JID " + user)
	}
	return &userSink{c: c, user: j}
}

// Deliver implements transports.Sink. Messages go through the outbox, so
// they survive a dropped stream and a restart; presence is state and is
// sent (or recomputed later) directly.
func (s *userSink) Deliver(ev transports.Event) {
	c := s.c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch ev := ev.(type) {
	case *transports.MessageEvent:
		c.stats.fromLegacy.Add(1)
		if ev.Room {
			c.roomMessageEvent(ctx, s.user, ev)
			return
		}
		if !c.incomingAllowed(s.user) {
			return // counted; the user is told at the end of the window
		}
		s.message(ctx, ev)
	case *transports.OccupantEvent:
		c.occupantEvent(ctx, s.user, ev)
	case *transports.RoomReadyEvent:
		c.roomReadyEvent(ctx, s.user, ev)
	case *transports.SubjectEvent:
		c.subjectEvent(ctx, s.user, ev)
	case *transports.TypingEvent:
		if ev.Room {
			c.typingEvent(ctx, s.user, ev)
		}
	case *transports.ReactionEvent:
		if ev.Room {
			c.reactionEvent(ctx, s.user, ev)
		}
	case *transports.PresenceEvent:
		from, err := c.legacyJID(ev.From)
		if err != nil {
			c.log.Warn("legacy contact without a JID", "id", ev.From, "err", err)
			return
		}
		p := &outPresence{From: from.String(), To: s.user.String(), Show: ev.Presence.Show.String(), Status: ev.Presence.Status}
		if ev.Presence.Show == transports.Offline {
			p.Type, p.Show = "unavailable", ""
		}
		c.sendQuiet(ctx, p)
	case *transports.StateEvent:
		c.roomsOnState(ctx, s.user, ev.Status)
		s.state(ctx, ev.Status)
		if ev.Status.State == transports.StateConnected {
			user := s.user
			c.workers.do(user.String(), func() { c.restoreRooms(c.ctx(), user) })
		}
	case *transports.NoticeEvent:
		if ev.About != "" && c.roomNotice(ctx, s.user, ev) {
			return
		}
		if !c.incomingAllowed(s.user) {
			return // counted; the user is told at the end of the window
		}
		from := c.domain
		if ev.About != "" {
			if j, err := c.legacyJID(ev.About); err == nil {
				from = j
			}
		}
		s.queue(ctx, &outMessage{Type: "chat", From: from.String(), To: s.user.String(), Body: ev.Text})
	}
}

func (s *userSink) message(ctx context.Context, ev *transports.MessageEvent) {
	c := s.c
	from, err := c.legacyJID(ev.From)
	if err != nil {
		// Never drop: tell the user what arrived and from whom.
		s.queue(ctx, &outMessage{Type: "chat", From: c.domain.String(), To: s.user.String(),
			Body: "Message from " + string(ev.From) + ": " + ev.Body})
		return
	}
	m := &outMessage{
		Type:    "chat",
		ID:      newID(),
		From:    from.String(),
		To:      s.user.String(), // the bare JID: the server picks the resource or stores it offline
		Body:    ev.Body,
		Subject: ev.Subject,
		Thread:  ev.Thread,
	}
	if ev.Action {
		m.Body = "/me " + ev.Body
	}
	if !ev.Time.IsZero() {
		m.Delay = &delayElem{From: c.domain.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	if ev.Nick != "" {
		m.Nick = &nickElem{Nick: ev.Nick} // XEP-0172: the contact's display name
	}
	if len(ev.Attachments) > 0 {
		if ev.RemoteID != "" {
			if _, err := c.ids.XMPPID(ctx, s.user.String(), c.net.Name(), string(ev.From), string(ev.RemoteID)); err == nil {
				return // a replay: delivered before, files and all (queueOnce would drop it after the uploads)
			}
		}
		text, oob := c.attach(c.ctx(), s.user, ev.Attachments) // uploads take longer than a delivery
		m.Body += text
		m.Extra = append(m.Extra, oob...)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second) // fresh time for storage
		defer cancel()
	}
	if ev.RemoteID != "" {
		// Exactly once: a network delivering this message again (after a
		// crash, from an older bookmark) is ignored.
		_, err := c.queueOnce(ctx, s.user.String(), ev.From, string(ev.RemoteID), m.ID, m)
		if err == nil {
			return
		}
		c.log.Warn("outbox", "err", err)
	}
	s.queue(ctx, m)
}

// state shows a connection state change: always as the gateway's
// presence, and as a message from the gateway when the session failed, so
// the failure is never silent.
func (s *userSink) state(ctx context.Context, st transports.Status) {
	c := s.c
	s.mu.Lock()
	prev := s.last
	if st.State != transports.StateConnecting {
		s.last = st.State // a retry's "connecting" is not news
	}
	s.mu.Unlock()
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
	s.queue(ctx, &outMessage{Type: "chat", From: c.domain.String(), To: s.user.String(), Body: text})
}

func (s *userSink) queue(ctx context.Context, m *outMessage) {
	err := s.c.queue(ctx, m)
	if err == nil {
		return
	}
	// Storage failed: hand it to the stream directly rather than lose it.
	if err2 := s.c.send(ctx, m); err2 != nil {
		s.c.log.Error("message from the legacy network lost", "user", s.user.String(), "store_err", err, "send_err", err2)
	}
}
