package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/switchboard-im/switchboard/storage"
)

// ErrKeyMismatch is returned when the credentials key does not open what the
// database was sealed with: the key file was replaced, or another database
// was opened. Starting anyway would make every stored credential unreadable
// while looking healthy, so the caller must stop and name both files.
var ErrKeyMismatch = errors.New("registry: the key does not match the database")

const (
	bucketMeta  = "meta"
	keyCheckKey = "keycheck"
	// keyCheckText is sealed under the key; opening it proves the key.
	keyCheckText = "switchboard credentials key check v1"
)

// Sealed reports whether st was ever used with a credentials key: it holds
// the key's check value or any registration. A caller whose key file is
// missing must not create a new key for a sealed database.
func Sealed(ctx context.Context, st storage.Store) (bool, error) {
	if _, err := st.Get(ctx, bucketMeta, keyCheckKey); err == nil {
		return true, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("registry: reading the key check: %w", err)
	}
	errFound := errors.New("found")
	err := st.Scan(ctx, bucketRegistrations, "", func(string, []byte) error { return errFound })
	if errors.Is(err, errFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("registry: listing registrations: %w", err)
	}
	return false, nil
}

// checkKey verifies that key opens the database's check value, writing one
// for a database that has none. A database from before check values
// existed is judged by its first registration: if the key cannot open it,
// the key is not the database's.
func (r *Registry) checkKey(ctx context.Context) error {
	stored, err := r.st.Get(ctx, bucketMeta, keyCheckKey)
	switch {
	case err == nil:
		ns := r.aead.NonceSize()
		if len(stored) < ns {
			return fmt.Errorf("%w (its check value is damaged)", ErrKeyMismatch)
		}
		plain, err := r.aead.Open(nil, stored[:ns], stored[ns:], []byte(bucketMeta))
		if err != nil || !bytes.Equal(plain, []byte(keyCheckText)) {
			return ErrKeyMismatch
		}
		return nil
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("registry: reading the key check: %w", err)
	}
	// No check value yet: a new database, or one from an older version.
	type reg struct {
		user, network string
		data          []byte
	}
	var first *reg
	errFound := errors.New("found")
	err = r.st.Scan(ctx, bucketRegistrations, "", func(k string, v []byte) error {
		network, user, ok := bytes.Cut([]byte(k), []byte{0})
		if ok {
			first = &reg{string(user), string(network), bytes.Clone(v)}
		}
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return fmt.Errorf("registry: listing registrations: %w", err)
	}
	if first != nil {
		var rec record
		if json.Unmarshal(first.data, &rec) == nil && len(rec.Credentials) > 0 {
			if _, err := r.open(first.user, first.network, rec.Credentials); err != nil {
				return ErrKeyMismatch
			}
		}
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(keyCheckText)+r.aead.Overhead())
	rand.Read(nonce)
	sealed := r.aead.Seal(nonce, nonce, []byte(keyCheckText), []byte(bucketMeta))
	if err := r.st.Put(ctx, bucketMeta, keyCheckKey, sealed); err != nil {
		return fmt.Errorf("registry: writing the key check: %w", err)
	}
	return nil
}
