// Package netstate keeps a network's own durable bookkeeping about each
// user (an IMAP mailbox's UIDVALIDITY and last delivered UID): what a
// network adapter reads and writes through transports.Account.Store.
// The keys under a user are the network's own; the registry forgets them
// all when the user unregisters.
//
// # Storage layout
//
// As the registry package stored it before this package existed, so
// existing databases keep working:
//
//	bucket "state"  network \0 user \0 key -> the network's value
//
// Network, user and key must be non-empty and free of NUL bytes.
package netstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/keyspace"
)

// ErrNotFound is returned, wrapped, by [Store.Get] when nothing is stored
// under the key.
var ErrNotFound = errors.New("no such network state")

// bucket holds the state; see the package documentation.
const bucket = "state"

// Store is the per-user network state in a [storage.Store]. It is safe for
// concurrent use, and does not own its store.
type Store struct {
	st storage.Store
}

// New returns the per-user network state kept in st, which must not be
// nil.
func New(st storage.Store) *Store {
	return &Store{st: st}
}

// Get returns what network stored under key for user, or an error wrapping
// [ErrNotFound].
func (s *Store) Get(ctx context.Context, user, network, key string) ([]byte, error) {
	if err := checkParts("user", user, "network", network, "state key", key); err != nil {
		return nil, err
	}
	v, err := s.st.Get(ctx, bucket, userPrefix(network, user)+key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("netstate: %q of %s on %s: %w", key, user, network, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("netstate: %q of %s on %s: %w", key, user, network, err)
	}
	return v, nil
}

// Put stores value under key for user on network, replacing what was
// there.
func (s *Store) Put(ctx context.Context, user, network, key string, value []byte) error {
	if err := checkParts("user", user, "network", network, "state key", key); err != nil {
		return err
	}
	if err := s.st.Put(ctx, bucket, userPrefix(network, user)+key, value); err != nil {
		return fmt.Errorf("netstate: set %q of %s on %s: %w", key, user, network, err)
	}
	return nil
}

// Forget deletes all state of user on network, in one transaction. The
// registry calls it when the user unregisters.
func (s *Store) Forget(ctx context.Context, user, network string) error {
	if err := checkParts("user", user, "network", network); err != nil {
		return err
	}
	if _, err := keyspace.DeletePrefix(ctx, s.st, bucket, userPrefix(network, user)); err != nil {
		return fmt.Errorf("netstate: forget %s on %s: %w", user, network, err)
	}
	return nil
}

// userPrefix starts the keys of user on network.
func userPrefix(network, user string) string {
	return network + "\x00" + user + "\x00"
}

// checkParts validates key parts given as name, value pairs (see
// [keyspace.Check]).
func checkParts(pairs ...string) error {
	if err := keyspace.Check(pairs...); err != nil {
		return fmt.Errorf("netstate: %w", err)
	}
	return nil
}
