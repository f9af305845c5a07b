package muc

import (
	"context"
	"encoding/xml"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// Legacy room events, as the core's sink hands them over. They are owner
// work: they run on the user's owner goroutine, which alone touches the
// user's room state, and never wait for the legacy network (storage and
// the stream, bounded, are all they wait for).

// LiveDelay is how old a live message's legacy timestamp must be before
// it is shown with a delay stamp: networks that stamp every message (IRCv3
// server-time) would otherwise make every message look delayed, and
// clients do not notify for delayed messages.
const LiveDelay = 30 * time.Second

// mapRoomMessage pairs a room message's legacy ID with the XMPP id the
// user's resources know it by, where they differ; an ID the gateway made
// (a replayed message's) is no legacy ID, and is never paired.
func (s *Service) mapRoomMessage(ctx context.Context, user string, room transports.ID, legacyID, xmppID string) {
	if legacyID == "" || xmppID == "" || legacyID == xmppID || s.MadeID(legacyID) {
		// A room message's stanza-id is its legacy ID: nothing to store
		// (and no write per message per user on the hot path).
		return
	}
	if err := s.core.PairID(ctx, user, room, legacyID, xmppID); err != nil {
		s.core.Logger().Warn("storing message ID", "err", err)
	}
}

// MessageEvent relays a message said in a room to the user's joined
// resources, and archives it for the user when there is an archive
// (mam.go). With none joined (bouncer mode), the message is kept in the
// room's away backlog (without an archive: the archive keeps it then),
// replayed as history at the next join when the network has none, and a
// highlight also goes to the bare JID as a private message from the
// speaker, which the user's server stores offline. Owner work, like every
// event method here; the ctx bounds its storage and stream writes.
func (s *Service) MessageEvent(ctx context.Context, user jid.JID, ev *transports.MessageEvent) {
	u := user.String()
	_, r := s.room(user, ev.From)
	if r == nil {
		// Networks whose sessions see every room (Discord) mention the
		// user in rooms they never joined here: the mention still
		// reaches them, the rest of the room's chatter does not.
		if ev.Mention && !ev.Own {
			s.offlineMention(ctx, user, ev)
			return
		}
		s.core.Logger().Debug("room message for a room the user is not in", "user", u, "room", string(ev.From))
		return
	}
	// The stanza-id: the legacy ID, else one the gateway makes and knows
	// again (MadeID), so that a reference to the message never reaches
	// the network as a legacy ID.
	sid := string(ev.RemoteID)
	switch {
	case s.core.Archive() != nil:
		sid = s.archiveRoomMessage(ctx, u, r, ev)
	case sid == "":
		sid = s.madeID()
	}
	if r.Empty() {
		if s.core.Archive() != nil {
			r.ArchivedAway()
		} else {
			kept := *ev
			if kept.Time.IsZero() {
				kept.Time = time.Now() // history is shown with its time
			}
			if kept.RemoteID == "" {
				// Replayed with the stanza-id made here, as an
				// archived message is (archivedEvent).
				kept.RemoteID = transports.RemoteID(sid)
			}
			r.KeepAway(kept)
		}
		if ev.Mention && !ev.Own {
			s.offlineMention(ctx, user, ev)
		}
		return
	}
	s.mapRoomMessage(ctx, u, ev.From, string(ev.RemoteID), roomMessageID(ev))
	s.broadcast(ctx, r, sid, func(to jid.JID) any {
		m := groupchatStanza(r, ev, to, false)
		if m.StanzaID == nil && sid != "" { // the gateway's own ID
			m.StanzaID = &stanza.StanzaID{ID: sid, By: r.JID.String()}
		}
		if roomMessageID(ev) == "" {
			m.ID = sid // one ID per message, whichever a client names
		}
		return m
	})
}

// offlineMention sends a highlight to the bare JID, through the outbox.
func (s *Service) offlineMention(ctx context.Context, user jid.JID, ev *transports.MessageEvent) {
	if !s.core.IncomingAllowed(user) {
		return // counted; the user is told at the end of the window
	}
	room, err := s.core.LegacyJID(ev.From)
	if err != nil {
		s.core.Logger().Warn("room without a JID", "room", string(ev.From), "err", err)
		return
	}
	from := OccupantJID(room, ev.Nick)
	body := ev.Body
	if ev.Action {
		body = "/me " + body
	}
	id := string(ev.RemoteID)
	if id == "" {
		id = newID()
	}
	m := &stanza.Message{Type: "chat", ID: id, From: from, To: user.String(), Body: body,
		Extra: []any{&UserX{}, stanza.StoreHint()}}
	if !ev.Time.IsZero() {
		m.Delay = &stanza.Delay{From: room.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	s.core.QueueOrSend(ctx, user, m)
}

// OccupantEvent mirrors a change of the room's occupants, the user's
// own included (kicked, renamed, new role). Owner work.
func (s *Service) OccupantEvent(ctx context.Context, user jid.JID, ev *transports.OccupantEvent) {
	ur, r := s.room(user, ev.Room)
	if r == nil {
		return
	}
	if ev.Self {
		s.selfOccupant(ctx, user, ur, r, ev)
		return
	}
	ch := r.ApplyOccupant(ev)
	o := ch.Occupant
	switch ch.Kind {
	case Left:
		item := &Item{Affiliation: AffName(o.Affiliation), Role: "none", Reason: ev.Reason}
		if ev.By != "" {
			item.Actor = &Actor{Nick: ev.By}
		}
		var codes []int
		switch {
		case ev.Banned:
			item.Affiliation = "outcast"
			codes = append(codes, StatusBanned)
		case ev.Kicked:
			codes = append(codes, StatusKicked)
		}
		status := ""
		if !ev.Kicked && !ev.Banned {
			status = ev.Reason // a quit or part message
		}
		s.broadcast(ctx, r, "", func(to jid.JID) any {
			it := *item
			return &stanza.Presence{Type: "unavailable", From: r.OccupantJID(o.Nick), To: to.String(), Status: status,
				Extra: withOccupantID([]any{&UserX{Item: &it, Status: Statuses(codes...)}}, r, o.OccupantID, o.Nick)}
		})
	case Renamed:
		s.broadcast(ctx, r, "", func(to jid.JID) any {
			return &stanza.Presence{Type: "unavailable", From: r.OccupantJID(ch.OldNick), To: to.String(),
				Extra: withOccupantID([]any{&UserX{Item: &Item{Affiliation: AffName(o.Affiliation), Role: PresentRole(o.Role), Nick: o.Nick},
					Status: Statuses(StatusNewNick)}}, r, o.OccupantID, ch.OldNick)}
		})
		s.broadcast(ctx, r, "", s.occupantShown(user.String(), r, o))
	case Present:
		s.broadcast(ctx, r, "", s.occupantShown(user.String(), r, o))
	}
}

// selfOccupant mirrors a change of the user's own occupant.
func (s *Service) selfOccupant(ctx context.Context, user jid.JID, ur *Rooms, r *Room, ev *transports.OccupantEvent) {
	switch {
	case ev.Left:
		// Out of the room for a reason of the network's.
		item := &Item{Reason: ev.Reason}
		if ev.By != "" {
			item.Actor = &Actor{Nick: ev.By}
		}
		var codes []int
		switch {
		case ev.Banned:
			codes = append(codes, StatusBanned)
		case ev.Kicked:
			codes = append(codes, StatusKicked)
		default:
			codes = append(codes, StatusTechnical)
		}
		bouncer := r.Empty()
		ur.Remove(r)
		if !ur.Anon {
			id := r.ID
			s.core.Later(user.String(), func(ctx context.Context) { s.ForgetRoom(ctx, user, id) })
		}
		// Joining resources are not told: JoinRoom fails, the join error
		// tells them.
		for _, rr := range r.DropResources() {
			it := *item
			p := selfUnavailable(r, r.Nick, rr.Full, "", &it, codes...)
			if ev.Banned {
				it.Affiliation = "outcast"
			}
			s.core.Send(ctx, p)
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
			s.core.QueueOrSend(ctx, user, &stanza.Message{Type: "chat", ID: newID(), From: r.JID.String(), To: user.String(), Body: text})
		}
		if ur.Anon && ur.Len() == 0 {
			s.core.Later(user.String(), func(ctx context.Context) { s.maybeStopAnon(ctx, user) })
		}
	case ev.NewNick != "":
		old, show := r.RenameSelf(ev.NewNick)
		if !show {
			return
		}
		for _, rr := range r.Told() {
			s.core.Send(ctx, &stanza.Presence{Type: "unavailable", From: r.OccupantJID(old), To: rr.Full.String(),
				Extra: withOccupantID([]any{&UserX{Item: &Item{Affiliation: AffName(r.Affiliation), Role: PresentRole(r.Role), Nick: r.Nick},
					Status: Statuses(StatusSelf, StatusNewNick)}}, r, r.OccupantID, old)})
			s.core.Send(ctx, selfPresence(r, rr.Full))
		}
	default:
		if !r.UpdateSelf(ev) {
			return
		}
		for _, rr := range r.InPhase(Joined) {
			s.core.Send(ctx, selfPresence(r, rr.Full))
		}
	}
}

// RoomReadyEvent records the user's own state in a room they joined and
// shows the joining resources the occupants. Owner work.
func (s *Service) RoomReadyEvent(ctx context.Context, user jid.JID, ev *transports.RoomReadyEvent) {
	if _, r := s.room(user, ev.Room); r != nil {
		s.roomReady(ctx, r, ev)
	}
}

// SubjectEvent records the subject and shows a change to the joined
// resources; those joining get it at the end of their join. Owner work.
func (s *Service) SubjectEvent(ctx context.Context, user jid.JID, ev *transports.SubjectEvent) {
	_, r := s.room(user, ev.Room)
	if r == nil {
		return
	}
	r.SetSubject(*ev)
	for _, rr := range r.InPhase(Joined) {
		s.core.Send(ctx, subjectMessage(r, rr.Full))
	}
}

// TypingEvent shows a typing notification in a room. Owner work.
func (s *Service) TypingEvent(ctx context.Context, user jid.JID, ev *transports.TypingEvent) {
	_, r := s.room(user, ev.From)
	if r == nil {
		return
	}
	if !r.Ready() || ev.Nick == r.Nick {
		return
	}
	for _, rr := range r.InPhase(Joined) {
		s.core.Send(ctx, &stanza.Message{Type: "groupchat", From: r.OccupantJID(ev.Nick), To: rr.Full.String(),
			Extra: []any{&stanza.ChatState{XMLName: xml.Name{Space: stanza.NSChat, Local: stanza.ChatStateName(ev.State)}}, stanza.NoStoreHint()}})
	}
}

// ReactionEvent shows a reaction (XEP-0444): the reactor's whole set of
// reactions to the message, which the service keeps per room. Owner
// work.
func (s *Service) ReactionEvent(ctx context.Context, user jid.JID, ev *transports.ReactionEvent) {
	_, r := s.room(user, ev.From)
	if r == nil {
		return
	}
	if ev.Target == "" {
		return
	}
	nick := ev.Nick
	if ev.Own {
		nick = r.Nick // the user's own, from another client: their set too
	}
	set := r.React(ev.Target, nick, ev.Reaction, ev.Remove)
	s.broadcast(ctx, r, "", func(to jid.JID) any {
		return &stanza.Message{Type: "groupchat", ID: newID(), From: r.OccupantJID(nick), To: to.String(),
			Extra: []any{&stanza.Reactions{ID: string(ev.Target), Reactions: set}, stanza.StoreHint()}}
	})
}

// Notice shows a notice about a room as a message from the room
// itself; it reports false when no resource is in the room (the caller
// delivers it otherwise). Owner work.
func (s *Service) Notice(ctx context.Context, user jid.JID, ev *transports.NoticeEvent) bool {
	_, r := s.room(user, ev.About)
	if r == nil {
		return false
	}
	if r.Empty() {
		return false
	}
	s.broadcast(ctx, r, "", func(to jid.JID) any {
		return &stanza.Message{Type: "groupchat", ID: newID(), From: r.JID.String(), To: to.String(), Body: ev.Text}
	})
	return true
}
