package netstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-im/switchboard/storage"
)

// sharedBucket holds the state a network shares between its users:
//
//	bucket "netwide"  network \0 key -> the network's value
const sharedBucket = "netwide"

// Shared is one network's state shared by all its users (a phone number →
// user index, a pool of numbers), as transports.NetStore describes it.
// Unlike the per-user state it is not forgotten when a user unregisters:
// the network releases what it assigned. It is safe for concurrent use;
// CompareAndSwap is atomic in the storage backend (storage.Store.Update).
type Shared struct {
	st      storage.Store
	network string
}

// Shared returns network's shared state. network must be non-empty and
// free of NUL bytes; keys are checked on each call.
func (s *Store) Shared(network string) *Shared {
	return &Shared{st: s.st, network: network}
}

func (s *Shared) key(key string) (string, error) {
	if err := checkParts("network", s.network, "shared key", key); err != nil {
		return "", err
	}
	return s.network + "\x00" + key, nil
}

// Get returns the value under key, or an error wrapping [ErrNotFound].
func (s *Shared) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	v, err := s.st.Get(ctx, sharedBucket, k)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("netstate: %q of %s: %w", key, s.network, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("netstate: %q of %s: %w", key, s.network, err)
	}
	return v, nil
}

// Put stores value under key, replacing what was there.
func (s *Shared) Put(ctx context.Context, key string, value []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if err := s.st.Put(ctx, sharedBucket, k, value); err != nil {
		return fmt.Errorf("netstate: set %q of %s: %w", key, s.network, err)
	}
	return nil
}

// CompareAndSwap stores new under key if the value there is old (nil:
// absent), in one transaction, and reports whether it did; a nil new
// deletes the key.
func (s *Shared) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	k, err := s.key(key)
	if err != nil {
		return false, err
	}
	swapped := false
	err = s.st.Update(ctx, func(tx storage.Tx) error {
		swapped = false // the function may run more than once
		cur, err := tx.Get(sharedBucket, k)
		absent := errors.Is(err, storage.ErrNotFound)
		if err != nil && !absent {
			return err
		}
		if absent != (old == nil) || (!absent && !bytes.Equal(cur, old)) {
			return nil
		}
		swapped = true
		if new == nil {
			return tx.Delete(sharedBucket, k)
		}
		return tx.Put(sharedBucket, k, new)
	})
	if err != nil {
		return false, fmt.Errorf("netstate: compare and swap %q of %s: %w", key, s.network, err)
	}
	return swapped, nil
}

// Delete removes key; an absent key is not an error.
func (s *Shared) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if err := s.st.Delete(ctx, sharedBucket, k); err != nil {
		return fmt.Errorf("netstate: delete %q of %s: %w", key, s.network, err)
	}
	return nil
}

// Scan calls fn for every key that starts with prefix, in ascending byte
// order, with the network's own key. An error from fn stops the scan and
// is returned. fn must not call the store.
func (s *Shared) Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	if err := checkParts("network", s.network); err != nil {
		return err
	}
	head := s.network + "\x00"
	err := s.st.Scan(ctx, sharedBucket, head+prefix, func(k string, v []byte) error {
		return fn(k[len(head):], v)
	})
	if err != nil {
		return fmt.Errorf("netstate: scan %q of %s: %w", prefix, s.network, err)
	}
	return nil
}
