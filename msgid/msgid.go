// Package msgid keeps the durable map between legacy message IDs and XMPP
// stanza or origin IDs, per user, network and conversation, so that
// receipts, corrections, retractions, reactions and replies can be
// translated in both directions, also after a restart. Old pairs are pruned
// so the map does not grow forever.
//
// # Storage layout
//
// Keys join their parts with NUL bytes, and every part is rejected if it is
// empty or contains a NUL, so distinct parts always give distinct keys. The
// layout is the one the registry package used before the map had a package
// of its own, so existing databases keep working:
//
//	bucket "msgids"  network \0 user \0 conv \0 "l" legacy -> XMPP ID \0 base-36 Unix seconds
//	                 network \0 user \0 conv \0 "x" XMPP   -> legacy ID \0 base-36 Unix seconds
//	                 network \0 user \0 conv \0 "r" legacy -> a receipt awaiting the network's report (receipts.go)
//
// Values written before pruning existed hold only the ID.
package msgid

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/keyspace"
)

// ErrNoMapping is returned, wrapped, by [Map.LegacyID] and [Map.XMPPID]
// when the message ID has no counterpart.
var ErrNoMapping = errors.New("no message ID mapping")

// bucket holds the map; see the package documentation.
const bucket = "msgids"

// Directions of the map, named after the ID the key holds.
const (
	legacyDir = "l"
	xmppDir   = "x"
)

// Map is the message-ID map in a [storage.Store]. It is safe for
// concurrent use, and does not own its store.
type Map struct {
	st storage.Store
}

// New returns the message-ID map kept in st, which must not be nil.
func New(st storage.Store) *Map {
	return &Map{st: st}
}

// Pair records that, in conversation (a legacy contact or room ID) of user
// on network, the legacy message legacyID and the XMPP stanza or origin ID
// xmppID are the same message.
//
// The map is one-to-one: pairing an ID that is already paired replaces its
// previous pairing in both directions.
func (m *Map) Pair(ctx context.Context, user, network, conversation, legacyID, xmppID string) error {
	if err := checkParts("user", user, "network", network, "conversation", conversation,
		"legacy message ID", legacyID, "XMPP message ID", xmppID); err != nil {
		return err
	}
	fwd := key(network, user, conversation, legacyDir, legacyID)
	rev := key(network, user, conversation, xmppDir, xmppID)
	now := time.Now()
	// One transaction: two writers pairing the same IDs at once cannot
	// leave a half pointing at a pairing the other replaced.
	err := m.st.Update(ctx, func(tx storage.Tx) error {
		// Drop the stale reverse halves of earlier pairings of either ID.
		if old, err := tx.Get(bucket, fwd); err == nil && idOf(old) != xmppID {
			if err := tx.Delete(bucket, key(network, user, conversation, xmppDir, idOf(old))); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if old, err := tx.Get(bucket, rev); err == nil && idOf(old) != legacyID {
			if err := tx.Delete(bucket, key(network, user, conversation, legacyDir, idOf(old))); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := tx.Put(bucket, fwd, value(xmppID, now)); err != nil {
			return err
		}
		return tx.Put(bucket, rev, value(legacyID, now))
	})
	if err != nil {
		return fmt.Errorf("msgid: pair message IDs of %s on %s: %w", user, network, err)
	}
	return nil
}

// PairOnce is Pair inside the transaction tx, for a caller that writes
// something else (the outbox's stanza) in the same transaction: unless
// legacyID was paired before, in which case it writes nothing and returns
// false. Its errors, like tx's, abort the transaction.
func PairOnce(tx storage.Tx, user, network, conversation, legacyID, xmppID string) (paired bool, err error) {
	if err := checkParts("user", user, "network", network, "conversation", conversation,
		"legacy message ID", legacyID, "XMPP message ID", xmppID); err != nil {
		return false, err
	}
	fwd := key(network, user, conversation, legacyDir, legacyID)
	rev := key(network, user, conversation, xmppDir, xmppID)
	if _, err := tx.Get(bucket, fwd); err == nil {
		return false, nil // delivered (or on its way) already
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, err
	}
	if old, err := tx.Get(bucket, rev); err == nil && idOf(old) != legacyID {
		if err := tx.Delete(bucket, key(network, user, conversation, legacyDir, idOf(old))); err != nil {
			return false, err
		}
	}
	now := time.Now()
	if err := tx.Put(bucket, fwd, value(xmppID, now)); err != nil {
		return false, err
	}
	if err := tx.Put(bucket, rev, value(legacyID, now)); err != nil {
		return false, err
	}
	return true, nil
}

// Unnamed records that the XMPP message xmppID of conversation reached
// the network, which gave it no ID of its own: [Map.LegacyID] then
// returns "" for it, so that a reference to it (a reply, a correction) is
// never taken for a legacy ID. A pairing xmppID already has (its echo
// carried an ID) is kept.
func (m *Map) Unnamed(ctx context.Context, user, network, conversation, xmppID string) error {
	if err := checkParts("user", user, "network", network, "conversation", conversation, "XMPP message ID", xmppID); err != nil {
		return err
	}
	rev := key(network, user, conversation, xmppDir, xmppID)
	err := m.st.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Get(bucket, rev); err == nil {
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return tx.Put(bucket, rev, value("", time.Now()))
	})
	if err != nil {
		return fmt.Errorf("msgid: record an unnamed message of %s on %s: %w", user, network, err)
	}
	return nil
}

// LegacyID returns the legacy message ID paired with xmppID in
// conversation of user on network ("" for a message recorded
// [Map.Unnamed]), or an error wrapping [ErrNoMapping].
func (m *Map) LegacyID(ctx context.Context, user, network, conversation, xmppID string) (string, error) {
	return m.lookup(ctx, user, network, conversation, xmppDir, "XMPP message ID", xmppID)
}

// XMPPID returns the XMPP stanza or origin ID paired with legacyID in
// conversation of user on network, or an error wrapping [ErrNoMapping].
func (m *Map) XMPPID(ctx context.Context, user, network, conversation, legacyID string) (string, error) {
	return m.lookup(ctx, user, network, conversation, legacyDir, "legacy message ID", legacyID)
}

func (m *Map) lookup(ctx context.Context, user, network, conversation, dir, what, id string) (string, error) {
	if err := checkParts("user", user, "network", network, "conversation", conversation, what, id); err != nil {
		return "", err
	}
	v, err := m.st.Get(ctx, bucket, key(network, user, conversation, dir, id))
	if errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("msgid: %s %q of %s on %s: %w", what, id, user, network, ErrNoMapping)
	}
	if err != nil {
		return "", fmt.Errorf("msgid: %s %q of %s on %s: %w", what, id, user, network, err)
	}
	return idOf(v), nil
}

// Forget deletes every pair of user on network, in one transaction. The
// registry calls it when the user unregisters.
func (m *Map) Forget(ctx context.Context, user, network string) error {
	if err := checkParts("user", user, "network", network); err != nil {
		return err
	}
	if _, err := keyspace.DeletePrefix(ctx, m.st, bucket, network+"\x00"+user+"\x00"); err != nil {
		return fmt.Errorf("msgid: forget %s on %s: %w", user, network, err)
	}
	return nil
}

// Prune forgets pairs made before before, and receipts awaited since
// then (records without a time count as old), so the map does not grow
// forever; it returns how many records it deleted. Replies, reactions and
// corrections to older messages then go unmapped, and their delivery
// reports unanswered.
func (m *Map) Prune(ctx context.Context, before time.Time) (int, error) {
	var old []string
	err := m.st.Scan(ctx, bucket, "", func(k string, v []byte) error {
		if mappedAt(v).Before(before) {
			old = append(old, k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("msgid: prune: %w", err)
	}
	// A transaction holds up to batch keys of one user: a backend that
	// shards by user (Redis Cluster) keeps each user's keys in one place,
	// and cannot commit a transaction across users.
	const batch = 1000
	for i, j := 0, 0; i < len(old); i = j {
		for j = i + 1; j < len(old) && j-i < batch && userOf(old[j]) == userOf(old[i]); j++ {
		}
		part := old[i:j]
		err := m.st.Update(ctx, func(tx storage.Tx) error {
			for _, k := range part {
				if err := tx.Delete(bucket, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return i, fmt.Errorf("msgid: prune: %w", err)
		}
	}
	return len(old), nil
}

// userOf returns the network \0 user part of a map key.
func userOf(k string) string {
	n := strings.IndexByte(k, 0)
	if n < 0 {
		return k
	}
	if u := strings.IndexByte(k[n+1:], 0); u >= 0 {
		return k[:n+1+u]
	}
	return k
}

// key is the map key of id in direction dir.
func key(network, user, conversation, dir, id string) string {
	return network + "\x00" + user + "\x00" + conversation + "\x00" + dir + id
}

// value is a stored half of the map: the ID and when it was paired (base
// 36 Unix seconds), for Prune.
func value(id string, at time.Time) []byte {
	return []byte(id + "\x00" + strconv.FormatInt(at.Unix(), 36))
}

// idOf returns the ID of a stored half (older records hold only the ID).
func idOf(v []byte) string {
	id, _, _ := strings.Cut(string(v), "\x00")
	return id
}

// mappedAt returns when a stored record was written (its last field:
// pairs and awaited receipts alike), or the zero time for older records.
func mappedAt(v []byte) time.Time {
	i := strings.LastIndexByte(string(v), 0)
	if i < 0 {
		return time.Time{}
	}
	n, err := strconv.ParseInt(string(v[i+1:]), 36, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// checkParts validates key parts given as name, value pairs (see
// [keyspace.Check]).
func checkParts(pairs ...string) error {
	if err := keyspace.Check(pairs...); err != nil {
		return fmt.Errorf("msgid: %w", err)
	}
	return nil
}
