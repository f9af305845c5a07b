package component

import (
	"context"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The MUC service side (XEP-0045) for networks whose adapters implement
// transports.Rooms, modelled on biboumi: a legacy room is room@domain, an
// occupant room@domain/nick.
//
// State. For every user the component keeps the rooms their legacy
// session is in (a muc.Rooms of muc.Room, package component/muc): the
// occupant list, the user's own nick, role and affiliation, the subject,
// and which of the user's XMPP resources are joined. A second resource
// joining a room gets the state replayed from this cache; the legacy
// network is not asked again (only for history). The room's methods
// change the state and say what changed; the flows here build and send
// the stanzas.
//
// Goroutines. The user's room state is owned by their owner goroutine
// (c.owners): legacy events run there (userSink.Deliver hands them over),
// and so do the state steps of the user's room stanzas, which themselves
// run in the user's lane (c.lanes), in order: joins, leaves, group chat
// messages, admin requests. A stanza's work reads and changes the state
// only inside c.own, and waits for the legacy network (JoinRoom, History,
// Send) outside it; owner work never waits for the network, so that a
// replay and a live event never interleave and no lock is needed.
// JoinRoom returns only after its events were delivered.
//
// Join (XEP-0045 §7.2). The joining resource gets every other occupant's
// presence, then its own with status 110 (and 210 when the network gave
// another nick than the one asked for), then the history (when the
// adapter implements transports.History), then the subject, always,
// possibly empty. Live traffic that arrives meanwhile is held back and
// follows the subject.
//
// Leave. A resource that leaves gets its unavailable presence (110). When
// the last one left, the legacy room is left too, unless the user is
// registered, keeps their session while offline (stay_connected) and, two
// seconds later, has no available resource at all: their client went
// offline, and the room stays joined (bouncer mode) so that highlights
// reach them as offline messages. Other chatter meanwhile is kept per
// room, bounded (muc.Away), and shown as history at the next join when the
// network has none (IRC chathistory brings it back where the server has it).
// With a room archive (Config.Archive, mam.go) the archive keeps it instead,
// and gives the history.
//
// Sending. Room stanzas go to the joined resources' full JIDs straight
// away, or through the outbox when the stream is down.

const (
	// joinTimeout bounds a legacy join.
	joinTimeout = 45 * time.Second
	// connectWait bounds the wait for a legacy session to come up when a
	// join needs one.
	connectWait = 30 * time.Second
	// subjectWait bounds the wait for the subject after a join, for
	// networks that would not send one.
	subjectWait = 3 * time.Second
	// leaveGrace is how long after the last resource left a room the
	// component looks whether the user went offline (bouncer mode).
	leaveGrace = 2 * time.Second
)

// kindOf says what a legacy ID names; networks without an Addresser have
// only contacts.
func (c *Component) kindOf(id transports.ID) (transports.IDKind, error) {
	if a, ok := c.net.(transports.Addresser); ok {
		return a.Kind(id)
	}
	return transports.KindContact, nil
}

// isRoom reports whether j is the JID (bare or occupant) of a legacy room.
func (c *Component) isRoom(j jid.JID) (transports.ID, bool) {
	id, err := legacyID(j)
	if err != nil {
		return "", false
	}
	k, err := c.kindOf(id)
	return id, err == nil && k == transports.KindRoom
}

// mucSend writes a room stanza to the stream, or to the outbox when the
// stream is down.
func (c *Component) mucSend(ctx context.Context, v any) {
	err := c.send(ctx, v)
	if err == nil {
		return
	}
	if err2 := c.queue(ctx, v); err2 != nil {
		c.log.Warn("room stanza lost", "send_err", err, "store_err", err2)
	}
}

// after runs job in user's lane once d has passed, unless the component
// stops first.
func (c *Component) after(d time.Duration, user string, job func(ctx context.Context)) {
	ctx := c.ctx()
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.stopping {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.lanes.Post(ctx, user, job)
	}()
}

// --- presences -----------------------------------------------------------

func occupantPresence(r *muc.Room, o muc.Occupant, to jid.JID) *stanza.Presence {
	p := &stanza.Presence{From: r.OccupantJID(o.Nick), To: to.String(), Show: o.Presence.Show.String(), Status: o.Presence.Status}
	p.Extra = []any{&muc.UserX{Item: &muc.Item{Affiliation: muc.AffName(o.Affiliation), Role: muc.PresentRole(o.Role)}}}
	return p
}

func selfPresence(r *muc.Room, to jid.JID, codes ...int) *stanza.Presence {
	p := &stanza.Presence{From: r.OccupantJID(r.Nick), To: to.String(), Show: r.Presence.Show.String(), Status: r.Presence.Status}
	p.Extra = []any{&muc.UserX{
		Item:   &muc.Item{Affiliation: muc.AffName(r.Affiliation), Role: muc.PresentRole(r.Role)},
		Status: muc.Statuses(append([]int{muc.StatusSelf}, codes...)...),
	}}
	return p
}

// selfUnavailable tells a resource it is out of the room.
func selfUnavailable(r *muc.Room, nick string, to jid.JID, status string, item *muc.Item, codes ...int) *stanza.Presence {
	if item == nil {
		item = &muc.Item{}
	}
	item.Affiliation, item.Role = muc.AffName(r.Affiliation), "none"
	return &stanza.Presence{Type: "unavailable", From: r.OccupantJID(nick), To: to.String(), Status: status,
		Extra: []any{&muc.UserX{Item: item, Status: muc.Statuses(append([]int{muc.StatusSelf}, codes...)...)}}}
}

func subjectMessage(r *muc.Room, to jid.JID) *stanza.Message {
	subject := r.Subject()
	from := r.JID.String()
	if subject.Nick != "" {
		from = r.OccupantJID(subject.Nick)
	}
	m := &stanza.Message{Type: "groupchat", ID: newID(), From: from, To: to.String(), Extra: []any{&stanza.Subject{Text: subject.Subject}}}
	if !subject.Time.IsZero() {
		m.Delay = &stanza.Delay{From: r.JID.String(), Stamp: subject.Time.UTC().Format(time.RFC3339Nano)}
	}
	return m
}

// replay sends rr, which the room moved to muc.Syncing, the other
// occupants and its own presence.
func (c *Component) replay(ctx context.Context, r *muc.Room, rr *muc.Resource) {
	for _, o := range r.Others() {
		c.mucSend(ctx, occupantPresence(r, o, rr.Full))
	}
	var codes []int
	if rr.NickModified() {
		codes = append(codes, muc.StatusNickModified)
	}
	c.mucSend(ctx, selfPresence(r, rr.Full, codes...))
}

// broadcast sends build's stanza to every joined resource of r; the room
// holds it back for those still syncing (see muc.Room.Broadcast).
func (c *Component) broadcast(ctx context.Context, r *muc.Room, legacyID string, build func(to jid.JID) any) {
	for _, st := range r.Broadcast(legacyID, build) {
		c.mucSend(ctx, st)
	}
}

// --- joining -------------------------------------------------------------

// roomPresence handles a presence to a room or occupant JID. It reports
// false when the presence is not a MUC matter (a contact's JID), so that
// the caller handles it. It runs in the user's lane.
func (c *Component) roomPresence(s *stanza.In) bool {
	id, err := legacyID(s.To)
	if err != nil {
		return false
	}
	join := s.Child(nsMUC, "x") != nil && s.Type == ""
	kind, err := c.kindOf(id)
	if err != nil {
		if join {
			c.mucError(s, stanzaerr.New("modify", "jid-malformed", "%v", err))
			return true
		}
		return false
	}
	if kind != transports.KindRoom {
		if join {
			what := "a contact"
			if kind == transports.KindServer {
				what = "a server"
			}
			c.mucError(s, stanzaerr.New("cancel", "item-not-found", "%s is %s, not a room.", id, what))
			return true
		}
		return false
	}
	switch s.Type {
	case "":
		if s.To.Resourcepart() == "" {
			if join {
				c.mucError(s, stanzaerr.New("modify", "jid-malformed", "A nickname is required: join %s/yournick.", s.To.Bare()))
			}
			return true
		}
		c.joinRoom(s, id)
	case "unavailable":
		if s.To.Resourcepart() != "" {
			c.leaveRoom(s, id)
		}
	default:
		return false
	}
	return true
}

// mucError answers a join with an error presence from the occupant
// JID it was sent to.
func (c *Component) mucError(s *stanza.In, e *stanzaerr.Error) {
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	c.sendQuiet(ctx, &stanza.Presence{ID: s.ID, Type: "error", From: s.To.String(), To: s.From.String(),
		Error: e.Wire(), Extra: []any{&muc.JoinX{}}})
}

// joinRoom handles an available presence to room@domain/nick: a join, a
// second resource joining, or a presence update of a joined resource. It
// runs in the user's lane.
func (c *Component) joinRoom(s *stanza.In, id transports.ID) {
	ctx := c.ctx()
	user := s.From.Bare()
	u := user.String()
	resName, nick := s.From.Resourcepart(), s.To.Resourcepart()
	hist := muc.ParseHistory(s.Child(nsMUC, "x"))

	// The room's state decides: a presence update of a joined resource,
	// another resource joining (replayed from the state), or a new join.
	type outcome int
	const (
		newJoin outcome = iota
		updated
		replayed
		refused
	)
	var (
		got    outcome
		serr   *stanzaerr.Error
		r      *muc.Room
		mirror transports.Adapter
	)
	if !c.own(ctx, u, func(ctx context.Context) {
		ur := c.muc.User(u)
		r = ur.Get(id)
		if r != nil && r.Adapter != c.sup.Adapter(u) {
			// The session the room was joined with is gone.
			c.dropRoom(ctx, ur, r, "The connection to "+c.net.Identity().Name+" was lost.", muc.StatusTechnical)
			r = nil
		}
		if r != nil {
			if rr := r.Resource(resName); rr != nil {
				if nick != r.Nick && nick != rr.Asked {
					got, serr = refused, stanzaerr.New("modify", "not-acceptable", "Changing your nick in a room is not supported by %s.", c.net.Identity().Name)
					return
				}
				// A presence update: show the resource its presence.
				if rr.Phase() == muc.Joined {
					c.mucSend(ctx, selfPresence(r, rr.Full))
				}
				got, mirror = updated, r.Adapter
				return
			}
			// Another resource of the user is in the room: replay the cache.
			c.replay(ctx, r, r.JoinAgain(s.From, nick, hist))
			got = replayed
			return
		}
		if n, full := ur.Full(c.roomsPerUser()); full {
			c.log.Info("room join refused: too many rooms", "user", u, "max", n)
			got, serr = refused, stanzaerr.New("wait", "policy-violation", "You are in %d rooms on %s, the most this gateway allows; leave one first.", n, c.net.Identity().Name)
		}
	}) {
		return // shutting down
	}
	switch got {
	case refused:
		c.mucError(s, serr)
		return
	case updated:
		// An anonymous user's availability reaches the gateway only
		// through their rooms: mirror it (IRC AWAY). Registered users'
		// presence to the gateway does that.
		if mirror != nil && !c.registered(ctx, user) {
			p := transports.Presence{Show: presence.ParseShow(s.ChildText("", "show")), Status: s.ChildText("", "status")}
			if err := mirror.SetPresence(ctx, p); err != nil {
				c.log.Debug("mirroring presence", "user", u, "err", err)
			}
		}
		return
	case replayed:
		c.finishJoin(ctx, u, r)
		return
	}

	if !c.netCaps().Rooms {
		c.mucError(s, stanzaerr.New("cancel", "feature-not-implemented", "%s has no rooms.", c.net.Identity().Name))
		return
	}
	a, serr := c.roomAdapter(ctx, user, id, nick)
	if serr != nil {
		c.mucError(s, serr)
		c.maybeStopAnon(ctx, user)
		return
	}
	rooms, ok := a.(transports.Rooms)
	if !ok {
		c.mucError(s, stanzaerr.New("cancel", "feature-not-implemented", "%s has no rooms.", c.net.Identity().Name))
		c.maybeStopAnon(ctx, user)
		return
	}
	r = muc.NewRoom(id, s.To.Bare(), a, nick)
	r.Join(s.From, nick, hist)
	if !c.own(ctx, u, func(context.Context) { c.muc.User(u).Put(r) }) {
		return
	}

	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	err := rooms.JoinRoom(jctx, id, nick)
	cancel()

	joined, anon := false, false
	c.own(ctx, u, func(ctx context.Context) {
		ur := c.muc.User(u)
		anon = ur.Anon
		if err != nil {
			ur.Remove(r)
			return
		}
		if !ur.Has(r) {
			return // gone meanwhile (kicked, session lost); the user was told
		}
		if !r.Ready() {
			// The adapter did not deliver RoomReadyEvent: go on with what
			// it delivered.
			c.roomReady(ctx, r, &transports.RoomReadyEvent{Room: id, Nick: r.Nick, Role: r.Role, Affiliation: r.Affiliation})
		}
		joined = true
	})
	if err != nil {
		c.log.Info("room join refused", "user", u, "room", string(id), "err", err)
		c.mucError(s, stanzaerr.FromLegacy(err))
		c.maybeStopAnon(ctx, user)
		return
	}
	if !joined {
		return
	}
	c.finishJoin(ctx, u, r)
	if !anon {
		c.muc.RememberRoom(ctx, user, id, r.Nick)
	}
}

// roomAdapter returns the user's adapter for a join, starting a session
// when there is none: the registered one, or an anonymous one. It runs in
// the user's lane: it may wait for the session to come up.
func (c *Component) roomAdapter(ctx context.Context, user jid.JID, room transports.ID, nick string) (transports.Adapter, *stanzaerr.Error) {
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

// roomReady records the user's own state and, on the first
// RoomReadyEvent, sends the joining resources the occupants and their
// self-presence. Owner work.
func (c *Component) roomReady(ctx context.Context, r *muc.Room, ev *transports.RoomReadyEvent) {
	for _, rr := range r.SetReady(ev.Nick, ev.Role, ev.Affiliation) {
		c.replay(ctx, r, rr)
	}
}

// finishJoin sends the resources that are syncing their history, the
// subject and what was held back meanwhile. It runs in the user's lane:
// it waits for the network's history and subject.
func (c *Component) finishJoin(ctx context.Context, user string, r *muc.Room) {
	var syncing []*muc.Resource
	hists := make(map[*muc.Resource]muc.History)
	var away muc.Away
	archivedAway := 0 // messages archived while away, with an archive
	if !c.own(ctx, user, func(context.Context) {
		syncing = r.InPhase(muc.Syncing)
		for _, rr := range syncing {
			hists[rr] = rr.Hist
		}
		if len(syncing) > 0 {
			away = r.TakeAway()
			archivedAway = r.TakeArchivedAway()
		}
	}) {
		return
	}

	history := make(map[*muc.Resource][]transports.MessageEvent)
	// notKept counts the messages said while away that history cannot
	// show because a bound let them go; kept is that bound.
	notKept, kept := away.Dropped(), muc.AwayMessages
	if c.cfg.Archive != nil {
		kept = c.cfg.Archive.Bounds().MaxPerRoom
	}
	h, hasHistory := r.Adapter.(transports.History)
	now := time.Now()
	for _, rr := range syncing {
		since, max, ok := hists[rr].Params(now)
		if !ok {
			continue
		}
		if hasHistory {
			hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			evs, err := h.History(hctx, r.ID, since, max)
			cancel()
			if err == nil {
				for _, ev := range evs {
					if ev.RemoteID != "" {
						c.mapRoomMessage(ctx, user, r.ID, string(ev.RemoteID), roomMessageID(&ev))
					}
				}
				history[rr] = evs
				continue
			}
			c.log.Info("room history unavailable", "user", user, "room", string(r.ID), "err", err)
		}
		if c.cfg.Archive != nil {
			evs, dropped, err := c.archiveHistory(ctx, user, r.ID, since, max, archivedAway)
			if err != nil {
				c.log.Warn("room archive unavailable", "user", user, "room", string(r.ID), "err", err)
			}
			// The away backlog then holds only the notes of edits and
			// deletions made while away (edits.go): shown among them.
			history[rr], notKept = withAwayNotes(evs, away.Since(since, max), max), dropped
			continue
		}
		// What the component kept while the user was away.
		history[rr] = away.Since(since, max)
	}

	// SubjectSeen is closed by owner work; waiting on it needs no lock.
	if !r.SawSubject() {
		t := time.NewTimer(subjectWait)
		select {
		case <-r.SubjectSeen():
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}

	c.own(ctx, user, func(ctx context.Context) {
		if ur := c.muc.Rooms(user); ur == nil || !ur.Has(r) {
			return
		}
		for _, rr := range syncing {
			if r.Resource(rr.Full.Resourcepart()) != rr || rr.Phase() != muc.Syncing {
				continue // left meanwhile
			}
			var backlog []*stanza.Message
			for i := range history[rr] {
				ev := &history[rr][i]
				if rr.Held(string(ev.RemoteID)) {
					continue
				}
				backlog = append(backlog, groupchatStanza(r, ev, rr.Full, true))
			}
			if rr.Hist.MaxChars > 0 {
				backlog = muc.TrimChars(backlog, rr.Hist.MaxChars, func(m *stanza.Message) int { return len(mustMarshal(m)) })
			}
			if n := notKept; n > 0 && history[rr] != nil {
				// Never silently: say what the backlog could not keep.
				c.mucSend(ctx, &stanza.Message{Type: "groupchat", ID: newID(), From: r.JID.String(), To: rr.Full.String(),
					Body: fmt.Sprintf("%d earlier %s while you were away %s not kept: this gateway keeps the last %d per room.",
						n, plural(n, "message", "messages"), plural(n, "was", "were"), kept)})
			}
			for _, m := range backlog {
				c.mucSend(ctx, m)
			}
			c.mucSend(ctx, subjectMessage(r, rr.Full))
			for _, p := range rr.Flush() {
				c.mucSend(ctx, p)
			}
		}
	})
}

// --- leaving -------------------------------------------------------------

// leaveRoom handles an unavailable presence to room@domain/nick. It runs
// in the user's lane.
func (c *Component) leaveRoom(s *stanza.In, id transports.ID) {
	ctx := c.ctx()
	user := s.From.Bare()
	u := user.String()
	var in, last bool
	var r *muc.Room
	if !c.own(ctx, u, func(ctx context.Context) {
		ur := c.muc.Rooms(u) // a leave creates nothing
		if ur == nil {
			return
		}
		if r = ur.Get(id); r == nil {
			return
		}
		var rr *muc.Resource
		if rr, last = r.Leave(s.From.Resourcepart()); rr == nil {
			return
		}
		in = true
		if rr.Phase() != muc.Joining {
			c.mucSend(ctx, selfUnavailable(r, r.Nick, rr.Full, s.ChildText("", "status"), nil))
		}
	}) {
		return
	}
	if !in {
		// Not in the room: confirm anyway, clients wait for it.
		c.sendQuiet(ctx, &stanza.Presence{Type: "unavailable", From: s.To.String(), To: s.From.String(),
			Extra: []any{&muc.UserX{Item: &muc.Item{Affiliation: "none", Role: "none"}, Status: muc.Statuses(muc.StatusSelf)}}})
		return
	}
	if last {
		c.lastResourceLeft(ctx, user, r)
	}
}

// resourceGone removes a resource that went offline from every room. It
// runs in the user's lane.
func (c *Component) resourceGone(ctx context.Context, user jid.JID, res string) {
	var emptied []*muc.Room
	c.own(ctx, user.String(), func(context.Context) {
		ur := c.muc.Rooms(user.String())
		if ur == nil {
			return
		}
		for _, r := range ur.All() {
			if rr, empty := r.Leave(res); rr != nil && empty {
				emptied = append(emptied, r)
			}
		}
	})
	for _, r := range emptied {
		c.lastResourceLeft(ctx, user, r)
	}
}

// lastResourceLeft decides what happens to a room the user's last
// resource left: bouncer mode or leaving the legacy room. It runs in the
// user's lane.
func (c *Component) lastResourceLeft(ctx context.Context, user jid.JID, r *muc.Room) {
	if ctx.Err() != nil {
		return // shutting down: rooms stay as they are (bouncer rooms are rejoined at start)
	}
	u := user.String()
	if c.registered(ctx, user) {
		settings, err := c.reg.Settings(ctx, u, c.net.Name())
		if err != nil {
			c.log.Warn("reading settings", "user", u, "err", err)
		}
		if c.stayConnected(settings) {
			c.after(leaveGrace, u, func(ctx context.Context) {
				stale := true
				c.own(ctx, u, func(context.Context) {
					ur := c.muc.Rooms(u)
					stale = ur == nil || !ur.Has(r) || !r.Empty()
				})
				if stale {
					return
				}
				if !c.presence.Online(u) {
					c.log.Info("user offline: staying in the room", "user", u, "room", string(r.ID))
					return
				}
				c.leaveLegacy(ctx, user, r)
			})
			return
		}
	}
	c.leaveLegacy(ctx, user, r)
}

// leaveLegacy leaves the legacy room if no resource is in it any more. It
// runs in the user's lane.
func (c *Component) leaveLegacy(ctx context.Context, user jid.JID, r *muc.Room) {
	if ctx.Err() != nil {
		return // shutting down: leaving is not the user's wish
	}
	u := user.String()
	gone, anon := false, false
	c.own(ctx, u, func(context.Context) {
		ur := c.muc.Rooms(u)
		if ur == nil {
			return
		}
		gone, anon = ur.Has(r) && r.Empty(), ur.Anon
		if gone {
			ur.Remove(r)
		}
	})
	if !gone {
		return
	}
	if !anon {
		c.muc.ForgetRoom(ctx, user, r.ID)
	}
	if rooms, ok := r.Adapter.(transports.Rooms); ok && r.Adapter == c.sup.Adapter(u) {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := rooms.LeaveRoom(lctx, r.ID); err != nil {
			c.log.Info("leaving legacy room", "user", u, "room", string(r.ID), "err", err)
		}
		cancel()
	}
	c.maybeStopAnon(ctx, user)
}

// maybeStopAnon ends the anonymous session of a user who is in no room
// any more, and forgets their room state when it is empty. It runs in the
// user's lane (Stop waits for the session).
func (c *Component) maybeStopAnon(ctx context.Context, user jid.JID) {
	u := user.String()
	stop := false
	c.own(ctx, u, func(context.Context) {
		ur := c.muc.Rooms(u)
		if ur == nil {
			return
		}
		stop = ur.Anon && ur.Len() == 0
		if stop {
			ur.Anon = false
		}
		c.muc.Release(u, ur)
	})
	if stop && !c.registered(ctx, user) {
		c.log.Info("anonymous user left their last room", "user", u)
		c.sup.Stop(u)
	}
}

// dropRoom forgets a room the legacy session is no longer in and tells the
// joined resources they are out, with status and codes. Owner work.
func (c *Component) dropRoom(ctx context.Context, ur *muc.Rooms, r *muc.Room, status string, codes ...int) {
	ur.Remove(r)
	for _, rr := range r.DropResources() {
		c.mucSend(ctx, selfUnavailable(r, r.Nick, rr.Full, status, nil, codes...))
	}
}

// roomsOnState forgets the rooms of a legacy session that ended: a room
// belongs to the adapter that joined it. Owner work.
func (c *Component) roomsOnState(ctx context.Context, user jid.JID, st transports.Status) {
	u := user.String()
	ur := c.muc.Rooms(u)
	if ur == nil {
		return
	}
	cur := c.sup.Adapter(u)
	status := "Disconnected from " + c.net.Identity().Name
	if st.Text != "" {
		status += ": " + stanzaerr.Detail(st.Text)
	}
	dropped := false
	for _, r := range ur.All() {
		if r.Adapter != cur {
			c.dropRoom(ctx, ur, r, status+".", muc.StatusTechnical)
			dropped = true
		}
	}
	if dropped && ur.Len() == 0 { // and forget the emptied state
		c.later(u, func(ctx context.Context) { c.maybeStopAnon(ctx, user) })
	}
}

// selfPing answers XEP-0410 pings to an occupant JID: a result when the
// sender is in the room under that nick, not-acceptable otherwise. The
// answer is owner work: the stream reader never waits for a user's work.
func (c *Component) selfPing(s *stanza.In, id transports.ID) {
	u := s.From.Bare().String()
	c.owners.Post(c.ctx(), u, func(ctx context.Context) {
		joined := false
		if ur := c.muc.Rooms(u); ur != nil {
			if r := ur.Get(id); r != nil && r.Adapter == c.sup.Adapter(u) {
				rr := r.Resource(s.From.Resourcepart())
				joined = rr != nil && rr.Phase() != muc.Joining && (s.To.Resourcepart() == "" || s.To.Resourcepart() == r.Nick)
			}
		}
		if !joined {
			c.replyError(s.Element, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
			return
		}
		c.result(s, nil)
	})
}
