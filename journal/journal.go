// Package journal keeps, per network, the durable record of the users'
// messages on their way to the legacy network: a message stanza read from
// the XMPP stream is written here before its handling starts, and removed
// (Ack) once the legacy send returned (or failed with an error stanza
// sent to the user) and its message-ID pair is written. A process killed
// in between leaves the entry behind; the next holder of the domain reads
// it back (Pending) and handles the stanza again, once, with its original
// stanza id.
//
// Components have no stream management: the XMPP server counts a stanza
// written to the component's socket as delivered. Without this record a
// message the gateway had read but not yet sent to the legacy network
// (waiting in the user's lane, or in the network's send) is lost when the
// process dies.
//
// Duplicates are bounded: a message the legacy network took whose
// acknowledgement the kill prevented is sent again (IRC, SMTP and SMS
// sends are not idempotent): at most the user's messages in flight.
//
// # Bounds
//
// At most Limits.MaxPerUser entries per user and network ([Journal.Write]
// fails with [ErrFull] beyond: the caller refuses the stanza), and
// entries older than Limits.MaxAge are not handled again
// ([Entry.Expired]): the caller drops them with a log line and an error
// to the user, never silently.
//
// # Storage layout
//
//	queue "journal:" network -> entry: 8 bytes big-endian Unix
//	                            nanoseconds, the user's bare JID, NUL,
//	                            the stanza
//
// One queue per network keeps the order of reading; one Append and one
// Remove per message is its whole cost, and both are group commits:
// [Journal.WriteBatch] writes the entries of stanzas read back to back in
// one transaction, and concurrent [Journal.Ack]s remove theirs in one.
package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/storage"
)

// queuePrefix names a network's journal queue; see the package
// documentation.
const queuePrefix = "journal:"

// Defaults of Limits.
const (
	// DefaultMaxPerUser is above what a user can have waiting in the
	// component (200 stanzas in the lane, 32 in flight), so that the
	// journal refuses nothing the component would have taken.
	DefaultMaxPerUser = 256
	// DefaultMaxAge: a message older than this when the gateway comes
	// back is stale for a chat; the user is told it was not sent.
	DefaultMaxAge = 10 * time.Minute
)

// ErrFull is Write's error when the user has Limits.MaxPerUser entries
// unacknowledged already.
var ErrFull = errors.New("journal: too many of the user's messages unacknowledged")

// Limits bound a journal. Zero values mean the defaults.
type Limits struct {
	MaxPerUser int
	MaxAge     time.Duration
}

// Entry is one unacknowledged stanza, as Pending returns it.
type Entry struct {
	// Seq is the entry's place in the network's journal, for Ack.
	Seq uint64
	// User is the bare JID of the user who sent the stanza.
	User string
	// At is when the stanza was written.
	At time.Time
	// Stanza is the stanza as it was read from the stream.
	Stanza []byte
}

// Journal is the inbound journal of every network, in a
// [storage.Store]. It is safe for concurrent use and does not own its
// store.
type Journal struct {
	st     storage.Store
	limits Limits
	now    func() time.Time

	mu    sync.Mutex
	count map[userKey]int // entries written and not acknowledged
	// pending is the sum of count per network, kept as count changes,
	// so that Len costs no scan (it is read at every /metrics scrape).
	pending map[string]int
	acks    map[string]*acks // by network
}

type userKey struct{ network, user string }

// New returns the journals kept in st, which must not be nil.
func New(st storage.Store, limits Limits) *Journal {
	if limits.MaxPerUser <= 0 {
		limits.MaxPerUser = DefaultMaxPerUser
	}
	if limits.MaxAge <= 0 {
		limits.MaxAge = DefaultMaxAge
	}
	return &Journal{st: st, limits: limits, now: time.Now, count: make(map[userKey]int), pending: make(map[string]int),
		acks: make(map[string]*acks)}
}

// SetClock replaces the clock that dates entries and decides their age,
// for tests.
func (j *Journal) SetClock(now func() time.Time) { j.now = now }

// Write records stanza, read from the stream and sent by user (a bare
// JID), in network's journal and returns its sequence number. It fails
// with ErrFull, writing nothing, when the user has MaxPerUser entries
// unacknowledged. It blocks for one storage write.
func (j *Journal) Write(ctx context.Context, network, user string, stanza []byte) (uint64, error) {
	if err := check(network, user); err != nil {
		return 0, err
	}
	k := userKey{network, user}
	j.mu.Lock()
	if j.count[k] >= j.limits.MaxPerUser {
		j.mu.Unlock()
		return 0, fmt.Errorf("journal: %s on %s: %w", user, network, ErrFull)
	}
	j.count[k]++ // taken now, so concurrent writers cannot pass the cap
	j.pending[network]++
	j.mu.Unlock()

	seq, err := j.st.Append(ctx, queuePrefix+network, encode(uint64(j.now().UnixNano()), user, stanza))
	if err != nil {
		j.release(k)
		return 0, fmt.Errorf("journal: write for %s on %s: %w", user, network, err)
	}
	return seq, nil
}

// Record is one stanza for WriteBatch: read from the stream and sent by
// User (a bare JID).
type Record struct {
	User   string
	Stanza []byte
}

// WriteBatch records recs in network's journal, in their order, in one
// storage transaction (group commit: the stanzas a busy stream read back
// to back cost one durable write, not one each). seqs[i] is the sequence
// number of recs[i], or 0 with errs[i] saying why it was not written:
// ErrFull (wrapped) for a user over MaxPerUser, who keeps their other
// records' places, or the transaction's error for every record. It
// blocks for one storage transaction; the store may run its function
// more than once (storage.Store.Update), which writes each record once.
func (j *Journal) WriteBatch(ctx context.Context, network string, recs []Record) (seqs []uint64, errs []error) {
	seqs, errs = make([]uint64, len(recs)), make([]error, len(recs))
	taken := make([]int, 0, len(recs)) // indexes of the records counted against their cap
	j.mu.Lock()
	for i, r := range recs {
		if err := check(network, r.User); err != nil {
			errs[i] = err
			continue
		}
		k := userKey{network, r.User}
		if j.count[k] >= j.limits.MaxPerUser {
			errs[i] = fmt.Errorf("journal: %s on %s: %w", r.User, network, ErrFull)
			continue
		}
		j.count[k]++
		j.pending[network]++
		taken = append(taken, i)
	}
	j.mu.Unlock()
	if len(taken) == 0 {
		return seqs, errs
	}
	at := uint64(j.now().UnixNano())
	vals := make([][]byte, len(taken))
	for n, i := range taken {
		vals[n] = encode(at, recs[i].User, recs[i].Stanza)
	}
	got := make([]uint64, len(taken))
	err := j.st.Update(ctx, func(tx storage.Tx) error {
		for n, v := range vals {
			seq, err := tx.Append(queuePrefix+network, v)
			if err != nil {
				return err
			}
			got[n] = seq // overwritten by a retried run
		}
		return nil
	})
	for n, i := range taken {
		if err != nil {
			errs[i] = fmt.Errorf("journal: write for %s on %s: %w", recs[i].User, network, err)
			j.release(userKey{network, recs[i].User})
			continue
		}
		seqs[i] = got[n]
	}
	return seqs, errs
}

func encode(at uint64, user string, stanza []byte) []byte {
	v := make([]byte, 8, 8+len(user)+1+len(stanza))
	binary.BigEndian.PutUint64(v, at)
	v = append(v, user...)
	v = append(v, 0)
	return append(v, stanza...)
}

// Ack removes user's entry seq from network's journal: its stanza has
// been handled. Acknowledging an absent entry is not an error. It blocks
// until the entry's removal is written, or until ctx is done while the
// entry still waits for its write: it is then not removed (the next
// start handles it again). Concurrent Acks of a network share their
// write (group commit, as WriteBatch): while one writes, the others
// queue; the first of them then writes everything queued, in one
// storage transaction (one Remove for a single entry), in the order
// acknowledged.
func (j *Journal) Ack(ctx context.Context, network, user string, seq uint64) error {
	if err := check(network, user); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("journal: ack %d for %s on %s: %w", seq, user, network, err)
	}
	r := &ackReq{user: user, seq: seq, done: make(chan error, 1)}
	j.mu.Lock()
	a := j.acks[network]
	if a == nil {
		a = &acks{}
		j.acks[network] = a
	}
	a.queue = append(a.queue, r)
	if !a.writing {
		a.writing, r.leads = true, true
		r.done <- errLead
	}
	j.mu.Unlock()
	wait := ctx.Done()
	for {
		select {
		case err := <-r.done:
			if errors.Is(err, errLead) {
				j.writeAcks(network, a)
				continue
			}
			if err != nil {
				return fmt.Errorf("journal: ack %d for %s on %s: %w", seq, user, network, err)
			}
			return nil
		case <-wait:
			j.mu.Lock()
			if i := slices.Index(a.queue, r); i >= 0 && !r.leads {
				a.queue = slices.Delete(a.queue, i, i+1)
				j.mu.Unlock()
				return fmt.Errorf("journal: ack %d for %s on %s: %w", seq, user, network, ctx.Err())
			}
			j.mu.Unlock()
			// Being written, or made the writer (others wait for it):
			// the write's own timeout bounds the wait.
			wait = nil
		}
	}
}

// ackTimeout bounds one write of acknowledgements.
const ackTimeout = 10 * time.Second

// errLead, sent to a waiting Ack, makes it the writer of the queue.
var errLead = errors.New("journal: write the queued acknowledgements")

// acks are a network's acknowledgements waiting for their write.
type acks struct {
	queue   []*ackReq
	writing bool // an Ack is the writer: it writes the queue next
}

// ackReq is one Ack: its entry, and where its result goes.
type ackReq struct {
	user  string
	seq   uint64
	leads bool       // made the writer
	done  chan error // capacity 1: errLead, then the result
}

// writeAcks writes network's queued acknowledgements in one batch, hands
// the result to each, and makes the first Ack queued meanwhile the next
// writer (so no Ack waits behind others' batches longer than one), or
// ends the writing.
func (j *Journal) writeAcks(network string, a *acks) {
	j.mu.Lock()
	batch := a.queue
	a.queue = nil
	j.mu.Unlock()
	q := queuePrefix + network
	// Not the writer's context: the batch is everybody's.
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	var err error
	if len(batch) == 1 {
		err = j.st.Remove(ctx, q, batch[0].seq)
	} else {
		err = j.st.Update(ctx, func(tx storage.Tx) error {
			for _, r := range batch {
				if err := tx.Remove(q, r.seq); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, r := range batch {
		if err == nil {
			j.release(userKey{network, r.user})
		}
		r.done <- err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(a.queue) == 0 {
		a.writing = false
		return
	}
	next := a.queue[0]
	next.leads = true
	next.done <- errLead
}

func (j *Journal) release(k userKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.count[k]; !ok {
		return // counted before Pending recounted the network
	}
	if j.count[k]--; j.count[k] <= 0 {
		delete(j.count, k)
	}
	if j.pending[k.network]--; j.pending[k.network] <= 0 {
		delete(j.pending, k.network)
	}
}

// Len returns how many entries of network's journal are written and not
// acknowledged: those this Journal wrote, and those its last Pending
// returned. It does no I/O (a counter kept by Write, Ack and Pending),
// for the journal-length gauge on /metrics.
func (j *Journal) Len(network string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.pending[network]
}

// pageSize is how many entries Pending reads at a time.
const pageSize = 256

// Pending returns every unacknowledged entry of network's journal, in
// the order they were written (so in each user's order), and counts them
// against their users' cap until they are acknowledged, in place of what
// was counted for network before (a component that stopped and starts
// again counts what it left once). It is called once each time the
// component starts serving, before it writes new entries.
// An entry that cannot be read (not written by this package) is removed
// and reported in the error after the others are returned.
func (j *Journal) Pending(ctx context.Context, network string) ([]Entry, error) {
	if err := check(network, "-"); err != nil {
		return nil, err
	}
	var out []Entry
	var bad []error
	after := uint64(0)
	for {
		items, err := j.st.Range(ctx, queuePrefix+network, after, pageSize)
		if err != nil {
			return out, fmt.Errorf("journal: pending for %s: %w", network, err)
		}
		for _, it := range items {
			after = it.Seq
			e, ok := decode(it)
			if !ok {
				bad = append(bad, fmt.Errorf("journal: entry %d of %s unreadable, removed", it.Seq, network))
				if err := j.st.Remove(ctx, queuePrefix+network, it.Seq); err != nil {
					bad = append(bad, err)
				}
				continue
			}
			out = append(out, e)
		}
		if len(items) < pageSize {
			break
		}
	}
	j.mu.Lock()
	for k := range j.count {
		if k.network == network {
			delete(j.count, k)
		}
	}
	for _, e := range out {
		j.count[userKey{network, e.User}]++
	}
	j.pending[network] = len(out)
	j.mu.Unlock()
	return out, errors.Join(bad...)
}

// Expired reports whether e is older than the journal's MaxAge: it is
// not handled again, and its user is told.
func (j *Journal) Expired(e Entry) bool {
	return j.now().Sub(e.At) > j.limits.MaxAge
}

// MaxAge is the age beyond which an entry is not handled again.
func (j *Journal) MaxAge() time.Duration { return j.limits.MaxAge }

func decode(it storage.Item) (Entry, bool) {
	v := it.Value
	if len(v) < 8 {
		return Entry{}, false
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	rest := v[8:]
	i := bytes.IndexByte(rest, 0)
	if i <= 0 {
		return Entry{}, false
	}
	return Entry{Seq: it.Seq, User: string(rest[:i]), At: at, Stanza: rest[i+1:]}, true
}

// check rejects an empty network or user, or one with a NUL byte.
func check(network, user string) error {
	switch {
	case network == "" || user == "":
		return errors.New("journal: empty network or user")
	case strings.IndexByte(network, 0) >= 0 || strings.IndexByte(user, 0) >= 0:
		return errors.New("journal: network or user contains a NUL byte")
	}
	return nil
}
