package muc

import (
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// The rooms of every user: the table is the service's, each user's entry
// and everything in it the user's owner goroutine's.

// User returns user's rooms, creating the entry. Owner work only.
func (s *Service) User(user string) *Rooms {
	s.mu.Lock()
	defer s.mu.Unlock()
	ur := s.users[user]
	if ur == nil {
		ur = NewRooms()
		s.users[user] = ur
	}
	return ur
}

// Rooms returns user's rooms, or nil when the user has none. Owner work
// only.
func (s *Service) Rooms(user string) *Rooms {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[user]
}

// Release forgets user's entry ur when it holds no room and no anonymous
// session, so the table holds only users with rooms. Owner work.
func (s *Service) Release(user string, ur *Rooms) {
	if !ur.Idle() {
		return
	}
	s.mu.Lock()
	if s.users[user] == ur {
		delete(s.users, user)
	}
	s.mu.Unlock()
}

// room returns user's rooms and the room id, or a nil room when
// the user is not in it (nil rooms too when they are in none). Owner
// work only: the room and everything in it belong to the user's owner
// goroutine, except its ID and JID, which never change.
func (s *Service) room(user jid.JID, id transports.ID) (*Rooms, *Room) {
	ur := s.Rooms(user.String())
	if ur == nil {
		return nil, nil
	}
	return ur, ur.Get(id)
}

// Room returns user's room id, or nil when the user is not in it. Owner
// work only (see room).
func (s *Service) Room(user jid.JID, id transports.ID) *Room {
	_, r := s.room(user, id)
	return r
}
