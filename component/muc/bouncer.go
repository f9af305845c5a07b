package muc

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Bouncer rooms: the rooms a registered user who stays connected is in
// are remembered (remember.go) and joined again when their session comes
// up; a session that ends takes its rooms with it; an anonymous session
// ends with the user's last room.

// RestoreRooms joins the remembered rooms of a registered user who stays
// connected, when their legacy session is (again) up. It runs in the
// user's lane.
func (s *Service) RestoreRooms(ctx context.Context, user jid.JID) {
	u := user.String()
	settings, err := s.core.Settings(ctx, u)
	if err != nil || !s.core.Registered(ctx, user) || !s.core.StayConnected(settings) {
		return
	}
	a := s.core.Adapter(u)
	rooms, ok := a.(transports.Rooms)
	if !ok {
		return
	}
	for id, nick := range RememberedRooms(settings) {
		roomJID, err := s.core.LegacyJID(id)
		if err != nil {
			continue
		}
		r := NewRoom(id, roomJID, a, nick)
		r.OccupantIDs = s.core.Capabilities().OccupantIDs
		added := false
		if !s.core.Own(ctx, u, func(context.Context) { added = s.User(u).PutNew(r) }) {
			return
		}
		if !added {
			continue
		}

		jctx, cancel := context.WithTimeout(ctx, joinTimeout)
		err = rooms.JoinRoom(jctx, id, nick)
		cancel()
		if err != nil {
			s.core.Own(ctx, u, func(context.Context) {
				if ur := s.Rooms(u); ur != nil {
					ur.Remove(r)
				}
			})
			s.core.Logger().Info("rejoining a remembered room failed", "user", u, "room", string(id), "err", err)
			if errors.Is(err, transports.ErrForbidden) || errors.Is(err, transports.ErrNotFound) {
				s.ForgetRoom(ctx, user, id)
				s.core.QueueOrSend(ctx, user, &stanza.Message{Type: "chat", ID: newID(), From: roomJID.String(), To: u,
					Body: "Could not rejoin " + string(id) + ": " + stanzaerr.FromLegacy(err).Text})
			}
			continue
		}
		s.core.Own(ctx, u, func(ctx context.Context) {
			if ur := s.Rooms(u); ur != nil && ur.Has(r) && !r.Ready() {
				s.roomReady(ctx, r, &transports.RoomReadyEvent{Room: id, Nick: r.Nick, Role: r.Role, Affiliation: r.Affiliation})
			}
		})
		s.core.Logger().Info("rejoined a remembered room", "user", u, "room", string(id))
	}
}

// maybeStopAnon ends the anonymous session of a user who is in no room
// any more, and forgets their room state when it is empty. It runs in the
// user's lane (Stop waits for the session).
func (s *Service) maybeStopAnon(ctx context.Context, user jid.JID) {
	u := user.String()
	stop := false
	s.core.Own(ctx, u, func(context.Context) {
		ur := s.Rooms(u)
		if ur == nil {
			return
		}
		stop = ur.Anon && ur.Len() == 0
		if stop {
			ur.Anon = false
		}
		s.Release(u, ur)
	})
	if stop && !s.core.Registered(ctx, user) {
		s.core.Logger().Info("anonymous user left their last room", "user", u)
		s.core.Stop(u)
	}
}

// dropRoom forgets a room the legacy session is no longer in and tells the
// joined resources they are out, with status and codes. Owner work.
func (s *Service) dropRoom(ctx context.Context, ur *Rooms, r *Room, status string, codes ...int) {
	ur.Remove(r)
	for _, rr := range r.DropResources() {
		s.core.Send(ctx, selfUnavailable(r, r.Nick, rr.Full, status, nil, codes...))
	}
}

// OnState forgets the rooms of a legacy session that ended, on a state
// event of user's session: a room belongs to the adapter that joined it,
// and its resources are told they are out. Owner work.
func (s *Service) OnState(ctx context.Context, user jid.JID, st transports.Status) {
	u := user.String()
	ur := s.Rooms(u)
	if ur == nil {
		return
	}
	cur := s.core.Adapter(u)
	status := "Disconnected from " + s.core.NetworkName()
	if st.Text != "" {
		status += ": " + stanzaerr.Detail(st.Text)
	}
	dropped := false
	for _, r := range ur.All() {
		if r.Adapter != cur {
			s.dropRoom(ctx, ur, r, status+".", StatusTechnical)
			dropped = true
		}
	}
	if dropped && ur.Len() == 0 { // and forget the emptied state
		s.core.Later(u, func(ctx context.Context) { s.maybeStopAnon(ctx, user) })
	}
}
