package email

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/switchboard-im/switchboard/transports"
)

// maxThreads bounds the threads remembered per user; the least recently
// used is forgotten first (a reply to it is then a new mail with the
// thread's ID as In-Reply-To).
const maxThreads = 1000

// threadKey names a conversation: a thread ID as one peer used it. Keying
// by the peer too means another sender's References cannot take over a
// thread.
type threadKey struct {
	peer   string // lower-case address
	thread string
}

// id is the key's fixed-size name in the index.
func (k threadKey) id() string {
	h := sha256.Sum256([]byte(k.peer + "\x00" + k.thread))
	return hex.EncodeToString(h[:16])
}

// Keys of the thread state in the user's transports.Store. A thread lives
// in one of max slots ("thread/0" … "thread/999"), reused when the least
// recently used thread is forgotten, so the store holds at most max+1
// keys per user; the index lists the slots' threads, most recent first.
const (
	threadIndexKey   = "threads"
	threadSlotPrefix = "thread/"
)

// indexEntry is one thread in the stored index.
type indexEntry struct {
	ID   string `json:"k"` // threadKey.id
	Slot int    `json:"s"`
}

// storedThread is a thread as stored in its slot. It names its key, so a
// slot that was reused (or written without its index after a crash) is
// not taken for another thread.
type storedThread struct {
	Peer       string   `json:"peer"`
	Thread     string   `json:"thread"`
	Subject    string   `json:"subject,omitempty"`
	LastID     string   `json:"last,omitempty"`
	References []string `json:"refs,omitempty"`
}

// threadStore is the user's threads in Account.Store: durable, so an
// adapter restart (a reconnection, a new process) keeps them, and bounded,
// an LRU of max threads. The index is read once and kept in memory; each
// put writes the thread's slot, then the index. It is not safe for
// concurrent use; the adapter's mutex guards it.
type threadStore struct {
	st  transports.Store
	max int

	loaded bool
	order  *list.List               // of *indexEntry, most recent first
	byID   map[string]*list.Element // by indexEntry.ID
}

func newThreadStore(st transports.Store, max int) *threadStore {
	return &threadStore{st: st, max: max, order: list.New(), byID: make(map[string]*list.Element)}
}

// load reads the index once. A missing index is an empty one; an
// unreadable one (damaged) starts over empty rather than failing the
// session: threads are a convenience, mail still flows without them.
func (s *threadStore) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	v, err := s.st.Get(ctx, threadIndexKey)
	if errors.Is(err, transports.ErrNotFound) {
		s.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: reading the thread index: %w", transports.ErrUnavailable, err)
	}
	s.loaded = true
	var entries []indexEntry
	if json.Unmarshal(v, &entries) != nil {
		return nil
	}
	for _, e := range entries {
		if _, dup := s.byID[e.ID]; dup || e.Slot < 0 || e.Slot >= s.max || s.order.Len() >= s.max {
			continue
		}
		s.byID[e.ID] = s.order.PushBack(&e)
	}
	return nil
}

// get returns the thread under k, marking it recently used (the mark is
// stored with the next put).
func (s *threadStore) get(ctx context.Context, k threadKey) (threadInfo, bool, error) {
	if err := s.load(ctx); err != nil {
		return threadInfo{}, false, err
	}
	el, ok := s.byID[k.id()]
	if !ok {
		return threadInfo{}, false, nil
	}
	v, err := s.st.Get(ctx, slotKey(el.Value.(*indexEntry).Slot))
	if errors.Is(err, transports.ErrNotFound) {
		return threadInfo{}, false, nil
	}
	if err != nil {
		return threadInfo{}, false, fmt.Errorf("%w: reading a thread: %w", transports.ErrUnavailable, err)
	}
	var th storedThread
	if json.Unmarshal(v, &th) != nil || th.Peer != k.peer || th.Thread != k.thread {
		return threadInfo{}, false, nil
	}
	s.order.MoveToFront(el)
	return threadInfo{subject: th.Subject, lastID: th.LastID, references: th.References}, true, nil
}

// put stores the thread under k as the most recently used, taking the
// slot of the least recently used one when all are taken.
func (s *threadStore) put(ctx context.Context, k threadKey, info threadInfo) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	id := k.id()
	el, ok := s.byID[id]
	switch {
	case ok:
		s.order.MoveToFront(el)
	case s.order.Len() < s.max:
		el = s.order.PushFront(&indexEntry{ID: id, Slot: s.freeSlot()})
		s.byID[id] = el
	default:
		el = s.order.Back()
		delete(s.byID, el.Value.(*indexEntry).ID)
		el.Value.(*indexEntry).ID = id
		s.byID[id] = el
		s.order.MoveToFront(el)
	}
	v, err := json.Marshal(storedThread{Peer: k.peer, Thread: k.thread, Subject: info.subject, LastID: info.lastID, References: info.references})
	if err != nil {
		return err
	}
	if err := s.st.Put(ctx, slotKey(el.Value.(*indexEntry).Slot), v); err != nil {
		return fmt.Errorf("%w: saving a thread: %w", transports.ErrUnavailable, err)
	}
	entries := make([]indexEntry, 0, s.order.Len())
	for e := s.order.Front(); e != nil; e = e.Next() {
		entries = append(entries, *e.Value.(*indexEntry))
	}
	idx, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	if err := s.st.Put(ctx, threadIndexKey, idx); err != nil {
		return fmt.Errorf("%w: saving the thread index: %w", transports.ErrUnavailable, err)
	}
	return nil
}

// freeSlot returns the lowest slot no thread holds; there is one while
// fewer than max threads are remembered.
func (s *threadStore) freeSlot() int {
	used := make([]bool, s.max)
	for e := s.order.Front(); e != nil; e = e.Next() {
		used[e.Value.(*indexEntry).Slot] = true
	}
	for i, u := range used {
		if !u {
			return i
		}
	}
	return s.max // not reached: put checks the length first
}

// len reports how many threads are remembered.
func (s *threadStore) len() int { return s.order.Len() }

func slotKey(slot int) string { return threadSlotPrefix + strconv.Itoa(slot) }
