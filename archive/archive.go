// Package archive keeps the room messages each user's legacy session
// received, per user, network and room, so that the component can serve
// them with XEP-0313 (Message Archive Management) and as <history/> on
// join. The archive is per user because each user has their own legacy
// session: what one user's IRC connection saw is not another's.
//
// It is bounded twice: by size (the latest MaxPerRoom messages of a room
// are kept, the oldest go first) and by age (Prune forgets messages older
// than a number of days; the application runs it daily).
//
// Writes are cheap on the hot path: Add only queues the message in
// memory; a flusher (Run) writes what is queued in one storage
// transaction every FlushEvery, and Add flushes itself when BatchMax
// messages wait. Query and Flush write what is queued first, so a reader
// always sees every message added before it asked. A process killed
// between two flushes loses what was queued (at most FlushEvery of
// messages): the archive is a convenience for catching up, not the
// delivery path, which the outbox keeps durable.
//
// # Storage layout
//
// Keys join their parts with NUL bytes, and every part is rejected if it is
// empty or contains a NUL, so distinct parts always give distinct keys:
//
//	bucket "archive"  network \0 user \0 room \0 "m"             -> first and next sequence number, base 36
//	                  network \0 user \0 room \0 "s" 16 hex digits -> the message (JSON), by sequence number
//	                  network \0 user \0 room \0 "i" archive ID     -> its sequence number, 16 hex digits
//
// Sequence numbers are the archive order: the order in which the user's
// session received the messages.
package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/keyspace"
)

// ErrNotFound is returned, wrapped, by [Archive.Query] when the archive ID
// a page is asked after or before is not (or no longer) in the room's
// archive.
var ErrNotFound = errors.New("archive: no such message")

const bucket = "archive"

// Defaults of [Bounds].
const (
	DefaultDays       = 30
	DefaultMaxPerRoom = 1000
	// FlushEvery is how long an added message may wait in memory before
	// Run writes it.
	FlushEvery = 250 * time.Millisecond
	// BatchMax is how many queued messages make Add write them itself.
	BatchMax = 512
	// MaxPage is the most messages one query returns; DefaultPage is
	// how many it returns when the query does not say.
	MaxPage     = 250
	DefaultPage = 50
)

// Bounds limit what the archive keeps.
type Bounds struct {
	// Days is how long a message is kept; Prune forgets older ones. 0
	// means DefaultDays.
	Days int
	// MaxPerRoom is how many messages of one room one user's archive
	// keeps; the oldest go first. 0 means DefaultMaxPerRoom.
	MaxPerRoom int
}

// Entry is one archived room message.
type Entry struct {
	// ID is the archive ID, unique in the room's archive: the message's
	// stanza-id (its legacy ID where the network gave one).
	ID string `json:"i"`
	// Legacy reports whether ID is the network's ID of the message.
	Legacy bool `json:"l,omitempty"`
	// Time is when the message was said (the network's time where it has
	// one, else when the session received it).
	Time time.Time `json:"t"`
	// Nick is who said it; "" with Own for the user.
	Nick string `json:"n,omitempty"`
	Body string `json:"b,omitempty"`
	// Action: a /me message.
	Action bool `json:"a,omitempty"`
	// Own: the user's own message; OriginID is its XMPP ID.
	Own      bool   `json:"o,omitempty"`
	OriginID string `json:"x,omitempty"`
	// ReplyTo is the archive ID of the message it answers (XEP-0461).
	ReplyTo string `json:"r,omitempty"`
	// Links are the files the message carried, as links (XEP-0066).
	Links []Link `json:"f,omitempty"`

	// Replace, when set, makes the entry a correction (XEP-0308) of the
	// message the room's members know by this id; Body is its new text.
	// Retract makes it a retraction (XEP-0424) of the message with this
	// stanza-id, by its author Nick, or, with Moderated, by the room's
	// moderator By ("" when the network does not name them) for Reason
	// (XEP-0425). Such entries are archived as Prosody's MUC archive
	// keeps them, messages of their own with their own archive ID, in
	// the order they came, so that a client catching up applies them;
	// they count towards the bounds like any message.
	Replace   string `json:"c,omitempty"`
	Retract   string `json:"d,omitempty"`
	Moderated bool   `json:"m,omitempty"`
	By        string `json:"y,omitempty"`
	Reason    string `json:"w,omitempty"`
}

// Edit reports whether e corrects or retracts another message rather
// than saying something of its own.
func (e *Entry) Edit() bool { return e.Replace != "" || e.Retract != "" }

// Link is a file of an archived message: where it was uploaded, and its
// name.
type Link struct {
	URL  string `json:"u"`
	Name string `json:"n,omitempty"`
}

// Archive is the room archive in a [storage.Store]. It is safe for
// concurrent use, and does not own its store.
type Archive struct {
	st     storage.Store
	bounds Bounds

	mu      sync.Mutex
	pending []pending

	// flushMu orders flushes, so that sequence numbers follow the order
	// of Add; it guards perUser.
	flushMu sync.Mutex
	// perUser: the store refused a transaction across users, so each
	// flush writes one per user.
	perUser bool
}

type pending struct {
	prefix string // network \0 user \0 room \0
	e      Entry
}

// New returns the archive kept in st, which must not be nil, within b.
func New(st storage.Store, b Bounds) *Archive {
	if b.Days <= 0 {
		b.Days = DefaultDays
	}
	if b.MaxPerRoom <= 0 {
		b.MaxPerRoom = DefaultMaxPerRoom
	}
	return &Archive{st: st, bounds: b}
}

// Bounds returns the archive's bounds, defaults filled in.
func (a *Archive) Bounds() Bounds { return a.bounds }

// Add archives e in room of user on network. It does not block on
// storage unless BatchMax messages are queued, in which case it writes
// them (that error is returned, and the batch is lost). An entry whose ID
// is already in the room's archive is not archived again. Errors are for
// the caller to log; nobody retries.
func (a *Archive) Add(ctx context.Context, user, network, room string, e Entry) error {
	if err := check("user", user, "network", network, "room", room, "archive ID", e.ID); err != nil {
		return err
	}
	a.mu.Lock()
	a.pending = append(a.pending, pending{prefix: prefix(network, user, room), e: e})
	full := len(a.pending) >= BatchMax
	a.mu.Unlock()
	if full {
		return a.Flush(ctx)
	}
	return nil
}

// Flush writes every queued message: in one transaction, or one per user
// on a backend that keeps each user's keys apart (Redis Cluster refuses a
// transaction across users, and writes nothing then; after the first such
// refusal the archive writes per user). It does I/O and blocks on it. On
// error the messages that could not be written are lost (and counted in
// the error); nobody retries.
func (a *Archive) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if !a.perUser {
		err := a.write(ctx, batch)
		users := byUser(batch)
		if err == nil || len(users) == 1 {
			if err != nil {
				return fmt.Errorf("archive: %d messages not archived: %w", len(batch), err)
			}
			return nil
		}
		if err := a.writeEach(ctx, users); err != nil {
			return err
		}
		a.perUser = true
		return nil
	}
	return a.writeEach(ctx, byUser(batch))
}

// writeEach writes each user's messages in a transaction of its own.
func (a *Archive) writeEach(ctx context.Context, users [][]pending) error {
	lost := 0
	var first error
	for _, b := range users {
		if err := a.write(ctx, b); err != nil {
			lost += len(b)
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return fmt.Errorf("archive: %d messages not archived: %w", lost, first)
	}
	return nil
}

// byUser splits batch by user (network and user), keeping the order of
// each user's messages.
func byUser(batch []pending) [][]pending {
	var out [][]pending
	index := make(map[string]int)
	for _, p := range batch {
		u := userOf(p.prefix)
		i, ok := index[u]
		if !ok {
			i = len(out)
			index[u] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], p)
	}
	return out
}

// userOf returns the network \0 user \0 part of a key.
func userOf(k string) string {
	n := strings.IndexByte(k, 0)
	if n < 0 {
		return k
	}
	if u := strings.IndexByte(k[n+1:], 0); u >= 0 {
		return k[:n+2+u]
	}
	return k
}

// write writes batch in one transaction.
func (a *Archive) write(ctx context.Context, batch []pending) error {
	return a.st.Update(ctx, func(tx storage.Tx) error {
		metas := make(map[string]*meta)
		for _, p := range batch {
			m := metas[p.prefix]
			if m == nil {
				var err error
				if m, err = readMeta(tx, p.prefix); err != nil {
					return err
				}
				metas[p.prefix] = m
			}
			if err := a.put(tx, p, m); err != nil {
				return err
			}
		}
		for pfx, m := range metas {
			if err := tx.Put(bucket, pfx+"m", m.encode()); err != nil {
				return err
			}
		}
		return nil
	})
}

// put writes one message in tx and lets the oldest go beyond MaxPerRoom.
func (a *Archive) put(tx storage.Tx, p pending, m *meta) error {
	ik := p.prefix + "i" + p.e.ID
	if _, err := tx.Get(bucket, ik); err == nil {
		return nil // archived already
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	v, err := json.Marshal(p.e)
	if err != nil {
		return err
	}
	seq := m.next
	m.next++
	if err := tx.Put(bucket, p.prefix+"s"+seqKey(seq), v); err != nil {
		return err
	}
	if err := tx.Put(bucket, ik, []byte(seqKey(seq))); err != nil {
		return err
	}
	for m.next-m.first > uint64(a.bounds.MaxPerRoom) {
		sk := p.prefix + "s" + seqKey(m.first)
		m.first++
		old, err := tx.Get(bucket, sk)
		if errors.Is(err, storage.ErrNotFound) {
			continue // pruned for its age
		} else if err != nil {
			return err
		}
		var oe Entry
		if err := json.Unmarshal(old, &oe); err == nil {
			if err := tx.Delete(bucket, p.prefix+"i"+oe.ID); err != nil {
				return err
			}
		}
		if err := tx.Delete(bucket, sk); err != nil {
			return err
		}
	}
	return nil
}

// Run writes queued messages every FlushEvery until ctx ends, then once
// more. Its owner runs it on a goroutine of its own; several may run on
// one Archive. Errors are logged to log: a lost batch is not retried.
func (a *Archive) Run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := a.Flush(fctx); err != nil {
				log.Warn("archiving room messages", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				log.Warn("archiving room messages", "err", err)
			}
		}
	}
}

// Query is what a page of a room's archive is asked for: the filters
// (Start, End, With) choose the messages, then the paging (After, Before,
// Last, Max) chooses the page among them, as XEP-0059 does.
type Query struct {
	// Start and End bound the messages' times, inclusive; zero: no bound.
	Start, End time.Time
	// With keeps only the messages of this nick; "": everybody's.
	With string
	// AfterID and BeforeID keep only the messages archived after,
	// before the message with this archive ID (filters, like Start and
	// End: they change Count, not the direction of paging).
	AfterID, BeforeID string
	// IDs, if any, keeps only the messages with these archive IDs.
	IDs []string
	// NoEdits leaves out corrections and retractions (Entry.Edit), for
	// a history that shows what was said.
	NoEdits bool
	// After asks for the page right after the message with this archive
	// ID; Before for the page right before it. Last (with Before empty)
	// asks for the last page. Neither: the first page.
	After, Before string
	Last          bool
	// Max is the page size; negative means DefaultPage, and it is at most
	// MaxPage. 0 asks only for the count.
	Max int
}

// Page is one page of a query's result.
type Page struct {
	// Entries are oldest first.
	Entries []Entry
	// Count is how many messages match the filters, on every page.
	Count int
	// Index is the position of Entries[0] among them.
	Index int
	// Complete reports that no page is left in the direction of paging:
	// forward (first page, After) the page reaches the last match (or
	// the Before bound), backward (Before, Last) it starts at the first
	// (or the After bound).
	Complete bool
}

// Query returns a page of room's archive of user on network. It writes
// what is queued first. An ID asked for (After, Before, AfterID, BeforeID,
// IDs) that is not in the archive is an error wrapping ErrNotFound; storage errors are returned wrapped.
// It does I/O and may block on storage; nobody retries.
func (a *Archive) Query(ctx context.Context, user, network, room string, q Query) (Page, error) {
	if err := check("user", user, "network", network, "room", room); err != nil {
		return Page{}, err
	}
	if err := a.Flush(ctx); err != nil {
		return Page{}, err
	}
	pfx := prefix(network, user, room)
	anchor := func(id string) (uint64, error) {
		v, err := a.st.Get(ctx, bucket, pfx+"i"+id)
		if errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("archive: message %q: %w", id, ErrNotFound)
		} else if err != nil {
			return 0, fmt.Errorf("archive: %w", err)
		}
		n, err := strconv.ParseUint(string(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("archive: message %q: bad index %w", id, err)
		}
		return n, nil
	}
	// Sequence numbers of the IDs asked for; 0 is no bound.
	var afterID, beforeID, after, before uint64
	for _, b := range []struct {
		id  string
		seq *uint64
	}{{q.AfterID, &afterID}, {q.BeforeID, &beforeID}, {q.After, &after}, {q.Before, &before}} {
		if b.id == "" {
			continue
		}
		n, err := anchor(b.id)
		if err != nil {
			return Page{}, err
		}
		*b.seq = n
	}
	var only map[uint64]bool
	for _, id := range q.IDs {
		n, err := anchor(id)
		if err != nil {
			return Page{}, err
		}
		if only == nil {
			only = make(map[uint64]bool)
		}
		only[n] = true
	}

	type match struct {
		seq uint64
		e   Entry
	}
	var all []match
	err := a.st.Scan(ctx, bucket, pfx+"s", func(k string, v []byte) error {
		seq, err := strconv.ParseUint(k[len(pfx)+1:], 16, 64)
		if err != nil {
			return nil // not a message key
		}
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil
		}
		if !q.Start.IsZero() && e.Time.Before(q.Start) || !q.End.IsZero() && e.Time.After(q.End) {
			return nil
		}
		if q.NoEdits && e.Edit() || q.With != "" && e.Nick != q.With || afterID != 0 && seq <= afterID || beforeID != 0 && seq >= beforeID || only != nil && !only[seq] {
			return nil
		}
		all = append(all, match{seq, e})
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("archive: %w", err)
	}

	size := q.Max
	if size < 0 {
		size = DefaultPage
	}
	size = min(size, MaxPage)
	// [lo, hi) is the window the paging looks in.
	lo, hi := 0, len(all)
	if q.After != "" {
		for lo < hi && all[lo].seq <= after {
			lo++
		}
	}
	if q.Before != "" {
		for hi > lo && all[hi-1].seq >= before {
			hi--
		}
	}
	backward := q.Before != "" || q.Last
	start, end := lo, min(lo+size, hi)
	if backward {
		start, end = max(hi-size, lo), hi
	}
	p := Page{Count: len(all), Index: start}
	for _, m := range all[start:end] {
		p.Entries = append(p.Entries, m.e)
	}
	if backward {
		p.Complete = start == lo
	} else {
		p.Complete = end == hi
	}
	return p, nil
}

// Latest returns at most max of the latest messages of room said at or
// after since (zero: any time), oldest first, like transports.History,
// and how many messages the room's archive holds in all; corrections and
// retractions are in neither.
func (a *Archive) Latest(ctx context.Context, user, network, room string, since time.Time, max int) ([]Entry, int, error) {
	all, err := a.Query(ctx, user, network, room, Query{Max: 0, NoEdits: true})
	if err != nil {
		return nil, 0, err
	}
	p, err := a.Query(ctx, user, network, room, Query{Start: since, Last: true, Max: max, NoEdits: true})
	return p.Entries, all.Count, err
}

// Forget deletes every archived message of user on network. The registry
// calls it when the user unregisters; queued messages of the user are
// written first, so they go too.
func (a *Archive) Forget(ctx context.Context, user, network string) error {
	if err := check("user", user, "network", network); err != nil {
		return err
	}
	if err := a.Flush(ctx); err != nil {
		return err
	}
	if _, err := keyspace.DeletePrefix(ctx, a.st, bucket, network+"\x00"+user+"\x00"); err != nil {
		return fmt.Errorf("archive: forget %s on %s: %w", user, network, err)
	}
	return nil
}

// Prune forgets messages said before before, in every archive, and
// returns how many it deleted. It does I/O and may take a while on a large
// archive; errors are for the caller to log, who runs it again later.
func (a *Archive) Prune(ctx context.Context, before time.Time) (int, error) {
	if err := a.Flush(ctx); err != nil {
		return 0, err
	}
	var old []string
	err := a.st.Scan(ctx, bucket, "", func(k string, v []byte) error {
		i := strings.LastIndexByte(k, 0)
		if i < 0 || i+1 >= len(k) || k[i+1] != 's' {
			return nil
		}
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil || !e.Time.Before(before) {
			return nil
		}
		old = append(old, k, k[:i+1]+"i"+e.ID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("archive: prune: %w", err)
	}
	// A transaction holds up to batch keys of one user (a backend that
	// shards by user, Redis Cluster, cannot commit one across users); an
	// even number, so that a message and its index go together.
	const batch = 1000
	for i, j := 0, 0; i < len(old); i = j {
		for j = i + 2; j < len(old) && j-i < batch && userOf(old[j]) == userOf(old[i]); j += 2 {
		}
		part := old[i:j]
		err := a.st.Update(ctx, func(tx storage.Tx) error {
			for _, k := range part {
				if err := tx.Delete(bucket, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return i / 2, fmt.Errorf("archive: prune: %w", err)
		}
	}
	return len(old) / 2, nil
}

// meta is a room archive's sequence numbers: the oldest that may still be
// kept and the next to give.
type meta struct{ first, next uint64 }

func readMeta(tx storage.Tx, pfx string) (*meta, error) {
	v, err := tx.Get(bucket, pfx+"m")
	if errors.Is(err, storage.ErrNotFound) {
		return &meta{first: 1, next: 1}, nil
	} else if err != nil {
		return nil, err
	}
	f, n, ok := strings.Cut(string(v), ",")
	first, err1 := strconv.ParseUint(f, 36, 64)
	next, err2 := strconv.ParseUint(n, 36, 64)
	if !ok || err1 != nil || err2 != nil || first > next || first == 0 {
		return nil, fmt.Errorf("corrupt archive record %q", v)
	}
	return &meta{first: first, next: next}, nil
}

func (m *meta) encode() []byte {
	return []byte(strconv.FormatUint(m.first, 36) + "," + strconv.FormatUint(m.next, 36))
}

func prefix(network, user, room string) string {
	return network + "\x00" + user + "\x00" + room + "\x00"
}

// seqKey is a sequence number as 16 hex digits, so keys sort in order.
func seqKey(n uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b[:])
}

// check validates key parts given as name, value pairs (see
// [keyspace.Check]).
func check(pairs ...string) error {
	if err := keyspace.Check(pairs...); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}
