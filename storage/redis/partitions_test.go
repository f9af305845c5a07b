package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// redisModes opens a store of its own on a real redis-server and on a
// 3-node Cluster, one subtest each.
func redisModes(t *testing.T, fn func(t *testing.T, s *redis.Store)) {
	t.Helper()
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	for _, mode := range []struct {
		name string
		opts func(t *testing.T) redis.Options
	}{
		{"standalone", func(*testing.T) redis.Options { return redis.Options{URL: "redis://" + srv.Addr()} }},
		{"cluster", func(t *testing.T) redis.Options {
			return redis.Options{ClusterAddrs: testenv.StartRedisCluster(t).Addrs()}
		}},
	} {
		t.Run(mode.name, func(t *testing.T) { fn(t, openLeaser(t, mode.opts(t))) })
	}
}

// TestDrainedRecipientsUnlisted: once the outbox's recipients are
// drained and a scan of "outbox-users" found their queues empty, the
// bucket's list of partitions no longer has them, so the next scan costs
// no read per former recipient; a new stanza lists its recipient again.
func TestDrainedRecipientsUnlisted(t *testing.T) {
	redisModes(t, func(t *testing.T, s *redis.Store) {
		ctx := t.Context()
		const users = 20
		user := func(i int) string { return fmt.Sprintf("user%02d@example.org", i) }
		ob := outbox.New(s)
		for i := range users {
			if _, err := ob.Enqueue(ctx, user(i), "irc", []byte(fmt.Sprintf("<message id='%d'/>", i))); err != nil {
				t.Fatal(err)
			}
		}
		listed := func(want int) {
			t.Helper()
			parts, err := redis.Partitions(s, "outbox-users")
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != want {
				t.Fatalf("partitions of outbox-users = %d, want %d", len(parts), want)
			}
		}
		listed(users)
		drain(t, ob, users)
		listed(users) // draining writes nothing to the bucket
		// A new process scans the bucket and settles what it finds.
		if items, err := outbox.New(s).Pending(ctx, "irc", 100); err != nil || len(items) != 0 {
			t.Fatalf("Pending after the drain = %v, %v; want nothing", items, err)
		}
		listed(0)
		if _, err := ob.Enqueue(ctx, user(3), "irc", []byte("<message id='again'/>")); err != nil {
			t.Fatal(err)
		}
		listed(1)
		items, err := outbox.New(s).Pending(ctx, "irc", 100)
		if err != nil || len(items) != 1 || items[0].User != user(3) {
			t.Fatalf("Pending of a new process after a new stanza = %v, %v; want user03's", items, err)
		}
	})
}

// drain hands out and acknowledges every stanza of ob's irc outbox.
func drain(t *testing.T, ob *outbox.Outbox, want int) {
	t.Helper()
	ctx := t.Context()
	items, err := ob.Pending(ctx, "irc", 1000)
	if err != nil || len(items) != want {
		t.Fatalf("Pending = %d items, %v; want %d", len(items), err, want)
	}
	for _, it := range items {
		if err := ob.Ack(ctx, "irc", it.User, it.Seq); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEnqueueDuringPruneNotLost: a stanza enqueued while another process
// scans the "outbox-users" bucket, finds the recipient's queue empty and
// removes its entry (and the partition from the list) is never lost: a
// process started afterwards finds it. Many rounds, on both layouts.
func TestEnqueueDuringPruneNotLost(t *testing.T) {
	rounds := 60
	if testing.Short() {
		rounds = 15
	}
	redisModes(t, func(t *testing.T, s *redis.Store) {
		ctx := t.Context()
		ob := outbox.New(s)
		for r := range rounds {
			u := fmt.Sprintf("user%d@example.org", r%3)
			// The recipient's queue has been emptied; its entry is
			// still there.
			if _, err := ob.Enqueue(ctx, u, "irc", []byte("<message id='old'/>")); err != nil {
				t.Fatal(err)
			}
			drain(t, ob, 1)
			var wg sync.WaitGroup
			wg.Go(func() {
				if _, err := ob.Enqueue(ctx, u, "irc", []byte(fmt.Sprintf("<message id='r%d'/>", r))); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				if _, err := outbox.New(s).Pending(ctx, "irc", 100); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			items, err := outbox.New(s).Pending(ctx, "irc", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || string(items[0].Stanza) != fmt.Sprintf("<message id='r%d'/>", r) {
				t.Fatalf("round %d: a new process finds %v, want the stanza enqueued during the prune", r, items)
			}
			// ob noted it: its own Pending acknowledges it.
			drain(t, ob, 1)
		}
	})
}

// TestFencedUpdateListsNothing: a fenced Update whose lease is taken
// over between its fence check and its commit (the takeover is made
// from inside the function, on another connection) writes nothing and
// leaves no entry in the bucket's list of partitions (on a Cluster the
// partition's fence has never been raised, so the list's lease check at
// the commit is what refuses it).
func TestFencedUpdateListsNothing(t *testing.T) {
	redisModes(t, func(t *testing.T, s *redis.Store) {
		ctx := t.Context()
		old, ok, err := s.AcquireLease(ctx, "irc.example.org", "old", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		fo := s.Fenced(old)
		taken := false
		err = fo.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Get(fenceBucket, bobKey); !errors.Is(err, storage.ErrNotFound) {
				// On a Cluster the first run only finds the node (it
				// ends at the first key); the takeover is for a run
				// that commits.
				return err
			}
			if !taken {
				if err := s.ReleaseLease(context.WithoutCancel(ctx), old); err != nil {
					return err
				}
				if _, ok, err := s.AcquireLease(context.WithoutCancel(ctx), "irc.example.org", "new", time.Minute); err != nil || !ok {
					return fmt.Errorf("takeover: %v %w", ok, err)
				}
				taken = true
			}
			return tx.Put(fenceBucket, bobKey, []byte("late"))
		})
		if !errors.Is(err, storage.ErrFenced) {
			t.Errorf("Update across the takeover: err = %v, want ErrFenced", err)
		}
		if _, err := s.Get(ctx, fenceBucket, bobKey); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("bob's key after the fenced Update: err = %v, want ErrNotFound", err)
		}
		parts, err := redis.Partitions(s, fenceBucket)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 0 {
			t.Errorf("partitions of %s after the fenced Update = %q, want none", fenceBucket, parts)
		}
		if keys := scanKeys(t, s, fenceBucket); !slices.Equal(keys, nil) {
			t.Errorf("Scan = %q, want nothing", keys)
		}
	})
}

func scanKeys(t *testing.T, s storage.Store, bucket string) []string {
	t.Helper()
	var keys []string
	if err := s.Scan(t.Context(), bucket, "", func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}
