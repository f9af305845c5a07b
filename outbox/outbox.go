// Package outbox keeps, per network and user, the durable queue of
// stanzas waiting for the XMPP stream: a stanza is written here before
// anything else happens to it, handed to the stream in order, and removed
// once the server has taken it (Ack). A stanza the server will not take
// goes to the network's bounded dead-letter record instead, where an admin
// can see it.
//
// # Storage layout
//
//	queue network \0 user \0 "outbox"   -> stanza (one queue per recipient)
//	bucket "outbox-users": network \0 user -> 8 bytes big-endian: the last
//	                                         number appended to that queue
//	queue "outbox:" network              -> stanza (before per-user queues)
//	queue "deadletter:" network          -> JSON DeadLetter
//
// Each recipient (the bare JID a stanza is addressed to, a user of the
// gateway in practice) has a queue of its own, named in the keyspace
// layout, so that a backend which partitions per user (a Redis Cluster)
// keeps it in the user's slot: [Outbox.EnqueueOnce] writes the message-ID
// map (package msgid) and the stanza in one transaction, which a Cluster
// refuses across slots. The "outbox-users" entry, written in the same
// transaction as every append, says that the queue may have stanzas, so
// the flusher finds the recipients with work by reading that bucket, not
// every queue: at its first Pending and every RescanEvery after (a
// backstop for what other processes enqueued), in between from what this
// process enqueued. A scan removes the entries of queues it finds empty,
// unless appended to since; draining a queue writes nothing more.
//
// The network-wide queue "outbox:" network is what earlier versions
// wrote: it is still read, before anything else, until it is empty, so a
// database written by them drains after the upgrade.
//
// # Order
//
// A recipient's stanzas are handed out in the order they were enqueued;
// those of different recipients in no promised order (the single queue of
// earlier versions kept one order for the whole network; nothing relied on
// it, since no client sees another's stanzas, and a room's message reaches
// each occupant as a stanza of their own). [Outbox.Pending] starts each
// call with another recipient, so one long queue does not hold up the
// others.
//
// # Fencing
//
// When several instances share the store, one at a time flushes a
// network's outbox: the holder of its domain's lease (package lease).
// [Outbox.Hold] makes the flush's writes (Ack, DeadLetter) carry that
// lease, so that an instance which lost it (paused past its TTL while a
// standby took over) cannot remove what the new holder has still to send:
// those writes then fail with an error wrapping [ErrFenced] (on a Redis
// Cluster, an Ack in a user's slot is checked against that slot's
// fencing token; see storage/redis). Enqueueing is
// not fenced: what a former holder's adapters still receive is kept, and
// the new holder sends it (found by [Outbox.Pending]'s periodic scan of
// the "outbox-users" bucket, since it was not enqueued in its process).
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/keyspace"
)

// queuePrefix names a network's queue of earlier versions; see the
// package documentation.
const queuePrefix = "outbox:"

// userQueueSuffix ends a recipient's queue name, hintBucket holds which
// recipients' queues may have stanzas; see the package documentation.
const (
	userQueueSuffix = "\x00outbox"
	hintBucket      = "outbox-users"
)

// RescanEvery is how often Pending reads the whole "outbox-users" bucket
// again, for what this process did not enqueue itself (a former holder of
// the domain that wrote after losing it): a flusher calls Pending at least
// this often, so that such stanzas wait no longer than about twice this.
// A scan costs a read per recipient of the network with an entry (one
// round trip each on Redis).
const RescanEvery = 15 * time.Second

// Item is one stanza of an outbox, as returned by [Outbox.Pending].
type Item struct {
	// User is the recipient whose queue holds the stanza, for Ack and
	// DeadLetter; "" for the network-wide queue of earlier versions.
	User string
	// Seq is the stanza's place in that queue, for Ack and DeadLetter:
	// unique per queue and increasing, also across restarts.
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

	// rescan is how often Pending reads the "outbox-users" bucket again
	// (RescanEvery; tests shorten it).
	rescan time.Duration

	mu   sync.Mutex
	nets map[string]*recipients // by network
}

// recipients is what an Outbox remembers of one network's recipients
// with work: a cache of the "outbox-users" bucket, so that Pending does
// not scan it every time.
type recipients struct {
	// users are the recipients whose queue may have stanzas, each with
	// the tick of when it was last noted, so that a Pending that found
	// the queue empty before an enqueue does not forget it.
	users map[string]uint64
	// lens are the recipients' queue lengths ("" the queue of earlier
	// versions): read at each scan of the bucket, kept by enqueues and
	// acknowledgements between, for Len.
	lens    map[string]int
	tick    uint64
	scanned time.Time // when the bucket was last read whole
	next    int       // where the next Pending starts, in sorted users
	drained bool      // the queue of earlier versions was found empty
}

// New returns the outboxes kept in st, which must not be nil.
func New(st storage.Store) *Outbox {
	return &Outbox{st: st, rescan: RescanEvery, nets: make(map[string]*recipients)}
}

// Enqueue appends stanza, opaque bytes addressed to user (a bare JID), to
// user's outbox on network and returns its sequence number in that queue.
func (o *Outbox) Enqueue(ctx context.Context, user, network string, stanza []byte) (uint64, error) {
	if err := checkNetwork(network); err != nil {
		return 0, err
	}
	if err := keyspace.Check("user", user); err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	// The append and its "outbox-users" entry in one step: one Lua
	// script on Redis (an Update costs four round trips there).
	seq, err := storage.AppendMarked(ctx, o.st, userQueue(network, user), stanza, hintBucket, hintKey(network, user))
	if err != nil {
		return 0, fmt.Errorf("outbox: enqueue for %s on %s: %w", user, network, err)
	}
	o.note(network, user)
	return seq, nil
}

// EnqueueOnce appends stanza to user's outbox on network and pairs legacy
// message legacyID of conversation with XMPP ID xmppID in the message-ID
// map, in one transaction (in one user's keys: one slot of a Redis
// Cluster): unless legacyID was paired before, in which case nothing is
// written and enqueued is false. A network that delivers a message again
// after a crash (IMAP: fetched, delivered, killed before it saved its
// place) thus reaches the user exactly once.
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
		if _, err := appendFor(tx, user, network, stanza); err != nil {
			return err
		}
		enqueued = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("outbox: enqueue %s for %s on %s: %w", legacyID, user, network, err)
	}
	if enqueued {
		o.note(network, user)
	}
	return enqueued, nil
}

// appendFor appends stanza to user's queue in tx and records that the
// queue has it, as storage.AppendMarked does outside a transaction.
func appendFor(tx storage.Tx, user, network string, stanza []byte) (uint64, error) {
	seq, err := tx.Append(userQueue(network, user), stanza)
	if err != nil {
		return 0, err
	}
	if err := tx.Put(hintBucket, hintKey(network, user), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return 0, err
	}
	return seq, nil
}

// Pending returns up to max stanzas of network's outbox that have not been
// acknowledged: each recipient's oldest first, in order; several
// recipients' in one call, starting with another recipient each call.
// Stanzas left by an earlier version in the network-wide queue come
// before all others, until that queue is empty. It reads the queues of the recipients
// this Outbox knows to have stanzas; on its first call for network, and
// every RescanEvery, it reads the "outbox-users" bucket first, and removes
// the entries of queues found empty there (the only time it writes).
func (o *Outbox) Pending(ctx context.Context, network string, max int) ([]Item, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	r, err := o.recipients(ctx, network)
	if err != nil {
		return nil, fmt.Errorf("outbox: pending for %s: %w", network, err)
	}
	var out []Item
	if !r.drained {
		items, err := o.st.Range(ctx, queuePrefix+network, 0, max)
		if err != nil {
			return nil, fmt.Errorf("outbox: pending for %s: %w", network, err)
		}
		if len(items) == max {
			return toItems(nil, "", items), nil
		}
		// All of the old queue, before anything of the users' queues.
		out = toItems(nil, "", items)
		if len(items) == 0 {
			o.mu.Lock()
			r.drained = true
			delete(r.lens, "")
			o.mu.Unlock()
		}
	}
	users, ticks, start := o.rotation(network)
	for i := range users {
		if len(out) >= max {
			break
		}
		k := (start + i) % len(users)
		u := users[k]
		items, err := o.st.Range(ctx, userQueue(network, u), 0, max-len(out))
		if err != nil {
			return nil, fmt.Errorf("outbox: pending for %s on %s: %w", u, network, err)
		}
		if len(items) == 0 {
			// Its entry in the bucket stays until the next scan, so that
			// draining a queue costs no write; this process forgets it
			// unless it was noted since the tick read before the Range.
			o.forget(network, u, ticks[k])
			continue
		}
		out = toItems(out, u, items)
	}
	return out, nil
}

// toItems appends user's storage items to out.
func toItems(out []Item, user string, items []storage.Item) []Item {
	for _, it := range items {
		out = append(out, Item{User: user, Seq: it.Seq, Stanza: it.Value})
	}
	return out
}

// settle returns how many stanzas user's queue on network has, and
// removes its "outbox-users" entry when it has none and there was no
// append since the entry was read: the entry holds the last number
// appended, read before the queue is, and the transaction deletes it only
// if it still holds that number (an append in between changes it, and its
// transaction conflicts with this one).
func (o *Outbox) settle(ctx context.Context, network, user string, last []byte) (int, error) {
	n, err := o.st.Len(ctx, userQueue(network, user))
	if err != nil || n > 0 {
		return n, err
	}
	key := hintKey(network, user)
	err = o.st.Update(ctx, func(tx storage.Tx) error {
		v, err := tx.Get(hintBucket, key)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && string(v) != string(last)) {
			return nil // gone, or appended to since: its stanza is noted
		}
		if err != nil {
			return err
		}
		return tx.Delete(hintBucket, key)
	})
	return 0, err
}

// recipients returns network's cached recipients, after reading the
// "outbox-users" bucket when it was never read or RescanEvery passed.
func (o *Outbox) recipients(ctx context.Context, network string) (*recipients, error) {
	o.mu.Lock()
	r := o.nets[network]
	if r == nil {
		r = &recipients{users: make(map[string]uint64), lens: make(map[string]int)}
		o.nets[network] = r
	}
	due := time.Since(r.scanned) >= o.rescan
	o.mu.Unlock()
	if !due {
		return r, nil
	}
	began := time.Now()
	type hint struct {
		user string
		last []byte
	}
	var found []hint
	prefix := network + "\x00"
	err := o.st.Scan(ctx, hintBucket, prefix, func(key string, v []byte) error {
		found = append(found, hint{strings.TrimPrefix(key, prefix), v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	lens := make(map[string]int, len(found)+1)
	if !r.drained {
		n, err := o.st.Len(ctx, queuePrefix+network)
		if err != nil {
			return nil, err
		}
		lens[""] = n
	}
	for _, h := range found {
		n, err := o.settle(ctx, network, h.user, h.last)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			o.note(network, h.user)
			lens[h.user] = n
		}
	}
	o.mu.Lock()
	r.scanned = began
	r.lens = lens
	o.mu.Unlock()
	return r, nil
}

// rotation returns network's recipients with work, sorted, each with its
// tick, and where this call starts among them.
func (o *Outbox) rotation(network string) (users []string, ticks []uint64, start int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.nets[network]
	for u := range r.users {
		users = append(users, u)
	}
	if len(users) == 0 {
		return nil, nil, 0
	}
	slices.Sort(users)
	for _, u := range users {
		ticks = append(ticks, r.users[u])
	}
	start = r.next % len(users)
	r.next = start + 1
	return users, ticks, start
}

// note records that user's queue on network has a stanza.
func (o *Outbox) note(network, user string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.nets[network]
	if r == nil {
		// Not read yet: the first Pending scans the bucket (which has
		// it) and counts again; until then Len counts what was noted.
		r = &recipients{users: make(map[string]uint64), lens: make(map[string]int)}
		o.nets[network] = r
	}
	r.tick++
	r.users[user] = r.tick
	r.lens[user]++
}

// forget drops user from network's cached recipients, unless it was
// noted again since tick.
func (o *Outbox) forget(network, user string, tick uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r := o.nets[network]; r != nil && r.users[user] == tick {
		delete(r.users, user)
		delete(r.lens, user)
	}
}

// acked counts one stanza less in user's queue on network.
func (o *Outbox) acked(network, user string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r := o.nets[network]; r != nil && r.lens[user] > 0 {
		if r.lens[user]--; r.lens[user] == 0 {
			delete(r.lens, user)
		}
	}
}

// Len returns how many stanzas network's outbox holds, as this Outbox
// knows: read at its last scan of the "outbox-users" bucket (its first
// Pending, then every RescanEvery), counted up by its enqueues and down
// by its acknowledgements since. Stanzas another process enqueued count
// from the next scan. It does no I/O, for the outbox gauge on /metrics;
// before the first Pending it counts only this Outbox's enqueues.
func (o *Outbox) Len(network string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	if r := o.nets[network]; r != nil {
		for _, l := range r.lens {
			n += l
		}
	}
	return n
}

// Count reads how many stanzas network's outbox holds, from the store:
// the length of every queue the "outbox-users" bucket names, and of the
// queue of earlier versions. It reads no stanza and writes nothing, for
// `switchboard status`.
func (o *Outbox) Count(ctx context.Context, network string) (int, error) {
	if err := checkNetwork(network); err != nil {
		return 0, err
	}
	n, err := o.st.Len(ctx, queuePrefix+network)
	if err != nil {
		return 0, fmt.Errorf("outbox: count for %s: %w", network, err)
	}
	var users []string
	prefix := network + "\x00"
	err = o.st.Scan(ctx, hintBucket, prefix, func(key string, _ []byte) error {
		users = append(users, strings.TrimPrefix(key, prefix))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: count for %s: %w", network, err)
	}
	for _, u := range users {
		l, err := o.st.Len(ctx, userQueue(network, u))
		if err != nil {
			return 0, fmt.Errorf("outbox: count for %s: %w", network, err)
		}
		n += l
	}
	return n, nil
}

// Ack removes the stanza with sequence number seq from user's outbox on
// network (user "" for the network-wide queue of earlier versions) once
// it has been handed to the XMPP stream. Acknowledging an absent stanza is
// not an error.
func (o *Outbox) Ack(ctx context.Context, network, user string, seq uint64) error {
	if err := checkNetwork(network); err != nil {
		return err
	}
	q := queuePrefix + network
	if user != "" {
		q = userQueue(network, user)
	}
	if err := o.flushStore().Remove(ctx, q, seq); err != nil {
		return fmt.Errorf("outbox: ack %d for %s on %s: %w", seq, user, network, err)
	}
	o.acked(network, user)
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

// userQueue returns the name of user's outbox queue on network.
func userQueue(network, user string) string {
	return network + "\x00" + user + userQueueSuffix
}

// hintKey is user's key in the "outbox-users" bucket.
func hintKey(network, user string) string {
	return network + "\x00" + user
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
