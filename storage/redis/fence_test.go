package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// Keys of the fencing tests: two users' partitions and the shared one.
const (
	fenceBucket = "netstate"
	aliceKey    = "irc\x00alice@example.org\x00cursor"
	bobKey      = "irc\x00bob@example.org\x00cursor"
	sharedKey   = "config"
)

// fencedWrites are the bucket writes a fenced view makes, each of one key.
var fencedWrites = []struct {
	name  string
	write func(ctx context.Context, st storage.Store, key string, v []byte) error
}{
	{"put", func(ctx context.Context, st storage.Store, key string, v []byte) error {
		return st.Put(ctx, fenceBucket, key, v)
	}},
	{"delete", func(ctx context.Context, st storage.Store, key string, _ []byte) error {
		return st.Delete(ctx, fenceBucket, key)
	}},
	{"update", func(ctx context.Context, st storage.Store, key string, v []byte) error {
		return st.Update(ctx, func(tx storage.Tx) error {
			old, err := tx.Get(fenceBucket, key)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			return tx.Put(fenceBucket, key, append(old, v...))
		})
	}},
}

// TestFencedBucketWrites: a holder whose lease was taken away and given
// to another holding (a larger token) cannot Put, Delete or Update a key
// of a user's partition or of the shared one: each fails with ErrFenced
// and the value stays as it was; the new holder's view writes them.
func TestFencedBucketWrites(t *testing.T) {
	redisModes(t, func(t *testing.T, s *redis.Store) {
		ctx := t.Context()
		old, ok, err := s.AcquireLease(ctx, "irc.example.org", "old", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		fo := s.Fenced(old)
		keys := []string{aliceKey, sharedKey}
		for _, k := range keys {
			if err := fo.Put(ctx, fenceBucket, k, []byte("v0")); err != nil {
				t.Fatalf("put %q while held: %v", k, err)
			}
			if err := fencedWrites[2].write(ctx, fo, k, []byte("+1")); err != nil {
				t.Fatalf("update %q while held: %v", k, err)
			}
		}
		// The lease is taken away and given to another holding, as
		// when the old holder is paused past its TTL.
		if err := s.ReleaseLease(ctx, old); err != nil {
			t.Fatal(err)
		}
		cur, ok, err := s.AcquireLease(ctx, "irc.example.org", "new", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		for _, w := range fencedWrites {
			for _, k := range keys {
				if err := w.write(ctx, fo, k, []byte("late")); !errors.Is(err, storage.ErrFenced) {
					t.Errorf("%s of %q by the old holding: err = %v, want ErrFenced", w.name, k, err)
				}
				if v, err := s.Get(ctx, fenceBucket, k); err != nil || string(v) != "v0+1" {
					t.Errorf("%q after the old holding's %s = %q, %v; want v0+1", k, w.name, v, err)
				}
			}
		}
		fc := s.Fenced(cur)
		for _, k := range keys {
			if err := fencedWrites[2].write(ctx, fc, k, []byte("+2")); err != nil {
				t.Fatalf("update %q by the new holding: %v", k, err)
			}
			if v, err := s.Get(ctx, fenceBucket, k); err != nil || string(v) != "v0+1+2" {
				t.Errorf("%q after the new holding's update = %q, %v; want v0+1+2", k, v, err)
			}
			if err := fc.Delete(ctx, fenceBucket, k); err != nil {
				t.Fatalf("delete %q by the new holding: %v", k, err)
			}
			if _, err := s.Get(ctx, fenceBucket, k); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%q after the new holding's delete: err = %v, want ErrNotFound", k, err)
			}
		}
	})
}

// TestClusterPartitionFence: on a Cluster a user's keys are not in the
// lease's slot, so a partition's fence keeps the largest token that
// wrote there. A former holder that read the lease before the takeover
// (simulated: its holding is put back in the lease key, so its lease
// check passes) cannot write in a partition the new holder has written
// in; in one the new holder has not written yet its write lands, and is
// fenced off once the new holder has written there (the documented
// limit of fence.go).
func TestClusterPartitionFence(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	s := openLeaser(t, redis.Options{ClusterAddrs: c.Addrs()})
	raw := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { raw.Close() })
	ctx := t.Context()
	old, ok, err := s.AcquireLease(ctx, "irc.example.org", "old", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	fo := s.Fenced(old)
	if err := s.ReleaseLease(ctx, old); err != nil {
		t.Fatal(err)
	}
	cur, ok, err := s.AcquireLease(ctx, "irc.example.org", "new", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	fc := s.Fenced(cur)
	if err := fc.Put(ctx, fenceBucket, aliceKey, []byte("new")); err != nil {
		t.Fatal(err)
	}
	// The old holder's stale view of the lease.
	lk, oldValue := redis.LeaseKeyValue(s, old)
	_, curValue := redis.LeaseKeyValue(s, cur)
	if err := raw.Set(ctx, lk, oldValue, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for _, w := range fencedWrites {
		if err := w.write(ctx, fo, aliceKey, []byte("late")); !errors.Is(err, storage.ErrFenced) {
			t.Errorf("%s in a partition the new holder wrote: err = %v, want ErrFenced", w.name, err)
		}
	}
	if v, err := s.Get(ctx, fenceBucket, aliceKey); err != nil || string(v) != "new" {
		t.Errorf("alice's key = %q, %v; want new", v, err)
	}
	if err := fo.Put(ctx, fenceBucket, bobKey, []byte("late")); err != nil {
		t.Errorf("put in a partition the new holder never wrote: %v", err)
	}
	if err := raw.Set(ctx, lk, curValue, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := fencedWrites[2].write(ctx, fc, bobKey, []byte("+new")); err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, lk, oldValue, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := fo.Put(ctx, fenceBucket, bobKey, []byte("later")); !errors.Is(err, storage.ErrFenced) {
		t.Errorf("put after the new holder wrote the partition: err = %v, want ErrFenced", err)
	}
	if v, err := s.Get(ctx, fenceBucket, bobKey); err != nil || string(v) != "late+new" {
		t.Errorf("bob's key = %q, %v; want late+new", v, err)
	}
}
