package muc

import (
	"context"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The MUC service side (XEP-0045) for networks whose adapters implement
// transports.Rooms, modelled on biboumi: a legacy room is room@domain, an
// occupant room@domain/nick.
//
// State. For every user the service keeps the rooms their legacy
// session is in (a Rooms of Room, room.go): the
// occupant list, the user's own nick, role and affiliation, the subject,
// and which of the user's XMPP resources are joined. A second resource
// joining a room gets the state replayed from this cache; the legacy
// network is not asked again (only for history). The room's methods
// change the state and say what changed; the flows here build and send
// the stanzas.
//
// Goroutines. The user's room state is owned by their owner goroutine
// (Core.Own): legacy events run there (the core's sink hands them over),
// and so do the state steps of the user's room stanzas, which themselves
// run in the user's lane, in order: joins, leaves, group chat
// messages, admin requests. A stanza's work reads and changes the state
// only inside Core.Own, and waits for the legacy network (JoinRoom, History,
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
// room, bounded (Away), and shown as history at the next join when the
// network has none (IRC chathistory brings it back where the server has it).
// With a room archive (Core.Archive, mam.go) the archive keeps it instead,
// and gives the history.
//
// Sending. Room stanzas go to the joined resources' full JIDs straight
// away, or through the outbox when the stream is down.

const (
	// joinTimeout bounds a legacy join.
	joinTimeout = 45 * time.Second
	// subjectWait bounds the wait for the subject after a join, for
	// networks that would not send one.
	subjectWait = 3 * time.Second
	// leaveGrace is how long after the last resource left a room the
	// service looks whether the user went offline (bouncer mode).
	leaveGrace = 2 * time.Second
)

// replay sends rr, which the room moved to Syncing, the other
// occupants and its own presence.
func (s *Service) replay(ctx context.Context, r *Room, rr *Resource) {
	user := rr.Full.Bare().String()
	for _, o := range r.Others() {
		s.core.Send(ctx, s.occupantShown(user, r, o)(rr.Full))
	}
	var codes []int
	if rr.NickModified() {
		codes = append(codes, StatusNickModified)
	}
	s.core.Send(ctx, selfPresence(r, rr.Full, codes...))
}

// broadcast sends build's stanza to every joined resource of r; the room
// holds it back for those still syncing (see Room.Broadcast).
func (s *Service) broadcast(ctx context.Context, r *Room, legacyID string, build func(to jid.JID) any) {
	for _, st := range r.Broadcast(legacyID, build) {
		s.core.Send(ctx, st)
	}
}

// Join handles an available presence to room@domain/nick of legacy room
// id: a join, a second resource joining, or a presence update of a joined
// resource. It is lane work: it may start a session and waits for the
// network's join, history and subject; refusals are answered to the
// resource as join errors.
func (s *Service) Join(ctx context.Context, in *stanza.In, id transports.ID) {
	user := in.From.Bare()
	u := user.String()
	resName, nick := in.From.Resourcepart(), in.To.Resourcepart()
	hist := ParseHistory(in.Child(NS, "x"))

	// The room's state decides: a presence update of a joined resource,
	// another resource joining (replayed from the state), or a new join.
	type outcome int
	const (
		newJoin outcome = iota
		updated
		replayed
		refused
		renamed
	)
	var (
		got    outcome
		serr   *stanzaerr.Error
		r      *Room
		mirror transports.Adapter
	)
	if !s.core.Own(ctx, u, func(ctx context.Context) {
		ur := s.User(u)
		r = ur.Get(id)
		if r != nil && r.Adapter != s.core.Adapter(u) {
			// The session the room was joined with is gone.
			s.dropRoom(ctx, ur, r, "The connection to "+s.core.NetworkName()+" was lost.", StatusTechnical)
			r = nil
		}
		if r != nil {
			if rr := r.Resource(resName); rr != nil {
				if nick != r.Nick && nick != rr.Asked {
					if _, ok := r.Adapter.(transports.Nicker); ok && s.core.Capabilities().NickChange && rr.Phase() == Joined {
						got, mirror = renamed, r.Adapter // XEP-0045 §7.6
						return
					}
					got, serr = refused, stanzaerr.New("modify", "not-acceptable", "Changing your nick in a room is not supported by %s.", s.core.NetworkName())
					return
				}
				// A presence update: show the resource its presence.
				if rr.Phase() == Joined {
					s.core.Send(ctx, selfPresence(r, rr.Full))
				}
				got, mirror = updated, r.Adapter
				return
			}
			// Another resource of the user is in the room: replay the cache.
			s.replay(ctx, r, r.JoinAgain(in.From, nick, hist))
			got = replayed
			return
		}
		if n, full := ur.Full(s.core.RoomsPerUser()); full {
			s.core.Logger().Info("room join refused: too many rooms", "user", u, "max", n)
			got, serr = refused, stanzaerr.New("wait", "policy-violation", "You are in %d rooms on %s, the most this gateway allows; leave one first.", n, s.core.NetworkName())
		}
	}) {
		return // shutting down
	}
	switch got {
	case refused:
		s.core.JoinError(in, serr)
		return
	case renamed:
		// The network decides; its answer (the user's own OccupantEvent
		// with NewNick) tells every joined resource, with status 303.
		nctx, cancel := context.WithTimeout(ctx, joinTimeout)
		err := mirror.(transports.Nicker).SetNick(nctx, id, nick)
		cancel()
		if err != nil {
			s.core.Logger().Info("nick change refused", "user", u, "room", string(id), "err", err)
			s.core.JoinError(in, stanzaerr.FromLegacy(err))
		}
		return
	case updated:
		// An anonymous user's availability reaches the gateway only
		// through their rooms: mirror it (IRC AWAY). Registered users'
		// presence to the gateway does that.
		if mirror != nil && !s.core.Registered(ctx, user) {
			p := transports.Presence{Show: presence.ParseShow(in.ChildText("", "show")), Status: in.ChildText("", "status")}
			if err := mirror.SetPresence(ctx, p); err != nil {
				s.core.Logger().Debug("mirroring presence", "user", u, "err", err)
			}
		}
		return
	case replayed:
		s.finishJoin(ctx, u, r)
		return
	}

	if !s.core.Capabilities().Rooms {
		s.core.JoinError(in, stanzaerr.New("cancel", "feature-not-implemented", "%s has no rooms.", s.core.NetworkName()))
		return
	}
	a, serr := s.core.RoomAdapter(ctx, user, id, nick)
	if serr != nil {
		s.core.JoinError(in, serr)
		s.maybeStopAnon(ctx, user)
		return
	}
	rooms, ok := a.(transports.Rooms)
	if !ok {
		s.core.JoinError(in, stanzaerr.New("cancel", "feature-not-implemented", "%s has no rooms.", s.core.NetworkName()))
		s.maybeStopAnon(ctx, user)
		return
	}
	r = NewRoom(id, in.To.Bare(), a, nick)
	r.OccupantIDs = s.core.Capabilities().OccupantIDs
	r.Join(in.From, nick, hist)
	anon := false
	if !s.core.Own(ctx, u, func(context.Context) {
		ur := s.User(u)
		ur.Put(r)
		anon = ur.Anon
	}) {
		return
	}
	// The room is remembered before the legacy join, not after: the
	// self-presence goes out while JoinRoom runs, and a restart right
	// after it must still find the room to join again. A refused join
	// forgets it below.
	added := !anon && s.RememberRoom(ctx, user, id, nick)

	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	err := rooms.JoinRoom(jctx, id, nick)
	cancel()

	joined, joinedNick := false, ""
	s.core.Own(ctx, u, func(ctx context.Context) {
		ur := s.User(u)
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
			s.roomReady(ctx, r, &transports.RoomReadyEvent{Room: id, Nick: r.Nick, Role: r.Role, Affiliation: r.Affiliation})
		}
		joined, joinedNick = true, r.Nick
	})
	if err != nil {
		s.core.Logger().Info("room join refused", "user", u, "room", string(id), "err", err)
		s.core.JoinError(in, stanzaerr.FromLegacy(err))
		if added {
			s.ForgetRoom(ctx, user, id)
		}
		s.maybeStopAnon(ctx, user)
		return
	}
	if !joined {
		return
	}
	if !anon && joinedNick != nick {
		s.RememberRoom(ctx, user, id, joinedNick) // the network changed the nick
	}
	s.finishJoin(ctx, u, r)
}

// roomReady records the user's own state and, on the first
// RoomReadyEvent, sends the joining resources the occupants and their
// self-presence. Owner work.
func (s *Service) roomReady(ctx context.Context, r *Room, ev *transports.RoomReadyEvent) {
	r.Name, r.Members = ev.Name, ev.Members
	if ev.OccupantID != "" {
		r.OccupantID = ev.OccupantID
	}
	for _, rr := range r.SetReady(ev.Nick, ev.Role, ev.Affiliation) {
		s.replay(ctx, r, rr)
	}
}

// finishJoin sends the resources that are syncing their history, the
// subject and what was held back meanwhile. It runs in the user's lane:
// it waits for the network's history and subject.
func (s *Service) finishJoin(ctx context.Context, user string, r *Room) {
	var syncing []*Resource
	hists := make(map[*Resource]History)
	var away Away
	archivedAway := 0 // messages archived while away, with an archive
	if !s.core.Own(ctx, user, func(context.Context) {
		syncing = r.InPhase(Syncing)
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

	history := make(map[*Resource][]transports.MessageEvent)
	// notKept counts the messages said while away that history cannot
	// show because a bound let them go; kept is that bound.
	notKept, kept := away.Dropped(), AwayMessages
	if s.core.Archive() != nil {
		kept = s.core.Archive().Bounds().MaxPerRoom
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
						s.mapRoomMessage(ctx, user, r.ID, string(ev.RemoteID), roomMessageID(&ev))
					}
				}
				history[rr] = evs
				continue
			}
			s.core.Logger().Info("room history unavailable", "user", user, "room", string(r.ID), "err", err)
		}
		if s.core.Archive() != nil {
			evs, dropped, err := s.archiveHistory(ctx, user, r.ID, since, max, archivedAway)
			if err != nil {
				s.core.Logger().Warn("room archive unavailable", "user", user, "room", string(r.ID), "err", err)
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

	s.core.Own(ctx, user, func(ctx context.Context) {
		if ur := s.Rooms(user); ur == nil || !ur.Has(r) {
			return
		}
		for _, rr := range syncing {
			if r.Resource(rr.Full.Resourcepart()) != rr || rr.Phase() != Syncing {
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
				backlog = TrimChars(backlog, rr.Hist.MaxChars, func(m *stanza.Message) int { return marshalLen(m) })
			}
			if n := notKept; n > 0 && history[rr] != nil {
				// Never silently: say what the backlog could not keep.
				s.core.Send(ctx, &stanza.Message{Type: "groupchat", ID: newID(), From: r.JID.String(), To: rr.Full.String(),
					Body: fmt.Sprintf("%d earlier %s while you were away %s not kept: this gateway keeps the last %d per room.",
						n, plural(n, "message", "messages"), plural(n, "was", "were"), kept)})
			}
			for _, m := range backlog {
				s.core.Send(ctx, m)
			}
			s.core.Send(ctx, subjectMessage(r, rr.Full))
			for _, p := range rr.Flush() {
				s.core.Send(ctx, p)
			}
		}
	})
}

// Leave handles an unavailable presence to room@domain/nick of legacy
// room id. It is lane work: the last resource out may leave the legacy
// room.
func (s *Service) Leave(ctx context.Context, in *stanza.In, id transports.ID) {
	user := in.From.Bare()
	u := user.String()
	var inRoom, last bool
	var r *Room
	if !s.core.Own(ctx, u, func(ctx context.Context) {
		ur := s.Rooms(u) // a leave creates nothing
		if ur == nil {
			return
		}
		if r = ur.Get(id); r == nil {
			return
		}
		var rr *Resource
		if rr, last = r.Leave(in.From.Resourcepart()); rr == nil {
			return
		}
		inRoom = true
		if rr.Phase() != Joining {
			s.core.Send(ctx, selfUnavailable(r, r.Nick, rr.Full, in.ChildText("", "status"), nil))
		}
	}) {
		return
	}
	if !inRoom {
		// Not in the room: confirm anyway, clients wait for it.
		s.core.SendQuiet(ctx, &stanza.Presence{Type: "unavailable", From: in.To.String(), To: in.From.String(),
			Extra: []any{&UserX{Item: &Item{Affiliation: "none", Role: "none"}, Status: Statuses(StatusSelf)}}})
		return
	}
	if last {
		s.lastResourceLeft(ctx, user, r)
	}
}

// ResourceGone removes user's resource res, which went offline, from
// every room. It is lane work, like Leave.
func (s *Service) ResourceGone(ctx context.Context, user jid.JID, res string) {
	var emptied []*Room
	s.core.Own(ctx, user.String(), func(context.Context) {
		ur := s.Rooms(user.String())
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
		s.lastResourceLeft(ctx, user, r)
	}
}

// lastResourceLeft decides what happens to a room the user's last
// resource left: bouncer mode or leaving the legacy room. It runs in the
// user's lane.
func (s *Service) lastResourceLeft(ctx context.Context, user jid.JID, r *Room) {
	if ctx.Err() != nil {
		return // shutting down: rooms stay as they are (bouncer rooms are rejoined at start)
	}
	u := user.String()
	if s.core.Registered(ctx, user) {
		settings, err := s.core.Settings(ctx, u)
		if err != nil {
			s.core.Logger().Warn("reading settings", "user", u, "err", err)
		}
		if s.core.StayConnected(settings) {
			s.core.After(leaveGrace, u, func(ctx context.Context) {
				stale := true
				s.core.Own(ctx, u, func(context.Context) {
					ur := s.Rooms(u)
					stale = ur == nil || !ur.Has(r) || !r.Empty()
				})
				if stale {
					return
				}
				if !s.core.Online(u) {
					s.core.Logger().Info("user offline: staying in the room", "user", u, "room", string(r.ID))
					return
				}
				s.leaveLegacy(ctx, user, r)
			})
			return
		}
	}
	s.leaveLegacy(ctx, user, r)
}

// leaveLegacy leaves the legacy room if no resource is in it any more. It
// runs in the user's lane.
func (s *Service) leaveLegacy(ctx context.Context, user jid.JID, r *Room) {
	if ctx.Err() != nil {
		return // shutting down: leaving is not the user's wish
	}
	u := user.String()
	gone, anon := false, false
	s.core.Own(ctx, u, func(context.Context) {
		ur := s.Rooms(u)
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
		s.ForgetRoom(ctx, user, r.ID)
	}
	if rooms, ok := r.Adapter.(transports.Rooms); ok && r.Adapter == s.core.Adapter(u) {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := rooms.LeaveRoom(lctx, r.ID); err != nil {
			s.core.Logger().Info("leaving legacy room", "user", u, "room", string(r.ID), "err", err)
		}
		cancel()
	}
	s.maybeStopAnon(ctx, user)
}

// SelfPing answers XEP-0410 pings to an occupant JID of room id: a
// result when the sender is in the room under that nick, not-acceptable
// otherwise. It returns at once: the answer is owner work, so the stream
// reader that calls it never waits for a user's work.
func (s *Service) SelfPing(in *stanza.In, id transports.ID) {
	u := in.From.Bare().String()
	s.core.Post(u, func(ctx context.Context) {
		joined := false
		if ur := s.Rooms(u); ur != nil {
			if r := ur.Get(id); r != nil && r.Adapter == s.core.Adapter(u) {
				rr := r.Resource(in.From.Resourcepart())
				joined = rr != nil && rr.Phase() != Joining && (in.To.Resourcepart() == "" || in.To.Resourcepart() == r.Nick)
			}
		}
		if !joined {
			s.core.ReplyError(in, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
			return
		}
		s.core.Result(in, nil)
	})
}
