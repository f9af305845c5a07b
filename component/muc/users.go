package muc

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
