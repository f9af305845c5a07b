package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/storage/storagetest"
)

func TestConformance(t *testing.T) {
	// Each store's file, for Reopen.
	var paths sync.Map // storage.Store -> string
	storagetest.Run(t, storagetest.Backend{
		Open: func(t *testing.T) storage.Store {
			path := filepath.Join(t.TempDir(), "switchboard.db")
			s := open(t, path)
			paths.Store(storage.Store(s), path)
			return s
		},
		Reopen: func(t *testing.T, s storage.Store) storage.Store {
			path, ok := paths.Load(s)
			if !ok {
				t.Fatal("Reopen of a store Open did not return")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := open(t, path.(string))
			paths.Store(storage.Store(s2), path)
			return s2
		},
	})
}

func TestFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	path := filepath.Join(t.TempDir(), "switchboard.db")
	s := open(t, path)
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %04o, want 0600", perm)
	}
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "switchboard.db")

	s := open(t, path)
	if err := s.Put(ctx, "b", "k", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b", "gone", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "b", "gone"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := s.Append(ctx, "q", []byte(fmt.Sprint("item", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove(ctx, "q", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	t.Cleanup(func() { s.Close() })
	if v, err := s.Get(ctx, "b", "k"); err != nil || string(v) != "kept" {
		t.Errorf("Get after reopen = %q, %v; want %q", v, err, "kept")
	}
	if _, err := s.Get(ctx, "b", "gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted key after reopen: err = %v, want ErrNotFound", err)
	}
	items, err := s.Range(ctx, "q", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Seq != 1 || items[1].Seq != 2 || string(items[1].Value) != "item2" {
		t.Errorf("Range after reopen = %v, want items 1 and 2", items)
	}
	// The removed sequence number 3 must not come back.
	if seq, err := s.Append(ctx, "q", []byte("item4")); err != nil || seq != 4 {
		t.Errorf("Append after reopen = %d, %v; want 4", seq, err)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.db")
	s := open(t, path)
	t.Cleanup(func() { s.Close() })

	// bbolt takes an flock on its own file descriptor, so a second Open in
	// this process contends exactly like another process would.
	start := time.Now()
	s2, err := bolt.Open(path)
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a database in use succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open: err = %q, want it to say the database is locked by another process", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("second Open took %v to fail, want a few seconds at most", elapsed)
	}

	// Once the first store is closed the file opens again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, path)
	s3.Close()
}

func TestOpenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "switchboard.db")
	if s, err := bolt.Open(path); err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file", err)
	}
}

func BenchmarkPut(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	value := []byte(strings.Repeat("v", 256))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Put(ctx, "bench", fmt.Sprintf("key%08d", i), value); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkAppendRange(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	value := []byte(strings.Repeat("v", 256))
	b.ReportAllocs()
	var after uint64
	for b.Loop() {
		seq, err := s.Append(ctx, "bench", value)
		if err != nil {
			b.Fatal(err)
		}
		items, err := s.Range(ctx, "bench", after, 10)
		if err != nil {
			b.Fatal(err)
		}
		if len(items) != 1 || items[0].Seq != seq {
			b.Fatalf("Range after %d = %d items, want item %d", after, len(items), seq)
		}
		after = seq
	}
}

// BenchmarkUpdate is EnqueueOnce's shape: read a key, write two, append to
// a queue, in one transaction (as storage/redis's BenchmarkUpdate).
func BenchmarkUpdate(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	value := []byte(strings.Repeat("v", 256))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("email\x00alice@example.org\x00conv\x00l%08d", i)
		err := s.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Get("msgids", key); err == nil {
				return fmt.Errorf("%s paired twice", key)
			}
			if err := tx.Put("msgids", key, []byte("x")); err != nil {
				return err
			}
			if err := tx.Put("msgids", key+"r", []byte("l")); err != nil {
				return err
			}
			_, err := tx.Append("outbox:email", value)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// openTemp opens a fresh store in a temporary directory, closed when tb ends.
func openTemp(tb testing.TB) *bolt.Store {
	tb.Helper()
	s := open(tb, filepath.Join(tb.TempDir(), "switchboard.db"))
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func open(tb testing.TB, path string) *bolt.Store {
	tb.Helper()
	s, err := bolt.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
