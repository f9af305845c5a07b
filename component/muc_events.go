package component

import (
	"context"
	"encoding/xml"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// Legacy room events, as userSink.Deliver hands them over. They are owner
// work: they run on the user's owner goroutine, which alone touches the
// user's room state, and never wait for the legacy network.

// liveDelay is how old a live message's legacy timestamp must be before
// it is shown with a delay stamp: networks that stamp every message (IRCv3
// server-time) would otherwise make every message look delayed, and
// clients do not notify for delayed messages.
const liveDelay = 30 * time.Second

// roomMessageID is the XMPP ID of a room message: the user's own ID for
// the echo of their message, else the legacy ID, which is also its
// stanza-id, so that clients, which reference group chat messages by
// stanza-id (XEP-0461, XEP-0444), and the network agree.
func roomMessageID(ev *transports.MessageEvent) string {
	if ev.Own && ev.EchoOf != "" {
		return ev.EchoOf
	}
	return string(ev.RemoteID)
}

func (c *Component) mapRoomMessage(ctx context.Context, user string, room transports.ID, legacyID, xmppID string) {
	if legacyID == "" || xmppID == "" || legacyID == xmppID {
		// A room message's stanza-id is its legacy ID: nothing to store
		// (and no write per message per user on the hot path).
		return
	}
	if err := c.ids.Pair(ctx, user, c.net.Name(), string(room), legacyID, xmppID); err != nil {
		c.log.Warn("storing message ID", "err", err)
	}
}

// legacyRef maps an XMPP message reference in a room (a reply or reaction
// target) to the legacy ID: through the stored map, else as is, since
// room messages' stanza-ids are their legacy IDs.
func (c *Component) legacyRef(ctx context.Context, user string, room transports.ID, ref string) transports.RemoteID {
	if ref == "" {
		return ""
	}
	if id, err := c.ids.LegacyID(ctx, user, c.net.Name(), string(room), ref); err == nil {
		return transports.RemoteID(id)
	}
	return transports.RemoteID(ref)
}

// groupchatStanza is a room message for one resource.
func groupchatStanza(r *muc.Room, ev *transports.MessageEvent, to jid.JID, history bool) *stanza.Message {
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.Nick
	}
	id := roomMessageID(ev)
	if id == "" {
		id = newID()
	}
	body := ev.Body
	if ev.Action {
		body = "/me " + body
	}
	m := &stanza.Message{Type: "groupchat", ID: id, From: r.OccupantJID(nick), To: to.String(), Body: body}
	if !ev.Time.IsZero() && (history || time.Since(ev.Time) > liveDelay) {
		m.Delay = &stanza.Delay{From: r.JID.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	if ev.RemoteID != "" {
		m.StanzaID = &stanza.StanzaID{ID: string(ev.RemoteID), By: r.JID.String()}
	}
	if ev.Own && ev.EchoOf != "" {
		m.OriginID = &stanza.OriginID{ID: ev.EchoOf}
	}
	if ev.ReplyTo != "" {
		m.Extra = append(m.Extra, &stanza.Reply{ID: string(ev.ReplyTo)})
	}
	m.Extra = append(m.Extra, attachmentLinks(ev)...) // uploaded by userSink.Deliver
	return m
}

// roomMessageEvent relays a message said in a room to the user's joined
// resources, and archives it for the user when there is an archive
// (mam.go). With none joined (bouncer mode), the message is kept in the
// room's away backlog (without an archive: the archive keeps it then),
// replayed as history at the next join when the network has none, and a
// highlight also goes to the bare JID as a private message from the
// speaker, which the user's server stores offline.
func (c *Component) roomMessageEvent(ctx context.Context, user jid.JID, ev *transports.MessageEvent) {
	u := user.String()
	_, r := c.room(user, ev.From)
	if r == nil {
		c.log.Debug("room message for a room the user is not in", "user", u, "room", string(ev.From))
		return
	}
	sid := string(ev.RemoteID) // the stanza-id
	if c.cfg.Archive != nil {
		sid = c.archiveRoomMessage(ctx, u, r, ev)
	}
	if r.Empty() {
		if c.cfg.Archive != nil {
			r.ArchivedAway()
		} else {
			kept := *ev
			if kept.Time.IsZero() {
				kept.Time = time.Now() // history is shown with its time
			}
			r.KeepAway(kept)
		}
		if ev.Mention && !ev.Own {
			c.offlineMention(ctx, user, ev)
		}
		return
	}
	c.mapRoomMessage(ctx, u, ev.From, string(ev.RemoteID), roomMessageID(ev))
	c.broadcast(ctx, r, sid, func(to jid.JID) any {
		m := groupchatStanza(r, ev, to, false)
		if m.StanzaID == nil && sid != "" { // the archive's own ID
			m.StanzaID = &stanza.StanzaID{ID: sid, By: r.JID.String()}
		}
		return m
	})
}

// offlineMention sends a highlight to the bare JID, through the outbox.
func (c *Component) offlineMention(ctx context.Context, user jid.JID, ev *transports.MessageEvent) {
	if !c.incomingAllowed(user) {
		return // counted; the user is told at the end of the window
	}
	room, err := c.legacyJID(ev.From)
	if err != nil {
		c.log.Warn("room without a JID", "room", string(ev.From), "err", err)
		return
	}
	from := muc.OccupantJID(room, ev.Nick)
	body := ev.Body
	if ev.Action {
		body = "/me " + body
	}
	id := string(ev.RemoteID)
	if id == "" {
		id = newID()
	}
	m := &stanza.Message{Type: "chat", ID: id, From: from, To: user.String(), Body: body,
		Extra: []any{&muc.UserX{}, stanza.StoreHint()}}
	if !ev.Time.IsZero() {
		m.Delay = &stanza.Delay{From: room.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	c.queueOrSend(ctx, user, m)
}

// queueOrSend puts a stanza in the outbox, or sends it when storage fails.
func (c *Component) queueOrSend(ctx context.Context, user jid.JID, m *stanza.Message) {
	err := c.queue(ctx, m)
	if err == nil {
		return
	}
	if err2 := c.send(ctx, m); err2 != nil {
		c.log.Error("message from the legacy network lost", "user", user.String(), "store_err", err, "send_err", err2)
	}
}

// occupantEvent mirrors a change of the room's occupants.
func (c *Component) occupantEvent(ctx context.Context, user jid.JID, ev *transports.OccupantEvent) {
	ur, r := c.room(user, ev.Room)
	if r == nil {
		return
	}
	if ev.Self {
		c.selfOccupant(ctx, user, ur, r, ev)
		return
	}
	ch := r.ApplyOccupant(ev)
	o := ch.Occupant
	switch ch.Kind {
	case muc.Left:
		item := &muc.Item{Affiliation: muc.AffName(o.Affiliation), Role: "none", Reason: ev.Reason}
		if ev.By != "" {
			item.Actor = &muc.Actor{Nick: ev.By}
		}
		var codes []int
		switch {
		case ev.Banned:
			item.Affiliation = "outcast"
			codes = append(codes, muc.StatusBanned)
		case ev.Kicked:
			codes = append(codes, muc.StatusKicked)
		}
		status := ""
		if !ev.Kicked && !ev.Banned {
			status = ev.Reason // a quit or part message
		}
		c.broadcast(ctx, r, "", func(to jid.JID) any {
			it := *item
			return &stanza.Presence{Type: "unavailable", From: r.OccupantJID(o.Nick), To: to.String(), Status: status,
				Extra: []any{&muc.UserX{Item: &it, Status: muc.Statuses(codes...)}}}
		})
	case muc.Renamed:
		c.broadcast(ctx, r, "", func(to jid.JID) any {
			return &stanza.Presence{Type: "unavailable", From: r.OccupantJID(ch.OldNick), To: to.String(),
				Extra: []any{&muc.UserX{Item: &muc.Item{Affiliation: muc.AffName(o.Affiliation), Role: muc.PresentRole(o.Role), Nick: o.Nick},
					Status: muc.Statuses(muc.StatusNewNick)}}}
		})
		c.broadcast(ctx, r, "", func(to jid.JID) any { return occupantPresence(r, o, to) })
	case muc.Present:
		c.broadcast(ctx, r, "", func(to jid.JID) any { return occupantPresence(r, o, to) })
	}
}

// selfOccupant mirrors a change of the user's own occupant.
func (c *Component) selfOccupant(ctx context.Context, user jid.JID, ur *muc.Rooms, r *muc.Room, ev *transports.OccupantEvent) {
	switch {
	case ev.Left:
		// Out of the room for a reason of the network's.
		item := &muc.Item{Reason: ev.Reason}
		if ev.By != "" {
			item.Actor = &muc.Actor{Nick: ev.By}
		}
		var codes []int
		switch {
		case ev.Banned:
			codes = append(codes, muc.StatusBanned)
		case ev.Kicked:
			codes = append(codes, muc.StatusKicked)
		default:
			codes = append(codes, muc.StatusTechnical)
		}
		bouncer := r.Empty()
		ur.Remove(r)
		if !ur.Anon {
			id := r.ID
			c.later(user.String(), func(ctx context.Context) { c.muc.ForgetRoom(ctx, user, id) })
		}
		// Joining resources are not told: JoinRoom fails, the join error
		// tells them.
		for _, rr := range r.DropResources() {
			it := *item
			p := selfUnavailable(r, r.Nick, rr.Full, "", &it, codes...)
			if ev.Banned {
				it.Affiliation = "outcast"
			}
			c.mucSend(ctx, p)
		}
		if bouncer && (ev.Kicked || ev.Banned) {
			what := "kicked from"
			if ev.Banned {
				what = "banned from"
			}
			text := "You were " + what + " " + string(r.ID)
			if ev.By != "" {
				text += " by " + ev.By
			}
			if ev.Reason != "" {
				text += ": " + ev.Reason
			}
			c.queueOrSend(ctx, user, &stanza.Message{Type: "chat", ID: newID(), From: r.JID.String(), To: user.String(), Body: text})
		}
		if ur.Anon && ur.Len() == 0 {
			c.later(user.String(), func(ctx context.Context) { c.maybeStopAnon(ctx, user) })
		}
	case ev.NewNick != "":
		old, show := r.RenameSelf(ev.NewNick)
		if !show {
			return
		}
		for _, rr := range r.Told() {
			c.mucSend(ctx, &stanza.Presence{Type: "unavailable", From: r.OccupantJID(old), To: rr.Full.String(),
				Extra: []any{&muc.UserX{Item: &muc.Item{Affiliation: muc.AffName(r.Affiliation), Role: muc.PresentRole(r.Role), Nick: r.Nick},
					Status: muc.Statuses(muc.StatusSelf, muc.StatusNewNick)}}})
			c.mucSend(ctx, selfPresence(r, rr.Full))
		}
	default:
		if !r.UpdateSelf(ev) {
			return
		}
		for _, rr := range r.InPhase(muc.Joined) {
			c.mucSend(ctx, selfPresence(r, rr.Full))
		}
	}
}

func (c *Component) roomReadyEvent(ctx context.Context, user jid.JID, ev *transports.RoomReadyEvent) {
	if _, r := c.room(user, ev.Room); r != nil {
		c.roomReady(ctx, r, ev)
	}
}

// subjectEvent records the subject and shows a change to the joined
// resources; those joining get it at the end of their join.
func (c *Component) subjectEvent(ctx context.Context, user jid.JID, ev *transports.SubjectEvent) {
	_, r := c.room(user, ev.Room)
	if r == nil {
		return
	}
	r.SetSubject(*ev)
	for _, rr := range r.InPhase(muc.Joined) {
		c.mucSend(ctx, subjectMessage(r, rr.Full))
	}
}

// typingEvent shows a typing notification in a room.
func (c *Component) typingEvent(ctx context.Context, user jid.JID, ev *transports.TypingEvent) {
	_, r := c.room(user, ev.From)
	if r == nil {
		return
	}
	if !r.Ready() || ev.Nick == r.Nick {
		return
	}
	for _, rr := range r.InPhase(muc.Joined) {
		c.mucSend(ctx, &stanza.Message{Type: "groupchat", From: r.OccupantJID(ev.Nick), To: rr.Full.String(),
			Extra: []any{&stanza.ChatState{XMLName: xml.Name{Space: nsChat, Local: stanza.ChatStateName(ev.State)}}, stanza.NoStoreHint()}})
	}
}

// reactionEvent shows a reaction (XEP-0444): the reactor's whole set of
// reactions to the message, which the component keeps per room.
func (c *Component) reactionEvent(ctx context.Context, user jid.JID, ev *transports.ReactionEvent) {
	_, r := c.room(user, ev.From)
	if r == nil {
		return
	}
	if ev.Target == "" {
		return
	}
	set := r.React(ev.Target, ev.Nick, ev.Reaction, ev.Remove)
	c.broadcast(ctx, r, "", func(to jid.JID) any {
		return &stanza.Message{Type: "groupchat", ID: newID(), From: r.OccupantJID(ev.Nick), To: to.String(),
			Extra: []any{&stanza.Reactions{ID: string(ev.Target), Reactions: set}, stanza.StoreHint()}}
	})
}

// roomNotice shows a notice about a room as a message from the room
// itself; it reports false when no resource is in the room.
func (c *Component) roomNotice(ctx context.Context, user jid.JID, ev *transports.NoticeEvent) bool {
	_, r := c.room(user, ev.About)
	if r == nil {
		return false
	}
	if r.Empty() {
		return false
	}
	c.broadcast(ctx, r, "", func(to jid.JID) any {
		return &stanza.Message{Type: "groupchat", ID: newID(), From: r.JID.String(), To: to.String(), Body: ev.Text}
	})
	return true
}

// room returns the user's rooms and the room id, or a nil room when the
// user is not in it. Owner work.
func (c *Component) room(user jid.JID, id transports.ID) (*muc.Rooms, *muc.Room) {
	ur := c.muc.Rooms(user.String())
	if ur == nil {
		return nil, nil
	}
	return ur, ur.Get(id)
}
