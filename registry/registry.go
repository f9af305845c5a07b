// Package registry keeps track of who registered on which legacy network, with
// which credentials and settings, and checks that the credentials key is
// the database's. What else is kept per registration lives in packages of
// its own — the message-ID map (msgid) and a network's own state
// (netstate) — which Unregister asks, through [UserData], to forget the
// user; the outbox is package outbox.
//
// Credentials are sealed with XChaCha20-Poly1305 before they reach the
// [storage.Store]; their plaintext is never stored, logged or put in an
// error. The associated data of each sealed blob binds it to its user and
// network, so a blob copied to another registration fails to open.
//
// # Storage layout
//
// Keys join their parts with NUL bytes, and every part (user, network) is
// rejected if it is empty or contains a NUL, so distinct parts always give
// distinct keys. The network comes first, which makes listing a network's
// registrations a prefix scan ordered by user:
//
//	bucket "registrations"  network \0 user  -> JSON record
//	bucket "settings"       network \0 user  -> JSON object
//	bucket "meta"           "keycheck"      -> a text sealed under the key
package registry

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/keyspace"
	"golang.org/x/crypto/chacha20poly1305"
)

// ErrNotRegistered is returned, wrapped, when a user has no registration on a
// network.
var ErrNotRegistered = errors.New("not registered")

// KeySize is the length in bytes of the key that seals credentials.
const KeySize = chacha20poly1305.KeySize

// Storage names; see the package documentation.
const (
	bucketRegistrations = "registrations"
	bucketSettings      = "settings"
)

// recordVersion is the version of the registration record format.
const recordVersion = 1

// record is a registration as stored.
type record struct {
	Version int `json:"v"`
	// Credentials is nonce || ciphertext of the JSON-encoded credentials;
	// encoding/json stores it as base64.
	Credentials []byte    `json:"credentials"`
	Created     time.Time `json:"created"`
}

// Registration is one user's account on one legacy network.
type Registration struct {
	User        string            // bare JID, e.g. "alice@localhost"
	Network     string            // network name, e.g. "irc"
	Credentials map[string]string // opened (plaintext) credentials
	Created     time.Time         // when the user first registered
}

// Registry stores registrations and their settings in a [storage.Store].
// It is safe for concurrent use. A Registry does not own its store: closing
// the store is up to the caller.
type Registry struct {
	st   storage.Store
	aead cipher.AEAD
	also []UserData
}

// UserData is what another package keeps per registration (the message-ID
// map, a network's own state), to be deleted with it.
type UserData interface {
	// Forget deletes everything kept for user on network; there being
	// nothing is not an error. It does I/O on the store and may block on
	// it. Unregister calls it before it deletes the registration, stops
	// at its first error and keeps the registration then, so calling
	// Unregister again retries.
	Forget(ctx context.Context, user, network string) error
}

// New returns a Registry that keeps its data in st and seals credentials with
// key, which must be [KeySize] bytes long (see [LoadOrCreateKey]). also
// lists what is kept per registration elsewhere, forgotten by Unregister.
func New(st storage.Store, key []byte, also ...UserData) (*Registry, error) {
	if st == nil {
		return nil, errors.New("registry: nil store")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("registry: key is %d bytes, want %d", len(key), KeySize)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{st: st, aead: aead, also: also}
	if err := r.checkKey(context.Background()); err != nil {
		return nil, err
	}
	return r, nil
}

// Register stores the registration of user on network with the given
// credentials, replacing the credentials of an existing registration (which
// keeps its original creation time). Credential names and values must be
// valid UTF-8.
func (r *Registry) Register(ctx context.Context, user, network string, creds map[string]string) error {
	if err := checkParts("user", user, "network", network); err != nil {
		return err
	}
	for k, v := range creds {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			// Say nothing about which value: it could be a secret.
			return fmt.Errorf("registry: register %s on %s: credentials are not valid UTF-8", user, network)
		}
	}
	key := userKey(network, user)
	created := time.Now().UTC()
	switch old, err := r.st.Get(ctx, bucketRegistrations, key); {
	case err == nil:
		// Keep the creation time even if the old credentials cannot be
		// opened any more; they are being replaced anyway.
		var rec record
		if json.Unmarshal(old, &rec) == nil && !rec.Created.IsZero() {
			created = rec.Created
		}
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("registry: register %s on %s: %w", user, network, err)
	}
	data, err := json.Marshal(record{
		Version:     recordVersion,
		Credentials: r.seal(user, network, creds),
		Created:     created,
	})
	if err != nil {
		return fmt.Errorf("registry: register %s on %s: %w", user, network, err)
	}
	if err := r.st.Put(ctx, bucketRegistrations, key, data); err != nil {
		return fmt.Errorf("registry: register %s on %s: %w", user, network, err)
	}
	return nil
}

// Lookup returns the registration of user on network, with its credentials
// opened. It returns an error wrapping [ErrNotRegistered] if there is none.
func (r *Registry) Lookup(ctx context.Context, user, network string) (Registration, error) {
	if err := checkParts("user", user, "network", network); err != nil {
		return Registration{}, err
	}
	data, err := r.st.Get(ctx, bucketRegistrations, userKey(network, user))
	if errors.Is(err, storage.ErrNotFound) {
		return Registration{}, fmt.Errorf("registry: %s on %s: %w", user, network, ErrNotRegistered)
	}
	if err != nil {
		return Registration{}, fmt.Errorf("registry: lookup %s on %s: %w", user, network, err)
	}
	return r.decode(user, network, data)
}

// Unregister deletes the registration of user on network together with its
// settings, after asking each [UserData] given to New to forget the user.
// It returns an error wrapping [ErrNotRegistered] if there is no such
// registration.
//
// The registration itself is deleted last, so that if Unregister fails
// half-way calling it again finishes the job.
func (r *Registry) Unregister(ctx context.Context, user, network string) error {
	if err := checkParts("user", user, "network", network); err != nil {
		return err
	}
	key := userKey(network, user)
	if _, err := r.st.Get(ctx, bucketRegistrations, key); errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("registry: unregister %s on %s: %w", user, network, ErrNotRegistered)
	} else if err != nil {
		return fmt.Errorf("registry: unregister %s on %s: %w", user, network, err)
	}
	for _, d := range r.also {
		if err := d.Forget(ctx, user, network); err != nil {
			return fmt.Errorf("registry: unregister %s on %s: %w", user, network, err)
		}
	}
	err := r.st.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Delete(bucketSettings, key); err != nil {
			return err
		}
		return tx.Delete(bucketRegistrations, key)
	})
	if err != nil {
		return fmt.Errorf("registry: unregister %s on %s: %w", user, network, err)
	}
	return nil
}

// List calls fn for every registration on network, ordered by user (bytewise),
// with credentials opened. fn may call methods of r.
//
// If fn returns an error, List stops and returns it. A registration whose
// record cannot be decoded or opened (for instance after the key changed) is
// skipped so that the others are still listed; List then returns an error
// counting the skipped records once all others have been visited.
func (r *Registry) List(ctx context.Context, network string, fn func(Registration) error) error {
	if err := checkParts("network", network); err != nil {
		return err
	}
	// fn may use the store, which it must not do inside Scan: read the
	// records first. 10 000 registrations take a few megabytes.
	type raw struct {
		user string
		data []byte
	}
	var all []raw
	prefix := network + "\x00"
	err := r.st.Scan(ctx, bucketRegistrations, prefix, func(k string, v []byte) error {
		all = append(all, raw{strings.TrimPrefix(k, prefix), v})
		return nil
	})
	if err != nil {
		return fmt.Errorf("registry: list %s: %w", network, err)
	}
	var (
		skipped  int
		firstErr error
	)
	for _, rr := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("registry: list %s: %w", network, err)
		}
		reg, err := r.decode(rr.user, network, rr.data)
		if err != nil {
			if skipped == 0 {
				firstErr = err
			}
			skipped++
			continue
		}
		if err := fn(reg); err != nil {
			return err
		}
	}
	if skipped > 0 {
		return fmt.Errorf("registry: list %s: skipped %d of %d registrations; first: %w", network, skipped, len(all), firstErr)
	}
	return nil
}

// Count returns the number of registrations on network.
func (r *Registry) Count(ctx context.Context, network string) (int, error) {
	if err := checkParts("network", network); err != nil {
		return 0, err
	}
	n := 0
	err := r.st.Scan(ctx, bucketRegistrations, network+"\x00", func(string, []byte) error {
		n++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("registry: count %s: %w", network, err)
	}
	return n, nil
}

// Settings returns the settings of user on network: an empty, non-nil map
// when none were set.
func (r *Registry) Settings(ctx context.Context, user, network string) (map[string]string, error) {
	if err := checkParts("user", user, "network", network); err != nil {
		return nil, err
	}
	data, err := r.st.Get(ctx, bucketSettings, userKey(network, user))
	if errors.Is(err, storage.ErrNotFound) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: settings of %s on %s: %w", user, network, err)
	}
	s := map[string]string{}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("registry: settings of %s on %s: %w", user, network, err)
	}
	return s, nil
}

// SetSettings replaces all settings of user on network with s; an empty s
// removes them. Names and values must be valid UTF-8. Settings are stored in
// the clear: secrets belong in the credentials.
func (r *Registry) SetSettings(ctx context.Context, user, network string, s map[string]string) error {
	if err := checkParts("user", user, "network", network); err != nil {
		return err
	}
	key := userKey(network, user)
	if len(s) == 0 {
		if err := r.st.Delete(ctx, bucketSettings, key); err != nil {
			return fmt.Errorf("registry: set settings of %s on %s: %w", user, network, err)
		}
		return nil
	}
	for k, v := range s {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("registry: set settings of %s on %s: setting %q is not valid UTF-8", user, network, k)
		}
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("registry: set settings of %s on %s: %w", user, network, err)
	}
	if err := r.st.Put(ctx, bucketSettings, key, data); err != nil {
		return fmt.Errorf("registry: set settings of %s on %s: %w", user, network, err)
	}
	return nil
}

// seal encrypts creds for user on network, returning nonce || ciphertext.
func (r *Registry) seal(user, network string, creds map[string]string) []byte {
	if creds == nil {
		creds = map[string]string{}
	}
	plain, _ := json.Marshal(creds) // a map[string]string always marshals
	defer clear(plain)
	nonce := make([]byte, r.aead.NonceSize(), r.aead.NonceSize()+len(plain)+r.aead.Overhead())
	rand.Read(nonce) // never returns an error; crashes the program instead
	return r.aead.Seal(nonce, nonce, plain, associatedData(user, network))
}

// open reverses seal. Its errors never include any part of the plaintext.
func (r *Registry) open(user, network string, sealed []byte) (map[string]string, error) {
	ns := r.aead.NonceSize()
	if len(sealed) < ns+r.aead.Overhead() {
		return nil, errors.New("sealed credentials are truncated")
	}
	plain, err := r.aead.Open(nil, sealed[:ns], sealed[ns:], associatedData(user, network))
	if err != nil {
		return nil, fmt.Errorf("cannot open credentials (wrong key, or sealed for another user or network): %w", err)
	}
	defer clear(plain)
	creds := map[string]string{}
	if err := json.Unmarshal(plain, &creds); err != nil {
		// Do not wrap: decoding errors quote bits of the input.
		return nil, errors.New("opened credentials are malformed")
	}
	return creds, nil
}

// decode turns a stored record of user on network into a Registration.
func (r *Registry) decode(user, network string, data []byte) (Registration, error) {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Registration{}, fmt.Errorf("registry: registration of %s on %s: %w", user, network, err)
	}
	if rec.Version != recordVersion {
		return Registration{}, fmt.Errorf("registry: registration of %s on %s: unknown record version %d", user, network, rec.Version)
	}
	creds, err := r.open(user, network, rec.Credentials)
	if err != nil {
		return Registration{}, fmt.Errorf("registry: registration of %s on %s: %w", user, network, err)
	}
	return Registration{User: user, Network: network, Credentials: creds, Created: rec.Created}, nil
}

// associatedData binds sealed credentials to their user and network.
func associatedData(user, network string) []byte {
	return []byte(user + "\x00" + network)
}

// userKey is the key of user's registration and settings on network.
func userKey(network, user string) string {
	return network + "\x00" + user
}

// checkParts validates key parts given as name, value pairs (see
// [keyspace.Check]).
func checkParts(pairs ...string) error {
	if err := keyspace.Check(pairs...); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}
