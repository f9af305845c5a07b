package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestClusterResharding moves the slots of the shared tag (leases,
// queues) and of a user's tag from node to node, key batch by key batch as
// redis-cli --cluster reshard does (SETSLOT IMPORTING/MIGRATING, MIGRATE,
// SETSLOT NODE), while writers run every kind of write the store makes:
// Append and the fenced writes (Lua scripts on one node's connection),
// Put (MULTI/EXEC) and Update (WATCH/MULTI/EXEC), the lease's renewal.
// Those meet MOVED, ASK and TRYAGAIN; none may fail, and nothing
// acknowledged may be lost.
func TestClusterResharding(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	s := openLeaser(t, redis.Options{ClusterAddrs: c.Addrs()})
	ctx := t.Context()
	raw := make([]*goredis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		raw[i] = goredis.NewClient(&goredis.Options{Addr: n.Addr()})
		t.Cleanup(func() { raw[i].Close() })
	}
	l, ok, err := s.AcquireLease(ctx, "irc.example.org", "a", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	f := s.Fenced(l)

	type counts struct {
		appended []uint64 // sequence numbers Append returned
		updates  int      // Updates that committed
		puts     int      // fenced Puts that returned nil
	}
	var (
		mu   sync.Mutex
		errs []error
		got  counts
	)
	fail := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	writer := func(name string, op func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				if err := op(i); err != nil {
					fail(name, err)
				}
			}
		}()
	}
	writer("append", func(i int) error {
		seq, err := f.Append(ctx, "outbox:irc", []byte(strconv.Itoa(i)))
		if err == nil {
			mu.Lock()
			got.appended = append(got.appended, seq)
			mu.Unlock()
		}
		return err
	})
	writer("update", func(i int) error {
		err := s.Update(ctx, func(tx storage.Tx) error {
			v, err := tx.Get(fenceBucket, aliceKey)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			n, _ := strconv.Atoi(string(v))
			return tx.Put(fenceBucket, aliceKey, []byte(strconv.Itoa(n+1)))
		})
		if err == nil {
			mu.Lock()
			got.updates++
			mu.Unlock()
		}
		return err
	})
	writer("fenced put", func(i int) error {
		k := sharedKey
		if i%2 == 1 {
			k = aliceKey + "2"
		}
		err := f.Put(ctx, fenceBucket, k, []byte(strconv.Itoa(i)))
		if err == nil {
			mu.Lock()
			got.puts++
			mu.Unlock()
		}
		return err
	})
	writer("put and renew", func(i int) error {
		if err := s.Put(ctx, fenceBucket, fmt.Sprint("k", i%50), []byte("v")); err != nil {
			return err
		}
		return s.RenewLease(ctx, l, time.Minute)
	})

	for _, tag := range []string{"_", fmt.Sprintf("%x", "irc\x00alice@example.org")} {
		slot, err := raw[0].ClusterKeySlot(ctx, "{"+tag+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		// Round the slot over every node, back to where it was.
		for range len(raw) {
			moveSlot(t, raw, int(slot))
		}
	}
	stop()
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	items, err := s.Range(ctx, "outbox:irc", 0, len(got.appended)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(got.appended) {
		t.Errorf("%d items in the queue, %d appended", len(items), len(got.appended))
	}
	for i, it := range items {
		if i < len(got.appended) && it.Seq != got.appended[i] {
			t.Errorf("item %d has number %d, Append returned %d", i, it.Seq, got.appended[i])
			break
		}
	}
	v, err := s.Get(ctx, fenceBucket, aliceKey)
	if n, _ := strconv.Atoi(string(v)); err != nil || n != got.updates {
		t.Errorf("counter = %q, %v; %d updates committed", v, err, got.updates)
	}
	if got.puts == 0 || len(got.appended) == 0 || got.updates == 0 {
		t.Errorf("writes during the moves: %+v", got)
	}
	t.Logf("during the moves: %d appends, %d updates, %d fenced puts", len(got.appended), got.updates, got.puts)
}

// moveSlot moves slot from the node that serves it to the next node of
// nodes, as redis-cli --cluster reshard does, a few keys at a time with
// pauses so that writers meet the migration half done.
func moveSlot(t *testing.T, nodes []*goredis.Client, slot int) {
	t.Helper()
	ctx := t.Context()
	ids := make([]string, len(nodes))
	src := -1
	for i, n := range nodes {
		id, err := n.Do(ctx, "cluster", "myid").Text()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	slots, err := nodes[0].ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slots {
		if int(r.Start) <= slot && slot <= int(r.End) {
			for i, id := range ids {
				if id == r.Nodes[0].ID {
					src = i
				}
			}
		}
	}
	if src < 0 {
		t.Fatalf("no node serves slot %d", slot)
	}
	dst := (src + 1) % len(nodes)
	host, port, _ := net.SplitHostPort(nodes[dst].Options().Addr)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("moving slot %d from %s to %s: %v", slot, ids[src], ids[dst], err)
		}
	}
	must(nodes[dst].Do(ctx, "cluster", "setslot", slot, "importing", ids[src]).Err())
	must(nodes[src].Do(ctx, "cluster", "setslot", slot, "migrating", ids[dst]).Err())
	for {
		keys, err := nodes[src].ClusterGetKeysInSlot(ctx, slot, 2).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(nodes[src].Do(ctx, args...).Err())
		time.Sleep(20 * time.Millisecond)
	}
	// The new owner first, then the old one, then the others.
	must(nodes[dst].Do(ctx, "cluster", "setslot", slot, "node", ids[dst]).Err())
	must(nodes[src].Do(ctx, "cluster", "setslot", slot, "node", ids[dst]).Err())
	for i, n := range nodes {
		if i != src && i != dst {
			must(n.Do(ctx, "cluster", "setslot", slot, "node", ids[dst]).Err())
		}
	}
}
