package component

import (
	"context"
	"encoding/xml"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Corrections (XEP-0308), retractions (XEP-0424) and moderated
// retractions in rooms (XEP-0425), both ways through the message-ID map.
//
// The IDs: a one-to-one message is known by its XMPP id (the user's
// origin-id, or the id the component gave a legacy message), paired with
// its legacy ID in the map. A room message's stanza-id is its legacy ID;
// its id is the user's own for their echoed messages (paired in the map),
// else also the legacy ID. Corrections name the message's id, retractions
// in rooms its stanza-id (XEP-0424 §5), so both resolve through
// legacyRef.
//
// A network that cannot edit gets a correction as a new message that
// starts with correctionMarker; a retraction is refused with a text and
// nothing is sent, its fallback body least of all.

const (
	nsCorrect  = "urn:xmpp:message-correct:0"
	nsRetract  = "urn:xmpp:message-retract:1"
	nsModerate = "urn:xmpp:message-moderate:1"
	nsFallback = "urn:xmpp:fallback:0"
)

// correctionMarker starts a correction that a network without edits gets
// as a new message, and a legacy edit the user's client cannot apply
// (its original is unknown), so that nobody takes it for a new remark.
const correctionMarker = "✎ "

// retractFallback is the body of a retraction for clients without
// XEP-0424 support.
const retractFallback = "[deleted a message; your client does not support retractions]"

type replaceElem struct {
	XMLName xml.Name `xml:"urn:xmpp:message-correct:0 replace"`
	ID      string   `xml:"id,attr"`
}

// retractElem is XEP-0424's <retract/>; Moderated and Reason are set for
// a moderator's retraction (XEP-0425).
type retractElem struct {
	XMLName   xml.Name       `xml:"urn:xmpp:message-retract:1 retract"`
	ID        string         `xml:"id,attr"`
	Moderated *moderatedElem `xml:",omitempty"`
	Reason    string         `xml:"reason,omitempty"`
}

type moderatedElem struct {
	XMLName xml.Name `xml:"urn:xmpp:message-moderate:1 moderated"`
	By      string   `xml:"by,attr,omitempty"`
}

// fallbackElem marks the body as a fallback for clients without the
// feature For (XEP-0428).
type fallbackElem struct {
	XMLName xml.Name `xml:"urn:xmpp:fallback:0 fallback"`
	For     string   `xml:"for,attr"`
}

// --- XMPP → legacy ---------------------------------------------------------

// correct relays a correction (XEP-0308) of the message ref in conversation
// to: with the network's Editor where the capabilities claim it and the
// original's legacy ID is known, reporting edited; otherwise it returns
// the body to send as a new message, marked. room says whether ref may be
// a legacy ID itself (a room's stanza-id). A refusal of the network is
// returned as a stanza error.
func (c *Component) correct(ctx context.Context, a transports.Adapter, user string, to transports.ID, room bool, ref, body string) (edited bool, marked string, serr *stanzaerr.Error) {
	ed, ok := a.(transports.Editor)
	if !ok || !c.netCaps().Corrections {
		return false, correctionMarker + body, nil
	}
	target := c.messageRef(ctx, user, to, room, ref)
	if target == "" {
		return false, correctionMarker + body, nil // the original is unknown: say it is a correction
	}
	ectx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ed.Edit(ectx, to, target, body); err != nil {
		return false, "", stanzaerr.FromLegacy(err)
	}
	return true, "", nil
}

// retract relays a retraction (XEP-0424) of the message ref in
// conversation to, or refuses it: feature-not-implemented where the
// network cannot delete, item-not-found where the message is unknown.
// Nothing is ever sent as a new message.
func (c *Component) retract(ctx context.Context, a transports.Adapter, user string, to transports.ID, room bool, ref string) *stanzaerr.Error {
	rt, ok := a.(transports.Retractor)
	if !ok || !c.netCaps().Retractions {
		return stanzaerr.New("cancel", "feature-not-implemented",
			"%s cannot delete messages: the message stays there, and nothing was sent.", c.net.Identity().Name)
	}
	if ref == "" {
		return stanzaerr.New("modify", "bad-request", "The retract element has no id.")
	}
	target := c.messageRef(ctx, user, to, room, ref)
	if target == "" {
		return stanzaerr.New("cancel", "item-not-found", "The gateway does not know that message (too old, or not sent through it); nothing was deleted.")
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := rt.Retract(rctx, to, target); err != nil {
		return stanzaerr.FromLegacy(err)
	}
	return nil
}

// messageRef is the legacy ID of the message an XMPP reference ref names
// in conversation to, or "": through the map, else, in a room, ref
// itself (a stanza-id is the legacy ID).
func (c *Component) messageRef(ctx context.Context, user string, to transports.ID, room bool, ref string) transports.RemoteID {
	if room {
		return c.legacyRef(ctx, user, to, ref)
	}
	if ref == "" {
		return ""
	}
	id, err := c.ids.LegacyID(ctx, user, c.net.Name(), string(to), ref)
	if err != nil {
		return ""
	}
	return transports.RemoteID(id)
}

// moderate handles a moderator's request to retract someone's message in
// a room (XEP-0425 <moderate/> in an IQ set to the room).
func (c *Component) moderate(s *stanza.In, q *node, id transports.ID) {
	user := s.From.Bare()
	u := user.String()
	c.admit(s, func() {
		ctx := c.ctx()
		ready := false
		c.own(ctx, u, func(context.Context) {
			if _, r := c.room(user, id); r != nil {
				ready = r.Ready()
			}
		})
		if !ready {
			c.replyError(s.Element, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
			return
		}
		caps := c.netCaps()
		mod, ok := c.sup.Adapter(u).(transports.MessageModerator)
		if !ok || !caps.Moderation || !caps.Retractions {
			c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "%s does not let moderators delete messages.", c.net.Identity().Name))
			return
		}
		if q.Child(nsRetract, "retract") == nil {
			c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "Only retraction is supported as a moderation."))
			return
		}
		target := c.legacyRef(ctx, u, id, q.Attr("id"))
		if target == "" {
			c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "The moderate element has no id."))
			return
		}
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := mod.ModerateRetract(mctx, id, target, q.ChildText(nsModerate, "reason"))
		cancel()
		if err != nil {
			c.replyError(s.Element, stanzaerr.FromLegacy(err))
			return
		}
		c.result(s, nil)
	})
}

// --- legacy → XMPP ---------------------------------------------------------

// xmppRef is the XMPP id of the legacy message target in conversation
// conv, or "" when the map does not know it.
func (c *Component) xmppRef(ctx context.Context, user string, conv transports.ID, target transports.RemoteID) string {
	if target == "" {
		return ""
	}
	id, err := c.ids.XMPPID(ctx, user, c.net.Name(), string(conv), string(target))
	if err != nil {
		return ""
	}
	return id
}

// edit shows a one-to-one edit as a correction of the original, or, when
// the original is unknown, as a new message marked as a correction.
func (s *userSink) edit(ctx context.Context, ev *transports.EditEvent) {
	c := s.c
	from, err := c.legacyJID(ev.From)
	if err != nil {
		s.queue(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: s.user.String(),
			Body: "Correction from " + string(ev.From) + ": " + ev.Body})
		return
	}
	m := &stanza.Message{Type: "chat", ID: newID(), From: from.String(), To: s.user.String(), Body: ev.Body}
	m.OriginID = &stanza.OriginID{ID: m.ID}
	if ref := c.xmppRef(ctx, s.user.String(), ev.From, ev.Target); ref != "" {
		m.Extra = append(m.Extra, &replaceElem{ID: ref})
	} else {
		m.Body = correctionMarker + m.Body
	}
	if ev.Own {
		m.Body = ownMarker + m.Body
	}
	if !ev.Time.IsZero() && time.Since(ev.Time) > liveDelay {
		m.Delay = &stanza.Delay{From: c.domain.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	s.queue(ctx, m)
}

// retracted shows a one-to-one deletion as a retraction (with a fallback
// body), or, when the original is unknown, as a note that a message was
// deleted.
func (s *userSink) retracted(ctx context.Context, ev *transports.RetractEvent) {
	c := s.c
	from, err := c.legacyJID(ev.From)
	if err != nil {
		s.queue(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: s.user.String(),
			Body: string(ev.From) + " deleted a message."})
		return
	}
	m := &stanza.Message{Type: "chat", ID: newID(), From: from.String(), To: s.user.String(), Body: retractFallback}
	if ref := c.xmppRef(ctx, s.user.String(), ev.From, ev.Target); ref != "" {
		m.Extra = append(m.Extra, &retractElem{ID: ref}, &fallbackElem{For: nsRetract}, stanza.StoreHint())
	} else {
		m.Body = "[deleted a message]"
	}
	if ev.Own {
		m.Body = ownMarker + m.Body
	}
	s.queue(ctx, m)
}

// roomEditEvent shows an edit in a room to the joined resources as a
// correction from its author; with none joined it is kept for the next
// join as a marked message.
func (c *Component) roomEditEvent(ctx context.Context, user jid.JID, ev *transports.EditEvent) {
	_, r := c.room(user, ev.From)
	if r == nil {
		return
	}
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.Nick
	}
	if r.Empty() {
		r.KeepAway(transports.MessageEvent{From: ev.From, Room: true, Nick: nick, Own: ev.Own,
			Body: correctionMarker + ev.Body, Time: keptTime(ev.Time)})
		return
	}
	ref := roomRef(ctx, c, user.String(), ev.From, ev.Target)
	c.broadcast(ctx, r, "", func(to jid.JID) any {
		m := &stanza.Message{Type: "groupchat", ID: newID(), From: r.OccupantJID(nick), To: to.String(), Body: ev.Body}
		if ref != "" {
			m.Extra = append(m.Extra, &replaceElem{ID: ref})
		} else {
			m.Body = correctionMarker + m.Body
		}
		return m
	})
}

// roomRetractEvent shows a deletion in a room to the joined resources: a
// retraction from its author, or a moderation from the room (XEP-0425);
// with none joined a note is kept for the next join.
func (c *Component) roomRetractEvent(ctx context.Context, user jid.JID, ev *transports.RetractEvent) {
	_, r := c.room(user, ev.From)
	if r == nil || ev.Target == "" {
		return
	}
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.Nick
	}
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
			c.log.Debug("a deletion by nobody the network names, while away", "user", user.String(), "room", string(ev.From))
			return
		}
		r.KeepAway(transports.MessageEvent{From: ev.From, Room: true, Nick: by, Body: body, Time: keptTime(time.Time{})})
		return
	}
	el := &retractElem{ID: string(ev.Target)} // a room message's stanza-id is its legacy ID
	from := r.OccupantJID(nick)
	fallback := retractFallback
	if ev.Moderated {
		from = r.JID.String()
		el.Moderated = &moderatedElem{}
		if ev.By != "" {
			el.Moderated.By = r.OccupantJID(ev.By)
		}
		el.Reason = ev.Reason
		fallback = "[a moderator deleted a message; your client does not support retractions]"
	} else if nick == "" {
		from = r.JID.String() // the network names no author: the room says it
	}
	c.broadcast(ctx, r, "", func(to jid.JID) any {
		e := *el
		return &stanza.Message{Type: "groupchat", ID: newID(), From: from, To: to.String(), Body: fallback,
			Extra: []any{&e, &fallbackElem{For: nsRetract}, stanza.StoreHint()}}
	})
}

// roomRef is the id under which the user's resources know a room
// message: the user's own id for their echoed messages (in the map),
// else the legacy ID.
func roomRef(ctx context.Context, c *Component, user string, room transports.ID, target transports.RemoteID) string {
	if ref := c.xmppRef(ctx, user, room, target); ref != "" {
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
