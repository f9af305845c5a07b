// Package storagetest is a conformance suite for implementations of
// [storage.Store]. Every backend runs it from its own tests so that the
// backends stay interchangeable:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Backend{
//			Open:   func(t *testing.T) storage.Store { … a new, empty store … },
//			Reopen: func(t *testing.T, s storage.Store) storage.Store { … close s, open its data again … },
//		})
//	}
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/storage"
)

// Backend is what the suite needs of a backend.
type Backend struct {
	// Open is called once per subtest, with that subtest's t, and must
	// return a new, empty store that no other subtest uses.
	Open func(t *testing.T) storage.Store
	// Reopen closes s, a store Open or Reopen returned, and opens the
	// same data again, as a restart of the process does.
	Reopen func(t *testing.T, s storage.Store) storage.Store
	// Optimistic says Update retries on conflict (its function may run
	// more than once): the suite then requires a conflicting write made
	// while the function runs to make it run again, and the result to
	// include both writes. A backend that serialises transactions instead
	// must make the conflicting write wait until Update returns.
	Optimistic bool
}

// Run runs the conformance suite against the stores b opens.
//
// Run closes every store when its subtest ends; since Close must be safe
// to call twice, Open may also register its own cleanup. Subtests run in
// parallel.
func Run(t *testing.T, b Backend) {
	t.Helper()
	open := b.Open
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"GetNotFound", testGetNotFound},
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"EmptyValue", testEmptyValue},
		{"Delete", testDelete},
		{"ScanOrder", testScanOrder},
		{"ScanPrefix", testScanPrefix},
		{"ScanStop", testScanStop},
		{"ScanAbsentBucket", testScanAbsentBucket},
		{"AppendSequence", testAppendSequence},
		{"Range", testRange},
		{"Remove", testRemove},
		{"Len", testLen},
		{"BucketIsolation", testBucketIsolation},
		{"BucketQueueIsolation", testBucketQueueIsolation},
		{"EmptyNames", testEmptyNames},
		{"Concurrent", testConcurrent},
		{"Copies", testCopies},
		{"CanceledContext", testCanceledContext},
		{"Close", testClose},
		{"UpdateCommits", testUpdateCommits},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"ConcurrentAppend", testConcurrentAppend},
		{"ScanPages", testScanPages},
		{"UserQueue", testUserQueue},
		{"TxRemove", testTxRemove},
		{"AppendMarked", testAppendMarked},
		{"PutDeleteRace", testPutDeleteRace},
		{"RetriedUpdate", func(t *testing.T, s storage.Store) { testRetriedUpdate(t, s, b.Optimistic) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
	t.Run("ReopenKeepsData", func(t *testing.T) {
		t.Parallel()
		testReopen(t, b)
	})
}

func testGetNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if _, err := s.Get(ctx, "b", "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get in absent bucket: err = %v, want ErrNotFound", err)
	}
	mustPut(t, s, "b", "other", "v")
	if _, err := s.Get(ctx, "b", "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of absent key: err = %v, want ErrNotFound", err)
	}
	// A key that is a prefix, or an extension, of a present key is absent.
	for _, k := range []string{"othe", "other\x00", "otherx"} {
		if _, err := s.Get(ctx, "b", k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", k, err)
		}
	}
}

func testPutGet(t *testing.T, s storage.Store) {
	tests := []struct {
		key   string
		value []byte
	}{
		{"plain", []byte("value")},
		{"with space", []byte("v w")},
		{"nul\x00inside", []byte("a\x00b")},
		{"\xff\xfe", []byte{0xff, 0x00, 0xfe}},
		{"unicode ☃", []byte("snow ☃")},
		{"big", bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)},
	}
	for _, tt := range tests {
		mustPut(t, s, "b", tt.key, string(tt.value))
	}
	for _, tt := range tests {
		if got := mustGet(t, s, "b", tt.key); !bytes.Equal(got, tt.value) {
			t.Errorf("Get(%q) = %.40q, want %.40q", tt.key, got, tt.value)
		}
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	mustPut(t, s, "b", "k", "first, and longer")
	mustPut(t, s, "b", "k", "second")
	if got := mustGet(t, s, "b", "k"); string(got) != "second" {
		t.Errorf("Get after overwrite = %q, want %q", got, "second")
	}
	if got := scanAll(t, s, "b", ""); len(got) != 1 {
		t.Errorf("Scan after overwrite found %d keys, want 1", len(got))
	}
}

func testEmptyValue(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, v := range [][]byte{nil, {}} {
		if err := s.Put(ctx, "b", "k", v); err != nil {
			t.Fatalf("Put(%#v): %v", v, err)
		}
		got, err := s.Get(ctx, "b", "k")
		if err != nil || len(got) != 0 {
			t.Errorf("Get after Put(%#v) = %q, %v; want empty, nil", v, got, err)
		}
	}
	if got := scanAll(t, s, "b", ""); len(got) != 1 || len(got[0].value) != 0 {
		t.Errorf("Scan = %v, want one empty value", got)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if err := s.Delete(ctx, "absent", "k"); err != nil {
		t.Errorf("Delete in absent bucket: %v", err)
	}
	mustPut(t, s, "b", "k", "v")
	mustPut(t, s, "b", "k2", "v2")
	if err := s.Delete(ctx, "b", "absent"); err != nil {
		t.Errorf("Delete of absent key: %v", err)
	}
	for range 2 {
		if err := s.Delete(ctx, "b", "k"); err != nil {
			t.Errorf("Delete: %v", err)
		}
	}
	if _, err := s.Get(ctx, "b", "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if got := mustGet(t, s, "b", "k2"); string(got) != "v2" {
		t.Errorf("Delete removed a neighbour: Get(k2) = %q", got)
	}
}

func testScanOrder(t *testing.T, s storage.Store) {
	keys := []string{"m", "a", "z", "aa", "A", "0", "\x01", "\xff", "b\x00", "b", "~"}
	for i, k := range keys {
		mustPut(t, s, "b", k, fmt.Sprint(i))
	}
	want := slices.Clone(keys)
	slices.Sort(want) // Go compares strings bytewise.
	got := scanAll(t, s, "b", "")
	if !slices.Equal(kvKeys(got), want) {
		t.Errorf("Scan order = %q, want %q", kvKeys(got), want)
	}
	for _, kv := range got {
		i := slices.Index(keys, kv.key)
		if string(kv.value) != fmt.Sprint(i) {
			t.Errorf("Scan value of %q = %q, want %q", kv.key, kv.value, fmt.Sprint(i))
		}
	}
}

func testScanPrefix(t *testing.T, s storage.Store) {
	for _, k := range []string{
		"a", "a\x00", "a\x00b", "ab", "abc", "ac", "a\xff", "a\xff\x00", "a\xff\xff",
		"b", "\xff", "\xff\xff", "\xff\xff\xff", "\xfe\xff",
	} {
		mustPut(t, s, "b", k, k)
	}
	// Keys of another bucket must never show up.
	mustPut(t, s, "c", "a", "x")
	mustPut(t, s, "c", "ab", "x")

	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"a", "a\x00", "a\x00b", "ab", "abc", "ac", "a\xff", "a\xff\x00", "a\xff\xff",
			"b", "\xfe\xff", "\xff", "\xff\xff", "\xff\xff\xff",
		}},
		{"a", []string{"a", "a\x00", "a\x00b", "ab", "abc", "ac", "a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a\x00", []string{"a\x00", "a\x00b"}},
		{"ab", []string{"ab", "abc"}},
		{"abc", []string{"abc"}},
		{"abcd", nil},
		{"a\xff", []string{"a\xff", "a\xff\x00", "a\xff\xff"}},
		{"a\xff\xff", []string{"a\xff\xff"}},
		{"\xfe", []string{"\xfe\xff"}},
		{"\xff", []string{"\xff", "\xff\xff", "\xff\xff\xff"}},
		{"\xff\xff", []string{"\xff\xff", "\xff\xff\xff"}},
		{"b", []string{"b"}},
		{"c", nil},
		{"\x00", nil},
	}
	for _, tt := range tests {
		got := scanAll(t, s, "b", tt.prefix)
		if !slices.Equal(kvKeys(got), tt.want) {
			t.Errorf("Scan(prefix %q) = %q, want %q", tt.prefix, kvKeys(got), tt.want)
		}
		for _, kv := range got {
			if string(kv.value) != kv.key {
				t.Errorf("Scan(prefix %q): value of %q = %q", tt.prefix, kv.key, kv.value)
			}
		}
	}
}

func testScanStop(t *testing.T, s storage.Store) {
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, s, "b", k, k)
	}
	errStop := errors.New("stop here")
	var seen []string
	err := s.Scan(t.Context(), "b", "", func(key string, _ []byte) error {
		seen = append(seen, key)
		if key == "b" {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Errorf("Scan: err = %v, want the callback's error", err)
	}
	if want := []string{"a", "b"}; !slices.Equal(seen, want) {
		t.Errorf("Scan visited %q after stop, want %q", seen, want)
	}
}

func testScanAbsentBucket(t *testing.T, s storage.Store) {
	calls := 0
	err := s.Scan(t.Context(), "absent", "", func(string, []byte) error {
		calls++
		return nil
	})
	if err != nil || calls != 0 {
		t.Errorf("Scan of absent bucket: %d calls, err %v; want 0, nil", calls, err)
	}
}

func testAppendSequence(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for want := uint64(1); want <= 3; want++ {
		if got := mustAppend(t, s, "q", "v"); got != want {
			t.Errorf("Append #%d returned seq %d", want, got)
		}
	}
	// Removing the newest item must not free its number.
	if err := s.Remove(ctx, "q", 3); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got := mustAppend(t, s, "q", "v"); got != 4 {
		t.Errorf("Append after Remove of the tail = %d, want 4", got)
	}
	// Nor must emptying the queue.
	for seq := uint64(1); seq <= 4; seq++ {
		if err := s.Remove(ctx, "q", seq); err != nil {
			t.Fatalf("Remove(%d): %v", seq, err)
		}
	}
	if got := mustAppend(t, s, "q", "v"); got != 5 {
		t.Errorf("Append to emptied queue = %d, want 5", got)
	}
	// Each queue has its own sequence.
	if got := mustAppend(t, s, "other", "v"); got != 1 {
		t.Errorf("first Append to another queue = %d, want 1", got)
	}
}

func testRange(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for i := 1; i <= 5; i++ {
		mustAppend(t, s, "q", fmt.Sprint("v", i))
	}
	if err := s.Remove(ctx, "q", 3); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	tests := []struct {
		queue string
		after uint64
		max   int
		want  []uint64
	}{
		{"q", 0, 10, []uint64{1, 2, 4, 5}},
		{"q", 0, 2, []uint64{1, 2}},
		{"q", 0, 1, []uint64{1}},
		{"q", 1, 2, []uint64{2, 4}},
		{"q", 2, 10, []uint64{4, 5}},
		{"q", 3, 10, []uint64{4, 5}},
		{"q", 4, 10, []uint64{5}},
		{"q", 5, 10, nil},
		{"q", 1 << 40, 10, nil},
		{"q", ^uint64(0), 10, nil},
		{"q", 0, 0, nil},
		{"q", 0, -1, nil},
		{"absent", 0, 10, nil},
	}
	for _, tt := range tests {
		items, err := s.Range(ctx, tt.queue, tt.after, tt.max)
		if err != nil {
			t.Errorf("Range(%q, %d, %d): %v", tt.queue, tt.after, tt.max, err)
			continue
		}
		var seqs []uint64
		for _, it := range items {
			seqs = append(seqs, it.Seq)
			if want := fmt.Sprint("v", it.Seq); string(it.Value) != want {
				t.Errorf("Range(%q, %d, %d): item %d = %q, want %q", tt.queue, tt.after, tt.max, it.Seq, it.Value, want)
			}
		}
		if !slices.Equal(seqs, tt.want) {
			t.Errorf("Range(%q, %d, %d) = %v, want %v", tt.queue, tt.after, tt.max, seqs, tt.want)
		}
	}
}

func testRemove(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if err := s.Remove(ctx, "absent", 1); err != nil {
		t.Errorf("Remove from absent queue: %v", err)
	}
	a := mustAppend(t, s, "q", "a")
	b := mustAppend(t, s, "q", "b")
	for _, seq := range []uint64{0, 99, a, a} {
		if err := s.Remove(ctx, "q", seq); err != nil {
			t.Errorf("Remove(%d): %v", seq, err)
		}
	}
	items, err := s.Range(ctx, "q", 0, 10)
	if err != nil {
		t.Fatalf("Range: %v", err)
	}
	if len(items) != 1 || items[0].Seq != b || string(items[0].Value) != "b" {
		t.Errorf("Range after Remove = %v, want only item %d", items, b)
	}
}

func testLen(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustLen := func(queue string, want int) {
		t.Helper()
		n, err := s.Len(ctx, queue)
		if err != nil || n != want {
			t.Errorf("Len(%q) = %d, %v; want %d", queue, n, err, want)
		}
	}
	mustLen("absent", 0)
	a := mustAppend(t, s, "q", "a")
	mustAppend(t, s, "q", "b")
	mustAppend(t, s, "q", "c")
	mustAppend(t, s, "other", "x")
	mustPut(t, s, "q", "k", "a bucket of the same name is not the queue")
	mustLen("q", 3)
	if err := s.Remove(ctx, "q", a); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	mustLen("q", 2)
	if err := s.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Append("q", []byte("d"))
		return err
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	mustLen("q", 3)
	mustLen("other", 1)
}

func testBucketIsolation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustPut(t, s, "x", "k", "in x")
	mustPut(t, s, "y", "k", "in y")
	mustPut(t, s, "xy", "k", "in xy")
	for _, b := range []string{"x", "y", "xy"} {
		if got := mustGet(t, s, b, "k"); string(got) != "in "+b {
			t.Errorf("Get(%q, k) = %q", b, got)
		}
	}
	if _, err := s.Get(ctx, "x", "yk"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("bucket and key concatenations collide: err = %v", err)
	}
	if err := s.Delete(ctx, "x", "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := mustGet(t, s, "y", "k"); string(got) != "in y" {
		t.Errorf("Delete in x changed y: %q", got)
	}
	if got := scanAll(t, s, "x", ""); len(got) != 0 {
		t.Errorf("Scan(x) = %v, want nothing", got)
	}
	// Queues are independent of each other too.
	mustAppend(t, s, "qa", "a")
	mustAppend(t, s, "qb", "b")
	items, err := s.Range(ctx, "qa", 0, 10)
	if err != nil || len(items) != 1 || string(items[0].Value) != "a" {
		t.Errorf("Range(qa) = %v, %v; want only its own item", items, err)
	}
}

func testBucketQueueIsolation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const name = "same"
	seq := mustAppend(t, s, name, "queued")
	if got := scanAll(t, s, name, ""); len(got) != 0 {
		t.Errorf("Scan of bucket %q sees queue items: %v", name, got)
	}
	// Write bucket keys that look like queue keys in plausible encodings.
	for _, k := range []string{"\x00\x00\x00\x00\x00\x00\x00\x01", "1", "\x01", "00000000000000000001"} {
		mustPut(t, s, name, k, "kv")
	}
	items, err := s.Range(ctx, name, 0, 10)
	if err != nil {
		t.Fatalf("Range: %v", err)
	}
	if len(items) != 1 || items[0].Seq != seq || string(items[0].Value) != "queued" {
		t.Errorf("Range of queue %q = %v, want only the appended item", name, items)
	}
	if got := mustAppend(t, s, name, "again"); got != seq+1 {
		t.Errorf("Append after bucket writes = %d, want %d", got, seq+1)
	}
	if err := s.Remove(ctx, name, seq); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got := scanAll(t, s, name, ""); len(got) != 4 {
		t.Errorf("Remove from queue changed the bucket: %d keys left, want 4", len(got))
	}
}

func testEmptyNames(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ops := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "", "k"); return err }},
		{"Put", func() error { return s.Put(ctx, "", "k", []byte("v")) }},
		{"Delete", func() error { return s.Delete(ctx, "", "k") }},
		{"Scan", func() error { return s.Scan(ctx, "", "", func(string, []byte) error { return nil }) }},
		{"Append", func() error { _, err := s.Append(ctx, "", []byte("v")); return err }},
		{"Range", func() error { _, err := s.Range(ctx, "", 0, 1); return err }},
		{"Remove", func() error { return s.Remove(ctx, "", 1) }},
		{"PutEmptyKey", func() error { return s.Put(ctx, "b", "", []byte("v")) }},
	}
	for _, op := range ops {
		err := op.call()
		if err == nil {
			t.Errorf("%s with an empty name succeeded, want an error", op.name)
		} else if errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s with an empty name: err = %v, want a validation error, not ErrNotFound", op.name, err)
		}
	}
}

func testConcurrent(t *testing.T, s storage.Store) {
	const workers, each = 16, 20
	ctx := t.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs []uint64
	)
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("w%02d-%02d", w, i)
				if err := s.Put(ctx, "b", key, []byte(key)); err != nil {
					errs <- fmt.Errorf("Put(%s): %w", key, err)
				}
				seq, err := s.Append(ctx, "q", []byte(key))
				if err != nil {
					errs <- fmt.Errorf("Append(%s): %w", key, err)
					continue
				}
				mu.Lock()
				seqs = append(seqs, seq)
				mu.Unlock()
				// Readers run alongside the writers.
				if _, err := s.Get(ctx, "b", key); err != nil {
					errs <- fmt.Errorf("Get(%s): %w", key, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	const n = workers * each
	if got := scanAll(t, s, "b", ""); len(got) != n {
		t.Errorf("Scan found %d keys, want %d", len(got), n)
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != uint64(i+1) {
			t.Fatalf("concurrent Append sequence numbers are not 1..%d without gaps or duplicates: %v", n, seqs)
		}
	}
	items, err := s.Range(ctx, "q", 0, n+10)
	if err != nil {
		t.Fatalf("Range: %v", err)
	}
	if len(items) != n {
		t.Fatalf("Range returned %d items, want %d", len(items), n)
	}
	for i, it := range items {
		if it.Seq != uint64(i+1) {
			t.Fatalf("Range item %d has Seq %d, want %d", i, it.Seq, i+1)
		}
	}
}

func testCopies(t *testing.T, s storage.Store) {
	ctx := t.Context()

	in := []byte("original")
	if err := s.Put(ctx, "b", "k", in); err != nil {
		t.Fatal(err)
	}
	copy(in, "XXXXXXXX")
	got := mustGet(t, s, "b", "k")
	if string(got) != "original" {
		t.Errorf("mutating Put's input changed the store: %q", got)
	}
	copy(got, "YYYYYYYY")
	if again := mustGet(t, s, "b", "k"); string(again) != "original" {
		t.Errorf("mutating Get's result changed the store: %q", again)
	}

	var kept [][]byte
	if err := s.Scan(ctx, "b", "", func(_ string, v []byte) error {
		kept = append(kept, v)
		copy(v, "ZZZZZZZZ")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if again := mustGet(t, s, "b", "k"); string(again) != "original" {
		t.Errorf("mutating a Scan value changed the store: %q", again)
	}
	// Values kept after Scan returns stay valid while the store changes.
	for i := range 50 {
		mustPut(t, s, "b", fmt.Sprint("filler", i), "filler value that forces new pages")
	}
	mustPut(t, s, "b", "k", "replaced")
	if len(kept) != 1 || string(kept[0]) != "ZZZZZZZZ" {
		t.Errorf("value kept from Scan changed under the caller: %q", kept)
	}

	qin := []byte("queued")
	if _, err := s.Append(ctx, "q", qin); err != nil {
		t.Fatal(err)
	}
	copy(qin, "XXXXXX")
	items, err := s.Range(ctx, "q", 0, 1)
	if err != nil || len(items) != 1 {
		t.Fatalf("Range = %v, %v", items, err)
	}
	if string(items[0].Value) != "queued" {
		t.Errorf("mutating Append's input changed the queue: %q", items[0].Value)
	}
	copy(items[0].Value, "YYYYYY")
	items, err = s.Range(ctx, "q", 0, 1)
	if err != nil || len(items) != 1 || string(items[0].Value) != "queued" {
		t.Errorf("mutating Range's result changed the queue: %v, %v", items, err)
	}
}

func testCanceledContext(t *testing.T, s storage.Store) {
	mustPut(t, s, "b", "k", "v")
	mustAppend(t, s, "q", "v")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	ops := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "b", "k"); return err }},
		{"Put", func() error { return s.Put(ctx, "b", "k2", []byte("v")) }},
		{"Delete", func() error { return s.Delete(ctx, "b", "k") }},
		{"Scan", func() error {
			return s.Scan(ctx, "b", "", func(string, []byte) error { called = true; return nil })
		}},
		{"Append", func() error { _, err := s.Append(ctx, "q", []byte("v")); return err }},
		{"Range", func() error { _, err := s.Range(ctx, "q", 0, 10); return err }},
		{"Remove", func() error { return s.Remove(ctx, "q", 1) }},
		{"Len", func() error { _, err := s.Len(ctx, "q"); return err }},
	}
	for _, op := range ops {
		if err := op.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", op.name, err)
		}
	}
	if called {
		t.Error("Scan with a canceled context called fn")
	}
	// Nothing changed.
	if got := mustGet(t, s, "b", "k"); string(got) != "v" {
		t.Errorf("Get(k) = %q after canceled Delete", got)
	}
	if _, err := s.Get(t.Context(), "b", "k2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("canceled Put stored a value: err = %v", err)
	}
	if items, err := s.Range(t.Context(), "q", 0, 10); err != nil || len(items) != 1 {
		t.Errorf("queue after canceled Append/Remove = %v, %v; want one item", items, err)
	}
}

func testClose(t *testing.T, s storage.Store) {
	mustPut(t, s, "b", "k", "v")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Get(t.Context(), "b", "k"); err == nil {
		t.Error("Get after Close succeeded")
	}
	if err := s.Put(t.Context(), "b", "k", []byte("v")); err == nil {
		t.Error("Put after Close succeeded")
	}
	if _, err := s.Append(t.Context(), "q", []byte("v")); err == nil {
		t.Error("Append after Close succeeded")
	}
}

// kv is one key-value pair seen by Scan.
type kv struct {
	key   string
	value []byte
}

func (p kv) String() string { return fmt.Sprintf("%q=%q", p.key, p.value) }

func kvKeys(kvs []kv) []string {
	var keys []string
	for _, p := range kvs {
		keys = append(keys, p.key)
	}
	return keys
}

func scanAll(t *testing.T, s storage.Store, bucket, prefix string) []kv {
	t.Helper()
	var out []kv
	err := s.Scan(t.Context(), bucket, prefix, func(k string, v []byte) error {
		out = append(out, kv{k, v})
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q, %q): %v", bucket, prefix, err)
	}
	return out
}

func mustPut(t *testing.T, s storage.Store, bucket, key, value string) {
	t.Helper()
	if err := s.Put(t.Context(), bucket, key, []byte(value)); err != nil {
		t.Fatalf("Put(%q, %q): %v", bucket, key, err)
	}
}

func mustGet(t *testing.T, s storage.Store, bucket, key string) []byte {
	t.Helper()
	v, err := s.Get(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", bucket, key, err)
	}
	return v
}

func mustAppend(t *testing.T, s storage.Store, queue, value string) uint64 {
	t.Helper()
	seq, err := s.Append(t.Context(), queue, []byte(value))
	if err != nil {
		t.Fatalf("Append(%q): %v", queue, err)
	}
	return seq
}

// testUpdateCommits: writes in a transaction are visible inside it and
// after it, queue numbers continue.
func testUpdateCommits(t *testing.T, s storage.Store) {
	ctx := context.Background()
	first := mustAppend(t, s, "q", "a")
	mustPut(t, s, "b", "old", "x")
	var seq uint64
	err := s.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Get("b", "k"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("Get of an absent key = %v, want ErrNotFound", err)
		}
		if err := tx.Put("b", "k", []byte("v")); err != nil {
			return err
		}
		v, err := tx.Get("b", "k")
		if err != nil || string(v) != "v" {
			return fmt.Errorf("Get after Put in the transaction = %q, %v", v, err)
		}
		if err := tx.Delete("b", "old"); err != nil {
			return err
		}
		seq, err = tx.Append("q", []byte("b"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "b", "k"); string(got) != "v" {
		t.Errorf("after Update, b/k = %q", got)
	}
	if _, err := s.Get(ctx, "b", "old"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted key still there: %v", err)
	}
	if seq <= first {
		t.Errorf("sequence %d after %d", seq, first)
	}
	items, err := s.Range(ctx, "q", 0, 10)
	if err != nil || len(items) != 2 || string(items[1].Value) != "b" {
		t.Errorf("queue after Update = %v, %v", items, err)
	}
}

// testUpdateRollsBack: an error from fn leaves nothing behind.
func testUpdateRollsBack(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, "b", "keep", "1")
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Put("b", "new", []byte("v")); err != nil {
			return err
		}
		if err := tx.Delete("b", "keep"); err != nil {
			return err
		}
		if _, err := tx.Append("q", []byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if _, err := s.Get(ctx, "b", "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a rolled-back Put survived: %v", err)
	}
	if got := mustGet(t, s, "b", "keep"); string(got) != "1" {
		t.Errorf("a rolled-back Delete took effect: %q", got)
	}
	if items, _ := s.Range(ctx, "q", 0, 10); len(items) != 0 {
		t.Errorf("a rolled-back Append survived: %v", items)
	}
}
