package email

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// memStore is a transports.Store in memory that can list its keys and be
// made to fail.
type memStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func newMemStore() *memStore { return &memStore{m: make(map[string][]byte)} }

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	v, ok := s.m[key]
	if !ok {
		return nil, transports.ErrNotFound
	}
	return slices.Clone(v), nil
}

func (s *memStore) Put(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[key] = slices.Clone(v)
	return nil
}

func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func tkey(i int) threadKey { return threadKey{peer: "p@example.org", thread: fmt.Sprint(i)} }

// has reports whether s remembers thread i with subject i.
func has(t *testing.T, s *threadStore, i int) bool {
	t.Helper()
	info, ok, err := s.get(t.Context(), tkey(i))
	if err != nil {
		t.Fatal(err)
	}
	if ok && info.subject != fmt.Sprint(i) {
		t.Errorf("thread %d has subject %q", i, info.subject)
	}
	return ok
}

// TestThreadStoreBoundedLRU: the remembered threads are bounded, the
// least recently used forgotten first, and the store holds the slots and
// the index only.
func TestThreadStoreBoundedLRU(t *testing.T) {
	st := newMemStore()
	s := newThreadStore(st, 3)
	ctx := t.Context()
	for i := range 3 {
		if err := s.put(ctx, tkey(i), threadInfo{subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	has(t, s, 0) // 1 is now the least recently used
	if err := s.put(ctx, tkey(3), threadInfo{subject: "3"}); err != nil {
		t.Fatal(err)
	}
	if s.len() != 3 {
		t.Errorf("len = %d, want 3", s.len())
	}
	if has(t, s, 1) {
		t.Error("the least recently used thread was kept")
	}
	for _, i := range []int{0, 2, 3} {
		if !has(t, s, i) {
			t.Errorf("thread %d forgotten", i)
		}
	}
	if got, want := st.keys(), []string{"thread/0", "thread/1", "thread/2", "threads"}; !slices.Equal(got, want) {
		t.Errorf("stored keys %q, want %q", got, want)
	}
}

// TestThreadStoreSurvivesRestart: a new store over the same
// transports.Store (an adapter restarted by the supervisor, or a new
// process) has the threads and their order, and a reused slot is not
// read as the thread that had it before.
func TestThreadStoreSurvivesRestart(t *testing.T) {
	st := newMemStore()
	ctx := t.Context()
	first := newThreadStore(st, 3)
	for i := range 3 {
		if err := first.put(ctx, tkey(i), threadInfo{subject: fmt.Sprint(i), lastID: fmt.Sprint(i, "@example.org"), references: []string{"root@example.org"}}); err != nil {
			t.Fatal(err)
		}
	}
	// 0 used again: 1 is the least recently used once this is stored.
	if err := first.put(ctx, tkey(0), threadInfo{subject: "0", lastID: "0b@example.org"}); err != nil {
		t.Fatal(err)
	}

	second := newThreadStore(st, 3)
	info, ok, err := second.get(ctx, tkey(2))
	if err != nil || !ok {
		t.Fatalf("thread 2 after the restart: %v, %v", ok, err)
	}
	if info.subject != "2" || info.lastID != "2@example.org" || !slices.Equal(info.references, []string{"root@example.org"}) {
		t.Errorf("thread 2 after the restart = %+v", info)
	}
	if err := second.put(ctx, tkey(3), threadInfo{subject: "3"}); err != nil {
		t.Fatal(err)
	}
	if has(t, second, 1) {
		t.Error("the restart lost the LRU order: thread 1 kept")
	}
	for _, i := range []int{0, 2, 3} {
		if !has(t, second, i) {
			t.Errorf("thread %d forgotten", i)
		}
	}

	// The first store's index still names thread 1 in the slot thread
	// 3 took: its peer and thread do not match, so it is unknown.
	stale := newThreadStore(st, 3)
	stale.loaded, stale.order, stale.byID = true, first.order, first.byID
	if has(t, stale, 1) {
		t.Error("a reused slot was read as the thread that had it before")
	}
}

// TestThreadStoreDamagedAndFailing: a damaged index starts over empty;
// a failing store is an error wrapping ErrUnavailable, and the adapter
// still composes the reply from the thread ID.
func TestThreadStoreDamagedAndFailing(t *testing.T) {
	st := newMemStore()
	st.m[threadIndexKey] = []byte("{not json")
	s := newThreadStore(st, 3)
	if _, ok, err := s.get(t.Context(), tkey(0)); ok || err != nil {
		t.Errorf("get over a damaged index = %v, %v", ok, err)
	}
	if err := s.put(t.Context(), tkey(0), threadInfo{subject: "0"}); err != nil {
		t.Fatal(err)
	}
	if !has(t, newThreadStore(st, 3), 0) {
		t.Error("the index was not rewritten")
	}

	broken := errors.New("disk on fire")
	a := testAdapter(t)
	a.acct.Store.(*memStore).fail = broken
	a.threads = newThreadStore(a.acct.Store, 3)
	if err := a.threads.put(t.Context(), tkey(0), threadInfo{}); !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("put on a failing store = %v", err)
	}
	a.rememberThread(&Incoming{From: &mail.Address{Address: "p@example.org"}, Thread: "t1", MessageID: "m1@example.org"})
	o := a.outgoing(t.Context(), transports.Message{To: "p@example.org", Thread: "t1@example.org", Body: "hi"}, &mail.Address{Address: "p@example.org"})
	if o.InReplyTo != "t1@example.org" || !slices.Equal(o.References, []string{"t1@example.org"}) {
		t.Errorf("reply without the store: In-Reply-To %q, References %q", o.InReplyTo, o.References)
	}
}

// TestAdapterThreadsBounded: an adapter remembers at most maxThreads
// threads, in at most maxThreads slots plus the index.
func TestAdapterThreadsBounded(t *testing.T) {
	a := testAdapter(t)
	for i := range maxThreads + 50 {
		a.rememberThread(&Incoming{From: &mail.Address{Address: "p@example.org"}, Thread: fmt.Sprint(i), MessageID: fmt.Sprint(i)})
	}
	if n := a.threads.len(); n != maxThreads {
		t.Errorf("%d threads remembered, want %d", n, maxThreads)
	}
	if n := len(a.acct.Store.(*memStore).keys()); n != maxThreads+1 {
		t.Errorf("%d keys stored, want %d", n, maxThreads+1)
	}
	if _, ok, _ := a.threads.get(t.Context(), tkey(49)); ok {
		t.Error("the oldest threads were kept")
	}
	if _, ok, _ := newThreadStore(a.acct.Store, maxThreads).get(t.Context(), tkey(maxThreads+49)); !ok {
		t.Error("the newest thread is not in the store")
	}
}

// TestAdapterThreadBytesBounded: what a hostile mail's headers make a
// remembered thread keep is bounded too, not only the number of threads:
// the subject is cut, IDs longer than a header line are not kept, and a
// thread whose own ID is one is not remembered.
func TestAdapterThreadBytesBounded(t *testing.T) {
	a := testAdapter(t)
	long := func(c string) string { return strings.Repeat(c, 100<<10) }
	refs := []string{"root@example.org"}
	for range 30 {
		refs = append(refs, long("r"))
	}
	a.rememberThread(&Incoming{From: &mail.Address{Address: "p@example.org"}, Thread: "root@example.org",
		Subject: long("s"), MessageID: long("m"), References: refs})
	a.rememberThread(&Incoming{From: &mail.Address{Address: "p@example.org"}, Thread: long("t"), MessageID: "x@example.org"})
	st := a.acct.Store.(*memStore)
	total := 0
	for _, k := range st.keys() {
		v, _ := st.Get(t.Context(), k)
		total += len(k) + len(v)
	}
	if total > 4<<10 {
		t.Errorf("%d bytes stored for one thread", total)
	}
	th, ok, err := a.threads.get(t.Context(), threadKey{peer: "p@example.org", thread: "root@example.org"})
	if err != nil || !ok || len(th.subject) != maxStoredSubject || th.lastID != "" || strings.Join(th.references, " ") != "root@example.org" {
		t.Errorf("thread = %d-byte subject, last %q, references %q; %v %v", len(th.subject), th.lastID, th.references, ok, err)
	}
	if n := a.threads.len(); n != 1 {
		t.Errorf("%d threads remembered, want 1", n)
	}
}
