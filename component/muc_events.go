package component

import (
	"context"
	"encoding/xml"
	"time"

	"mellium.im/xmpp/jid"

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
func (c *Component) groupchatStanza(r *mucRoom, ev *transports.MessageEvent, to jid.JID, history bool) *outMessage {
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.nick
	}
	id := roomMessageID(ev)
	if id == "" {
		id = newID()
	}
	body := ev.Body
	if ev.Action {
		body = "/me " + body
	}
	m := &outMessage{Type: "groupchat", ID: id, From: r.occupantJID(nick), To: to.String(), Body: body}
	if !ev.Time.IsZero() && (history || time.Since(ev.Time) > liveDelay) {
		m.Delay = &delayElem{From: r.jid.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	if ev.RemoteID != "" {
		m.StanzaID = &stanzaID{ID: string(ev.RemoteID), By: r.jid.String()}
	}
	if ev.Own && ev.EchoOf != "" {
		m.OriginID = &originID{ID: ev.EchoOf}
	}
	if ev.ReplyTo != "" {
		m.Extra = append(m.Extra, &replyElem{ID: string(ev.ReplyTo)})
	}
	return m
}

// roomMessageEvent relays a message said in a room to the user's joined
// resources. With none joined (bouncer mode), the message is kept in the
// room's away backlog, replayed as history at the next join when the
// network has none, and a highlight also goes to the bare JID as a private
// message from the speaker, which the user's server stores offline.
func (c *Component) roomMessageEvent(ctx context.Context, user jid.JID, ev *transports.MessageEvent) {
	u := user.String()
	_, r := c.room(user, ev.From)
	if r == nil {
		c.log.Debug("room message for a room the user is not in", "user", u, "room", string(ev.From))
		return
	}
	if len(r.res) == 0 {
		kept := *ev
		if kept.Time.IsZero() {
			kept.Time = time.Now() // history is shown with its time
		}
		r.away.add(kept)
		if ev.Mention && !ev.Own {
			c.offlineMention(ctx, user, ev)
		}
		return
	}
	c.mapRoomMessage(ctx, u, ev.From, string(ev.RemoteID), roomMessageID(ev))
	c.broadcast(ctx, r, string(ev.RemoteID), func(to jid.JID) any {
		return c.groupchatStanza(r, ev, to, false)
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
	r := &mucRoom{jid: room}
	from := r.occupantJID(ev.Nick)
	body := ev.Body
	if ev.Action {
		body = "/me " + body
	}
	id := string(ev.RemoteID)
	if id == "" {
		id = newID()
	}
	m := &outMessage{Type: "chat", ID: id, From: from, To: user.String(), Body: body,
		Extra: []any{&mucUserX{}, storeHint()}}
	if !ev.Time.IsZero() {
		m.Delay = &delayElem{From: room.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	c.queueOrSend(ctx, user, m)
}

// queueOrSend puts a stanza in the outbox, or sends it when storage fails.
func (c *Component) queueOrSend(ctx context.Context, user jid.JID, m *outMessage) {
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
	if ev.Nick == "" || r.ready && ev.Nick == r.nick {
		return // the user's own occupant comes with Self
	}
	switch {
	case ev.Left:
		o := r.occupants[ev.Nick]
		delete(r.occupants, ev.Nick)
		if !r.ready {
			return
		}
		if o == nil {
			o = &occupant{nick: ev.Nick, aff: ev.Affiliation}
		}
		item := &mucItem{Affiliation: affName(o.aff), Role: "none", Reason: ev.Reason}
		if ev.By != "" {
			item.Actor = &mucActor{Nick: ev.By}
		}
		var codes []int
		switch {
		case ev.Banned:
			item.Affiliation = "outcast"
			codes = append(codes, statusBanned)
		case ev.Kicked:
			codes = append(codes, statusKicked)
		}
		status := ""
		if !ev.Kicked && !ev.Banned {
			status = ev.Reason // a quit or part message
		}
		c.broadcast(ctx, r, "", func(to jid.JID) any {
			it := *item
			return &outPresence{Type: "unavailable", From: r.occupantJID(o.nick), To: to.String(), Status: status,
				Extra: []any{&mucUserX{Item: &it, Status: statuses(codes...)}}}
		})
	case ev.NewNick != "":
		o := r.occupants[ev.Nick]
		if o == nil {
			o = occupantOf(ev)
		}
		delete(r.occupants, ev.Nick)
		old := o.nick
		o.nick = ev.NewNick
		r.occupants[o.nick] = o
		if !r.ready {
			return
		}
		c.broadcast(ctx, r, "", func(to jid.JID) any {
			return &outPresence{Type: "unavailable", From: r.occupantJID(old), To: to.String(),
				Extra: []any{&mucUserX{Item: &mucItem{Affiliation: affName(o.aff), Role: presentRole(o.role), Nick: o.nick}, Status: statuses(statusNewNick)}}}
		})
		c.broadcast(ctx, r, "", func(to jid.JID) any { return c.occupantPresence(r, o, to) })
	default:
		n := occupantOf(ev)
		o := r.occupants[ev.Nick]
		r.occupants[ev.Nick] = n
		if !r.ready || o != nil && *o == *n {
			return
		}
		c.broadcast(ctx, r, "", func(to jid.JID) any { return c.occupantPresence(r, n, to) })
	}
}

func occupantOf(ev *transports.OccupantEvent) *occupant {
	return &occupant{nick: ev.Nick, role: ev.Role, aff: ev.Affiliation, presence: ev.Presence, account: ev.Account}
}

// selfOccupant mirrors a change of the user's own occupant.
func (c *Component) selfOccupant(ctx context.Context, user jid.JID, ur *userRooms, r *mucRoom, ev *transports.OccupantEvent) {
	switch {
	case ev.Left:
		// Out of the room for a reason of the network's.
		item := &mucItem{Reason: ev.Reason}
		if ev.By != "" {
			item.Actor = &mucActor{Nick: ev.By}
		}
		var codes []int
		switch {
		case ev.Banned:
			codes = append(codes, statusBanned)
		case ev.Kicked:
			codes = append(codes, statusKicked)
		default:
			codes = append(codes, statusTechnical)
		}
		bouncer := len(r.res) == 0
		if ur.rooms[r.id] == r {
			delete(ur.rooms, r.id)
		}
		if !ur.anon {
			id := r.id
			c.later(user.String(), func(ctx context.Context) { c.forgetRoom(ctx, user, id) })
		}
		for _, rr := range r.resources() {
			if rr.phase == phaseJoining {
				continue // JoinRoom fails; the join error tells it
			}
			it := *item
			p := c.selfUnavailable(r, r.nick, rr.full, "", &it, codes...)
			if ev.Banned {
				it.Affiliation = "outcast"
			}
			c.mucSend(ctx, p)
		}
		r.res = map[string]*mucResource{}
		if bouncer && (ev.Kicked || ev.Banned) {
			what := "kicked from"
			if ev.Banned {
				what = "banned from"
			}
			text := "You were " + what + " " + string(r.id)
			if ev.By != "" {
				text += " by " + ev.By
			}
			if ev.Reason != "" {
				text += ": " + ev.Reason
			}
			c.queueOrSend(ctx, user, &outMessage{Type: "chat", ID: newID(), From: r.jid.String(), To: user.String(), Body: text})
		}
		if ur.anon && len(ur.rooms) == 0 {
			c.later(user.String(), func(ctx context.Context) { c.maybeStopAnon(ctx, user) })
		}
	case ev.NewNick != "":
		old := r.nick
		r.nick = ev.NewNick
		if !r.ready {
			return
		}
		for _, rr := range r.resources() {
			if rr.phase == phaseJoining {
				continue
			}
			c.mucSend(ctx, &outPresence{Type: "unavailable", From: r.occupantJID(old), To: rr.full.String(),
				Extra: []any{&mucUserX{Item: &mucItem{Affiliation: affName(r.aff), Role: presentRole(r.role), Nick: r.nick},
					Status: statuses(statusSelf, statusNewNick)}}})
			c.mucSend(ctx, c.selfPresence(r, rr.full))
		}
	default:
		r.role, r.aff, r.presence = ev.Role, ev.Affiliation, ev.Presence
		if ev.NickChangedByServer {
			r.nickChanged = true
		}
		if !r.ready {
			if ev.Nick != "" {
				r.nick = ev.Nick
			}
			return
		}
		for _, rr := range r.resources() {
			if rr.phase == phaseJoined {
				c.mucSend(ctx, c.selfPresence(r, rr.full))
			}
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
	r.subject = *ev
	if !r.sawSubject() {
		close(r.subjectSeen)
	}
	for _, rr := range r.resources() {
		if rr.phase == phaseJoined {
			c.mucSend(ctx, c.subjectMessage(r, rr.full))
		}
	}
}

// typingEvent shows a typing notification in a room.
func (c *Component) typingEvent(ctx context.Context, user jid.JID, ev *transports.TypingEvent) {
	_, r := c.room(user, ev.From)
	if r == nil {
		return
	}
	if !r.ready || ev.Nick == r.nick {
		return
	}
	for _, rr := range r.resources() {
		if rr.phase == phaseJoined {
			c.mucSend(ctx, &outMessage{Type: "groupchat", From: r.occupantJID(ev.Nick), To: rr.full.String(),
				Extra: []any{&chatStateElem{XMLName: xml.Name{Space: nsChat, Local: chatStateName(ev.State)}}, noStoreHint()}})
		}
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
	set := r.reactions.update(ev.Target, ev.Nick, ev.Reaction, ev.Remove)
	c.broadcast(ctx, r, "", func(to jid.JID) any {
		return &outMessage{Type: "groupchat", ID: newID(), From: r.occupantJID(ev.Nick), To: to.String(),
			Extra: []any{&reactionsElem{ID: string(ev.Target), Reactions: set}, storeHint()}}
	})
}

// roomNotice shows a notice about a room as a message from the room
// itself; it reports false when no resource is in the room.
func (c *Component) roomNotice(ctx context.Context, user jid.JID, ev *transports.NoticeEvent) bool {
	_, r := c.room(user, ev.About)
	if r == nil {
		return false
	}
	if len(r.res) == 0 {
		return false
	}
	c.broadcast(ctx, r, "", func(to jid.JID) any {
		return &outMessage{Type: "groupchat", ID: newID(), From: r.jid.String(), To: to.String(), Body: ev.Text}
	})
	return true
}

// reactionCache remembers, for the latest messages of a room, who reacted
// with what, since XEP-0444 sends a reactor's whole set each time.
type reactionCache struct {
	m     map[transports.RemoteID]map[string][]string // target → nick → reactions
	order []transports.RemoteID
}

// get returns nick's reactions to target.
func (rc *reactionCache) get(target transports.RemoteID, nick string) []string {
	return rc.m[target][nick]
}

// set replaces nick's reactions to target.
func (rc *reactionCache) set(target transports.RemoteID, nick string, set []string) {
	if rc.m == nil {
		rc.m = make(map[transports.RemoteID]map[string][]string)
	}
	byNick := rc.m[target]
	if byNick == nil {
		byNick = make(map[string][]string)
		rc.m[target] = byNick
		rc.order = append(rc.order, target)
		if len(rc.order) > reactionTargets {
			delete(rc.m, rc.order[0])
			rc.order = rc.order[1:]
		}
	}
	byNick[nick] = set
}

// update adds or removes one reaction and returns the new set.
func (rc *reactionCache) update(target transports.RemoteID, nick, reaction string, remove bool) []string {
	var out []string
	for _, x := range rc.get(target, nick) {
		if x != reaction {
			out = append(out, x)
		}
	}
	if !remove {
		out = append(out, reaction)
	}
	rc.set(target, nick, out)
	return out
}

// room returns the user's rooms and the room id, or a nil room when the
// user is not in it. Owner work.
func (c *Component) room(user jid.JID, id transports.ID) (*userRooms, *mucRoom) {
	ur := c.muc.get(user.String())
	if ur == nil {
		return nil, nil
	}
	return ur, ur.rooms[id]
}
