package muc

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// Corrections (XEP-0308), retractions (XEP-0424) and moderations
// (XEP-0425) of room messages, as legacy events show them: a room
// message's stanza-id is its legacy ID; its id is the user's own for
// their echoed messages (paired in the message-ID map), else also the
// legacy ID. What the user sends is in groupchat.go.

// EditEvent shows an edit in a room to the joined resources as a
// correction from its author; with none joined it is kept for the next
// join as a marked message. Owner work.
func (s *Service) EditEvent(ctx context.Context, user jid.JID, ev *transports.EditEvent) {
	_, r := s.room(user, ev.From)
	if r == nil {
		return
	}
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.Nick
	}
	ref := s.roomRef(ctx, user.String(), ev.From, ev.Target)
	sid := s.archiveEdit(ctx, user.String(), r, nick, ref, ev) // archived.go
	if r.Empty() {
		r.KeepAway(transports.MessageEvent{From: ev.From, Room: true, Nick: nick, Own: ev.Own,
			Body: stanza.CorrectionMarker + ev.Body, Time: keptTime(ev.Time)})
		return
	}
	s.broadcast(ctx, r, "", func(to jid.JID) any {
		m := &stanza.Message{Type: "groupchat", ID: newID(), From: r.OccupantJID(nick), To: to.String(), Body: ev.Body}
		if sid != "" {
			m.StanzaID = &stanza.StanzaID{ID: sid, By: r.JID.String()}
		}
		if ref != "" {
			m.Extra = append(m.Extra, &stanza.Replace{ID: ref})
		} else {
			m.Body = stanza.CorrectionMarker + m.Body
		}
		return m
	})
}

// RetractEvent shows a deletion in a room to the joined resources: a
// retraction from its author, or a moderation from the room (XEP-0425);
// with none joined a note is kept for the next join. Owner work.
func (s *Service) RetractEvent(ctx context.Context, user jid.JID, ev *transports.RetractEvent) {
	_, r := s.room(user, ev.From)
	if r == nil || ev.Target == "" {
		return
	}
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.Nick
	}
	sid := s.archiveRetract(ctx, user.String(), r, nick, ev) // archived.go
	if r.Empty() {
		body, by := "[deleted a message]", nick
		if ev.Moderated {
			body, by = "[deleted a message as moderator", ev.By
			if nick != "" {
				body += " (it was " + nick + "'s)"
			}
			if ev.Reason != "" {
				body += ": " + ev.Reason
			}
			body += "]"
		}
		if by == "" {
			by = nick // a moderator the network does not name
		}
		if by == "" {
			s.core.Logger().Debug("a deletion by nobody the network names, while away", "user", user.String(), "room", string(ev.From))
			return
		}
		r.KeepAway(transports.MessageEvent{From: ev.From, Room: true, Nick: by, Body: body, Time: keptTime(time.Time{})})
		return
	}
	el := &stanza.Retract{ID: string(ev.Target)} // a room message's stanza-id is its legacy ID
	from := r.OccupantJID(nick)
	fallback := stanza.RetractFallback
	if ev.Moderated {
		from = r.JID.String()
		el.Moderated = &stanza.Moderated{}
		if ev.By != "" {
			el.Moderated.By = r.OccupantJID(ev.By)
		}
		el.Reason = ev.Reason
		fallback = moderatedFallback
	} else if nick == "" {
		from = r.JID.String() // the network names no author: the room says it
	}
	s.broadcast(ctx, r, "", func(to jid.JID) any {
		e := *el
		m := &stanza.Message{Type: "groupchat", ID: newID(), From: from, To: to.String(), Body: fallback,
			Extra: []any{&e, &stanza.Fallback{For: stanza.NSRetract}, stanza.StoreHint()}}
		if sid != "" {
			m.StanzaID = &stanza.StanzaID{ID: sid, By: r.JID.String()}
		}
		return m
	})
}

// roomRef is the id under which the user's resources know a room
// message: the user's own id for their echoed messages (in the map),
// else the legacy ID.
func (s *Service) roomRef(ctx context.Context, user string, room transports.ID, target transports.RemoteID) string {
	if ref := s.core.XMPPRef(ctx, user, room, target); ref != "" {
		return ref
	}
	return string(target)
}

// keptTime is the time a message kept while away is shown with.
func keptTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
