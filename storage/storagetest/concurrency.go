package storagetest

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage"
)

// testReopen: what was written survives closing and opening the store
// again, and queue numbers continue where they were, also past a removed
// tail and past numbers handed out in a transaction.
func testReopen(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.Open(t)
	mustPut(t, s, "b", "k", "kept")
	mustPut(t, s, "b", "net\x00user\x00k", "kept too")
	for i := 1; i <= 3; i++ {
		mustAppend(t, s, "q", fmt.Sprint("v", i))
	}
	if err := s.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Append("q", []byte("v4"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "q", 4); err != nil {
		t.Fatal(err)
	}
	s = b.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	if got := mustGet(t, s, "b", "k"); string(got) != "kept" {
		t.Errorf("after reopen, k = %q", got)
	}
	if got := scanAll(t, s, "b", "net\x00"); len(got) != 1 || string(got[0].value) != "kept too" {
		t.Errorf("after reopen, Scan(net\\0) = %v", got)
	}
	if got := mustAppend(t, s, "q", "v5"); got != 5 {
		t.Errorf("Append after reopen = %d, want 5", got)
	}
	items, err := s.Range(ctx, "q", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, it := range items {
		seqs = append(seqs, it.Seq)
	}
	if want := []uint64{1, 2, 3, 5}; !slices.Equal(seqs, want) {
		t.Errorf("Range after reopen = %v, want %v", seqs, want)
	}
}

// testConcurrentUpdate: read-modify-write transactions on one key from
// many goroutines lose no increment.
func testConcurrentUpdate(t *testing.T, s storage.Store) {
	const workers, each = 8, 25
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				err := s.Update(ctx, func(tx storage.Tx) error {
					n := 0
					v, err := tx.Get("b", "counter")
					if err == nil {
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					if err := tx.Put("b", "counter", []byte(strconv.Itoa(n+1))); err != nil {
						return err
					}
					return tx.Put("b", fmt.Sprintf("w%d-%d", w, i), []byte(strconv.Itoa(n)))
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := mustGet(t, s, "b", "counter"); string(got) != strconv.Itoa(workers*each) {
		t.Errorf("counter after %d increments = %s", workers*each, got)
	}
	// Each transaction saw a different count: no two read the same value
	// and both committed.
	seen := map[string]string{}
	for _, p := range scanAll(t, s, "b", "w") {
		if other, dup := seen[string(p.value)]; dup {
			t.Errorf("%s and %s both read counter %s", other, p.key, p.value)
		}
		seen[string(p.value)] = p.key
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct counts read, want %d", len(seen), workers*each)
	}
}

// testConcurrentAppend: Appends on their own and inside transactions,
// from many goroutines, get distinct numbers, and every item is there
// under its number.
func testConcurrentAppend(t *testing.T, s storage.Store) {
	const workers, each = 8, 20
	ctx := t.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		byID = map[uint64]string{}
	)
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				v := fmt.Sprintf("w%d-%d", w, i)
				var seq uint64
				var err error
				if i%2 == 0 {
					seq, err = s.Append(ctx, "q", []byte(v))
				} else {
					err = s.Update(ctx, func(tx storage.Tx) error {
						var err error
						seq, err = tx.Append("q", []byte(v))
						if err != nil {
							return err
						}
						return tx.Put("b", v, []byte(strconv.FormatUint(seq, 10)))
					})
				}
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				if other, dup := byID[seq]; dup {
					errs <- fmt.Errorf("%s and %s both got number %d", other, v, seq)
				}
				byID[seq] = v
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	items, err := s.Range(ctx, "q", 0, 10*workers*each)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != workers*each {
		t.Errorf("Range returned %d items, want %d", len(items), workers*each)
	}
	for i, it := range items {
		if i > 0 && it.Seq <= items[i-1].Seq {
			t.Errorf("Range out of order at %d: %d after %d", i, it.Seq, items[i-1].Seq)
		}
		if want := byID[it.Seq]; string(it.Value) != want {
			t.Errorf("item %d = %q, want %q", it.Seq, it.Value, want)
		}
	}
	// A transaction's Put recorded the number its Append returned.
	for _, p := range scanAll(t, s, "b", "") {
		if seq, _ := strconv.ParseUint(string(p.value), 10, 64); byID[seq] != p.key {
			t.Errorf("transaction %s recorded number %s, which holds %q", p.key, p.value, byID[seq])
		}
	}
}

// testScanPages: scans of thousands of keys, in the keyspace layout
// (network \0 user \0 …) and without, visit every key once in order, also
// from prefixes, and stop where told.
func testScanPages(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var all []string
	put := func(k string) {
		all = append(all, k)
		mustPut(t, s, "b", k, "v"+k)
	}
	for i := range 1100 {
		put(fmt.Sprintf("k%04d", i))
	}
	for u := range 40 {
		put(fmt.Sprintf("net\x00user%02d", u))
		for k := range 30 {
			put(fmt.Sprintf("net\x00user%02d\x00k%02d", u, k))
		}
	}
	put("net")
	put("net\x00")
	put("nes\x00x\x00y")
	put("neu")
	mustPut(t, s, "other", "k0001", "x")
	mustPut(t, s, "other", "net\x00user01\x00k01", "x")
	slices.Sort(all)

	tests := []struct {
		prefix string
		want   int
	}{
		{"", len(all)},
		{"k", 1100},
		{"k1", 100},
		{"k10", 100},
		{"n", 40*31 + 4},
		{"net", 40*31 + 2},
		{"net\x00", 40*31 + 1},
		{"net\x00user1", 10 * 31},
		{"net\x00user07", 31},
		{"net\x00user07\x00", 30},
		{"net\x00user07\x00k1", 10},
		{"net\x00user07\x00k19", 1},
		{"net\x00user40", 0},
	}
	for _, tt := range tests {
		got := kvKeys(scanAll(t, s, "b", tt.prefix))
		var want []string
		for _, k := range all {
			if len(k) >= len(tt.prefix) && k[:len(tt.prefix)] == tt.prefix {
				want = append(want, k)
			}
		}
		if len(want) != tt.want {
			t.Fatalf("test table: prefix %q has %d keys, table says %d", tt.prefix, len(want), tt.want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Scan(prefix %q): %d keys, want %d; first difference at %d", tt.prefix, len(got), len(want), firstDiff(got, want))
		}
	}
	for _, p := range scanAll(t, s, "b", "net\x00user3") {
		if string(p.value) != "v"+p.key {
			t.Errorf("Scan value of %q = %q", p.key, p.value)
		}
	}
	n := 0
	err := s.Scan(ctx, "b", "", func(string, []byte) error {
		n++
		if n == 1500 {
			return errStopHere
		}
		return nil
	})
	if err == nil || n != 1500 {
		t.Errorf("Scan stopped at key %d with %v, want 1500 and the callback's error", n, err)
	}
}

var errStopHere = fmt.Errorf("stop here")

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// testRetriedUpdate: a write to a key the function read, made while the
// function runs, is never lost. An optimistic backend runs the function
// again on the new value; what the last run computed is the result, and
// the writes of the run that was thrown away (an Append) are not there.
// A serialising backend holds the write until Update returns.
func testRetriedUpdate(t *testing.T, s storage.Store, optimistic bool) {
	ctx := t.Context()
	mustPut(t, s, "b", "counter", "10")
	var (
		runs   int    // runs that read the counter (a backend may also stop a run at its first call)
		seen   string // what the last run read: a result kept outside fn
		putErr = make(chan error, 1)
	)
	err := s.Update(ctx, func(tx storage.Tx) error {
		v, err := tx.Get("b", "counter")
		if err != nil {
			return err
		}
		runs++
		seen = string(v)
		if _, err := tx.Append("q", []byte("run "+strconv.Itoa(runs))); err != nil {
			return err
		}
		if runs == 1 {
			go func() { putErr <- s.Put(ctx, "b", "counter", []byte("20")) }()
			if optimistic {
				if err := <-putErr; err != nil {
					return fmt.Errorf("concurrent Put: %w", err)
				}
			} else {
				select {
				case err := <-putErr:
					return fmt.Errorf("a Put finished while a transaction that read its key ran (err %v)", err)
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return err
		}
		return tx.Put("b", "counter", []byte(strconv.Itoa(n+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "21"
	if optimistic {
		if runs < 2 || seen != "20" {
			t.Errorf("function ran %d times, last read %q; want a second run that read 20", runs, seen)
		}
	} else {
		if err := <-putErr; err != nil {
			t.Fatal(err)
		}
		want = "20" // the Put came after the transaction
		if runs != 1 || seen != "10" {
			t.Errorf("function ran %d times, last read %q; want one run that read 10", runs, seen)
		}
	}
	if got := mustGet(t, s, "b", "counter"); string(got) != want {
		t.Errorf("counter = %s, want %s", got, want)
	}
	items, err := s.Range(ctx, "q", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || string(items[0].Value) != "run "+strconv.Itoa(runs) {
		t.Errorf("queue = %v, want only the last run's item", items)
	}
}
