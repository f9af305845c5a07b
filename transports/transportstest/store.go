package transportstest

import (
	"context"
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// Store is a transports.Store in memory, for networks' tests. Share one
// value between connections to play a restart.
type Store struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get implements transports.Store.
func (s *Store) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, transports.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// Put implements transports.Store.
func (s *Store) Put(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	s.m[key] = append([]byte(nil), v...)
	return nil
}
