package redis_test

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// openLeaser opens a store on its own key prefix.
func openLeaser(t *testing.T, o redis.Options) *redis.Store {
	t.Helper()
	o.Logger = slog.New(slog.DiscardHandler)
	o.KeyPrefix = fmt.Sprintf("lease%d:", prefixes.Add(1))
	s, err := redis.Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLease: one holder at a time; renewal only by the holding; a new
// holding after expiry or release gets a larger token; the holder is
// readable.
func TestLease(t *testing.T) {
	redisModes(t, func(t *testing.T, s *redis.Store) {
		ctx := t.Context()
		const ttl = time.Second
		if _, err := s.LeaseHolder(ctx, "irc.example.org"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LeaseHolder before any: err = %v, want ErrNotFound", err)
		}
		a, ok, err := s.AcquireLease(ctx, "irc.example.org", "a", ttl)
		if err != nil || !ok {
			t.Fatalf("first acquire: ok=%v err=%v", ok, err)
		}
		if _, ok, err := s.AcquireLease(ctx, "irc.example.org", "b", ttl); err != nil || ok {
			t.Fatalf("second acquire while held: ok=%v err=%v, want refused", ok, err)
		}
		if _, ok, err := s.AcquireLease(ctx, "email.example.org", "b", ttl); err != nil || !ok {
			t.Fatalf("another name: ok=%v err=%v", ok, err)
		}
		h, err := s.LeaseHolder(ctx, "irc.example.org")
		if err != nil {
			t.Fatal(err)
		}
		if h.Owner != "a" || h.Token != a.Token || !h.Since.Equal(a.Since) || h.TTL <= 0 || h.TTL > ttl {
			t.Fatalf("holder = %+v, want owner a, token %d, since %v, TTL in (0, %v]", h, a.Token, a.Since, ttl)
		}
		// Renewals keep it past its first TTL.
		for range 4 {
			time.Sleep(ttl / 3)
			if err := s.RenewLease(ctx, a, ttl); err != nil {
				t.Fatalf("renew by the holder: %v", err)
			}
		}
		if _, ok, _ := s.AcquireLease(ctx, "irc.example.org", "b", ttl); ok {
			t.Fatal("acquired a renewed lease")
		}
		// Expiry: someone else takes it, with a larger token; the
		// old holding can neither renew nor release it.
		var b storage.Lease
		waitUntil(t, 10*time.Second, "the lease expires and b takes it", func() bool {
			b, ok, err = s.AcquireLease(ctx, "irc.example.org", "b", ttl)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		if b.Token <= a.Token {
			t.Fatalf("new token %d not above old %d", b.Token, a.Token)
		}
		if err := s.RenewLease(ctx, a, ttl); !errors.Is(err, storage.ErrFenced) {
			t.Fatalf("renew by the old holding: err = %v, want ErrFenced", err)
		}
		if err := s.ReleaseLease(ctx, a); err != nil {
			t.Fatal(err)
		}
		if h, err := s.LeaseHolder(ctx, "irc.example.org"); err != nil || h.Owner != "b" {
			t.Fatalf("after the old holding's release: holder %+v, %v; want b", h, err)
		}
		// Release: taken at once, with a larger token still.
		if err := s.ReleaseLease(ctx, b); err != nil {
			t.Fatal(err)
		}
		c, ok, err := s.AcquireLease(ctx, "irc.example.org", "c", ttl)
		if err != nil || !ok || c.Token <= b.Token {
			t.Fatalf("after release: %+v ok=%v err=%v, want a token above %d", c, ok, err, b.Token)
		}
	})
}

// TestFencedQueueWrites: a fenced view appends and removes while its
// lease is held; once another holds it, neither writes anything.
func TestFencedQueueWrites(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	s := openLeaser(t, redis.Options{URL: "redis://" + srv.Addr()})
	ctx := t.Context()
	const ttl = 200 * time.Millisecond
	old, ok, err := s.AcquireLease(ctx, "irc.example.org", "old", ttl)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	f := s.Fenced(old)
	for i := range 3 {
		if _, err := f.Append(ctx, "outbox:irc", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatalf("fenced append while held: %v", err)
		}
	}
	if err := f.Remove(ctx, "outbox:irc", 1); err != nil {
		t.Fatalf("fenced remove while held: %v", err)
	}
	waitUntil(t, 10*time.Second, "a new holder", func() bool {
		_, ok, err := s.AcquireLease(ctx, "irc.example.org", "new", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	if _, err := f.Append(ctx, "outbox:irc", []byte("late")); !errors.Is(err, storage.ErrFenced) {
		t.Errorf("append by the old holding: err = %v, want ErrFenced", err)
	}
	if err := f.Remove(ctx, "outbox:irc", 2); !errors.Is(err, storage.ErrFenced) {
		t.Errorf("remove by the old holding: err = %v, want ErrFenced", err)
	}
	items, err := s.Range(ctx, "outbox:irc", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%d=%s", it.Seq, it.Value))
	}
	if fmt.Sprint(got) != "[2=m1 3=m2]" {
		t.Errorf("queue after the fenced-off writes = %v, want [2=m1 3=m2]", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Range(ctx, "outbox:irc", 0, 1); err != nil {
		t.Errorf("the view's Close closed the store: %v", err)
	}
}
