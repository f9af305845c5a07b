// Package outbox keeps, per network, the durable queue of stanzas waiting
// for the XMPP stream: a stanza is written here before anything else
// happens to it, handed to the stream in order, and removed once the
// server has taken it (Ack). A stanza the server will not take goes to the
// network's bounded dead-letter record instead, where an admin can see it.
//
// # Storage layout
//
// As the registry package stored it before this package existed, so
// existing databases keep working:
//
//	queue "outbox:" network      -> stanza
//	queue "deadletter:" network  -> JSON DeadLetter
//
// [Outbox.EnqueueOnce] also writes the message-ID map (package msgid) in
// the same transaction.
//
// # Fencing
//
// When several instances share the store, one at a time flushes a
// network's outbox: the holder of its domain's lease (package lease).
// [Outbox.Hold] makes the flush's writes (Ack, DeadLetter) carry that
// lease, so that an instance which lost it (paused past its TTL while a
// standby took over) cannot remove what the new holder has still to send:
// those writes then fail with an error wrapping [ErrFenced]. Enqueueing is
// not fenced: what a former holder's adapters still receive is kept, and
// the new holder sends it.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/storage"
)

// queuePrefix names a network's outbox queue; see the package
// documentation.
const queuePrefix = "outbox:"

// Item is one stanza of an outbox, as returned by [Outbox.Pending].
type Item struct {
	// Seq is the stanza's place in the outbox, for Ack and DeadLetter:
	// unique per network and increasing, also across restarts.
	Seq uint64
	// Stanza is the stanza as it will be written to the stream.
	Stanza []byte
}

// ErrFenced is [storage.ErrFenced], for callers that see no storage
// types: Ack and DeadLetter return it, wrapped, when the lease given to
// Hold is no longer held.
var ErrFenced = storage.ErrFenced

// Outbox is the outbox of every network, in a [storage.Store]. It is safe
// for concurrent use, and does not own its store.
type Outbox struct {
	st storage.Store
	// fenced, once Hold was called with a store that hands out leases,
	// is the store's view fenced by that lease, for the flush's writes.
	fenced atomic.Pointer[storage.Store]
	// queues caches each network's queue name (network -> string), so
	// that the stanza path does not build it for every call.
	queues sync.Map
}

// New returns the outboxes kept in st, which must not be nil.
func New(st storage.Store) *Outbox {
	return &Outbox{st: st}
}

// Enqueue appends stanza, opaque bytes, to network's outbox and returns its
// sequence number.
func (o *Outbox) Enqueue(ctx context.Context, network string, stanza []byte) (uint64, error) {
	if err := checkNetwork(network); err != nil {
		return 0, err
	}
	seq, err := o.st.Append(ctx, o.queue(network), stanza)
	if err != nil {
		return 0, fmt.Errorf("outbox: enqueue for %s: %w", network, err)
	}
	return seq, nil
}

// EnqueueOnce appends stanza to network's outbox and pairs legacy message
// legacyID of conversation with XMPP ID xmppID in the message-ID map, in
// one transaction: unless legacyID was paired before, in which case
// nothing is written and enqueued is false. A network that delivers a
// message again after a crash (IMAP: fetched, delivered, killed before it
// saved its place) thus reaches the user exactly once.
func (o *Outbox) EnqueueOnce(ctx context.Context, user, network, conversation, legacyID, xmppID string, stanza []byte) (enqueued bool, err error) {
	if err := checkNetwork(network); err != nil {
		return false, err
	}
	err = o.st.Update(ctx, func(tx storage.Tx) error {
		// The function may run again (see storage.Store.Update): a run
		// that enqueued and was then thrown away must not leave true
		// behind when the run that commits finds the pair made by
		// another writer.
		enqueued = false
		paired, err := msgid.PairOnce(tx, user, network, conversation, legacyID, xmppID)
		if err != nil || !paired {
			return err
		}
		if _, err := tx.Append(o.queue(network), stanza); err != nil {
			return err
		}
		enqueued = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("outbox: enqueue %s for %s on %s: %w", legacyID, user, network, err)
	}
	return enqueued, nil
}

// Pending returns up to max stanzas of network's outbox that have not been
// acknowledged, oldest first.
func (o *Outbox) Pending(ctx context.Context, network string, max int) ([]Item, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	items, err := o.st.Range(ctx, o.queue(network), 0, max)
	if err != nil {
		return nil, fmt.Errorf("outbox: pending for %s: %w", network, err)
	}
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = Item{Seq: it.Seq, Stanza: it.Value}
	}
	return out, nil
}

// Ack removes the stanza with sequence number seq from network's outbox once
// it has been handed to the XMPP stream. Acknowledging an absent stanza is
// not an error.
func (o *Outbox) Ack(ctx context.Context, network string, seq uint64) error {
	if err := checkNetwork(network); err != nil {
		return err
	}
	if err := o.flushStore().Remove(ctx, o.queue(network), seq); err != nil {
		return fmt.Errorf("outbox: ack %d for %s: %w", seq, network, err)
	}
	return nil
}

// Hold makes the flush's writes from now on (Ack, DeadLetter) carry
// lease l, the holding of the domain whose outbox this is: once l is no
// longer held they write nothing and fail with an error wrapping
// ErrFenced. With a store that hands out no leases (bbolt, one process)
// Hold does nothing. It does no I/O.
func (o *Outbox) Hold(l storage.Lease) {
	if ls, ok := o.st.(storage.Leaser); ok {
		f := ls.Fenced(l)
		o.fenced.Store(&f)
	}
}

// flushStore is where the flush's writes go: the fenced view once Hold
// gave one.
func (o *Outbox) flushStore() storage.Store {
	if f := o.fenced.Load(); f != nil {
		return *f
	}
	return o.st
}

// queue returns the name of network's outbox queue.
func (o *Outbox) queue(network string) string {
	if q, ok := o.queues.Load(network); ok {
		return q.(string)
	}
	q := queuePrefix + network
	o.queues.Store(network, q)
	return q
}

// checkNetwork rejects a network name that is empty or contains a NUL
// byte.
func checkNetwork(network string) error {
	if network == "" {
		return errors.New("outbox: empty network")
	}
	if strings.IndexByte(network, 0) >= 0 {
		return errors.New("outbox: network contains a NUL byte")
	}
	return nil
}
