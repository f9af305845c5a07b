package transportstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// NetStore is a transports.NetStore in memory, for networks' tests.
type NetStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func checkKey(key string) error {
	if key == "" || strings.Contains(key, "\x00") {
		return fmt.Errorf("%w: key %q is empty or holds a NUL byte", transports.ErrInvalidInput, key)
	}
	return nil
}

// Get implements transports.NetStore.
func (s *NetStore) Get(_ context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", transports.ErrNotFound, key)
	}
	return bytes.Clone(v), nil
}

// Put implements transports.NetStore.
func (s *NetStore) Put(_ context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	s.m[key] = append([]byte{}, value...)
	return nil
}

// CompareAndSwap implements transports.NetStore.
func (s *NetStore) CompareAndSwap(_ context.Context, key string, old, new []byte) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[key]
	if ok != (old != nil) || (ok && !bytes.Equal(cur, old)) {
		return false, nil
	}
	if new == nil {
		delete(s.m, key)
		return true, nil
	}
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	s.m[key] = append([]byte{}, new...)
	return true, nil
}

// Delete implements transports.NetStore.
func (s *NetStore) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Scan implements transports.NetStore.
func (s *NetStore) Scan(_ context.Context, prefix string, fn func(key string, value []byte) error) error {
	s.mu.Lock()
	var keys []string
	vals := make(map[string][]byte)
	for k, v := range s.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
			vals[k] = bytes.Clone(v)
		}
	}
	s.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k, vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// NetStoreConformance checks that a transports.NetStore keeps the
// contract, the way storage/storagetest checks a storage backend: absent
// keys, replacing, empty values, compare-and-set (also by racing
// goroutines), prefix scans in order. open returns an empty store of one
// network; it is called once per subtest. other, if not nil, returns the
// store of another network on the same storage as the store open returned
// last: the two must not see each other's keys.
func NetStoreConformance(t *testing.T, open func(t *testing.T) transports.NetStore, other func(t *testing.T) transports.NetStore) {
	t.Helper()
	ctx := context.Background()
	t.Run("GetPutDelete", func(t *testing.T) {
		s := open(t)
		if _, err := s.Get(ctx, "number/+15550001"); !errors.Is(err, transports.ErrNotFound) {
			t.Fatalf("Get of an absent key: err = %v, want ErrNotFound", err)
		}
		if err := s.Put(ctx, "number/+15550001", []byte("alice@example.org")); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "number/+15550001"); err != nil || string(v) != "alice@example.org" {
			t.Fatalf("Get = %q, %v; want alice@example.org", v, err)
		}
		if err := s.Put(ctx, "number/+15550001", []byte("bob@example.org")); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "number/+15550001"); err != nil || string(v) != "bob@example.org" {
			t.Fatalf("Get after a second Put = %q, %v; want bob@example.org", v, err)
		}
		if err := s.Put(ctx, "empty", []byte{}); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "empty"); err != nil || len(v) != 0 {
			t.Fatalf("Get of an empty value = %q, %v; want empty, no error", v, err)
		}
		if err := s.Delete(ctx, "number/+15550001"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "number/+15550001"); !errors.Is(err, transports.ErrNotFound) {
			t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "never-there"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
		for _, bad := range []string{"", "a\x00b"} {
			if err := s.Put(ctx, bad, []byte("v")); err == nil {
				t.Errorf("Put(%q) took a malformed key", bad)
			}
		}
	})
	t.Run("CompareAndSwap", func(t *testing.T) {
		s := open(t)
		const k = "number/+15550002"
		tests := []struct {
			name     string
			old, new []byte
			swapped  bool
			after    []byte // nil: absent
		}{
			{"claim an absent key", nil, []byte("alice"), true, []byte("alice")},
			{"claim it again", nil, []byte("bob"), false, []byte("alice")},
			{"wrong old value", []byte("bob"), []byte("carol"), false, []byte("alice")},
			{"old value is a prefix", []byte("alic"), []byte("carol"), false, []byte("alice")},
			{"right old value", []byte("alice"), []byte("bob"), true, []byte("bob")},
			{"empty old is not absent", []byte{}, []byte("carol"), false, []byte("bob")},
			{"release by the owner", []byte("bob"), nil, true, nil},
			{"release again", []byte("bob"), nil, false, nil},
			{"claim with an empty value", nil, []byte{}, true, []byte{}},
			{"empty old matches an empty value", []byte{}, []byte("dave"), true, []byte("dave")},
		}
		for _, tt := range tests {
			swapped, err := s.CompareAndSwap(ctx, k, tt.old, tt.new)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if swapped != tt.swapped {
				t.Errorf("%s: swapped = %v, want %v", tt.name, swapped, tt.swapped)
			}
			v, err := s.Get(ctx, k)
			switch {
			case tt.after == nil && !errors.Is(err, transports.ErrNotFound):
				t.Errorf("%s: after it, Get = %q, %v; want ErrNotFound", tt.name, v, err)
			case tt.after != nil && (err != nil || !bytes.Equal(v, tt.after)):
				t.Errorf("%s: after it, Get = %q, %v; want %q", tt.name, v, err, tt.after)
			}
		}
	})
	t.Run("CompareAndSwapRace", func(t *testing.T) {
		s := open(t)
		const n = 16
		var wg sync.WaitGroup
		wins := make(chan string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				me := fmt.Sprintf("user%d", i)
				ok, err := s.CompareAndSwap(ctx, "pool/+15550003", nil, []byte(me))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins <- me
				}
			}()
		}
		wg.Wait()
		close(wins)
		var won []string
		for w := range wins {
			won = append(won, w)
		}
		if len(won) != 1 {
			t.Fatalf("%d claims of one free key succeeded (%v), want exactly 1", len(won), won)
		}
		if v, err := s.Get(ctx, "pool/+15550003"); err != nil || string(v) != won[0] {
			t.Errorf("the key holds %q, %v; the winner was %s", v, err, won[0])
		}
	})
	t.Run("Scan", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"user/b", "user/a", "users", "number/1", "user/c"} {
			if err := s.Put(ctx, k, []byte("v:"+k)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		err := s.Scan(ctx, "user/", func(k string, v []byte) error {
			if string(v) != "v:"+k {
				t.Errorf("Scan gave %q for %q", v, k)
			}
			got = append(got, k)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"user/a", "user/b", "user/c"}; !slices.Equal(got, want) {
			t.Errorf("Scan(user/) = %v, want %v", got, want)
		}
		got = nil
		if err := s.Scan(ctx, "", func(k string, _ []byte) error { got = append(got, k); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := []string{"number/1", "user/a", "user/b", "user/c", "users"}; !slices.Equal(got, want) {
			t.Errorf("Scan(\"\") = %v, want %v", got, want)
		}
		stop := errors.New("stop")
		n := 0
		err = s.Scan(ctx, "user/", func(string, []byte) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("Scan stopped by fn: err = %v after %d calls, want stop after 1", err, n)
		}
	})
	if other != nil {
		t.Run("PerNetwork", func(t *testing.T) {
			s := open(t)
			o := other(t)
			if err := s.Put(ctx, "number/1", []byte("alice")); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Get(ctx, "number/1"); !errors.Is(err, transports.ErrNotFound) {
				t.Errorf("another network's store sees the key: err = %v", err)
			}
			if ok, err := o.CompareAndSwap(ctx, "number/1", nil, []byte("bob")); err != nil || !ok {
				t.Errorf("another network could not claim its own key: %v, %v", ok, err)
			}
			if v, err := s.Get(ctx, "number/1"); err != nil || string(v) != "alice" {
				t.Errorf("the first network's value became %q, %v", v, err)
			}
			n := 0
			o.Scan(ctx, "", func(string, []byte) error { n++; return nil })
			if n != 1 {
				t.Errorf("another network's Scan saw %d keys, want its 1", n)
			}
		})
	}
}
