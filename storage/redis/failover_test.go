package redis_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestFailoverLosesNothingAcknowledged kills the Redis master with
// SIGKILL under a stream of writes (registrations with Put, outbox
// stanzas with Append, and both in one Update as EnqueueOnce does), lets
// Sentinel promote the replica, brings the old master back (Sentinel makes
// it a replica of the new one) and checks through a new client that every
// write acknowledged with min_replicas = 1 is there.
func TestFailoverLosesNothingAcknowledged(t *testing.T) {
	rs := testenv.StartRedisSentinel(t, testenv.RedisOptions{Password: "failover-pw"}, 3)
	opts := redis.Options{
		SentinelAddrs:      rs.SentinelAddrs(),
		MasterName:         rs.MasterName,
		Password:           "failover-pw",
		MinReplicas:        1,
		MinReplicasTimeout: 500 * time.Millisecond,
		Logger:             slog.New(slog.DiscardHandler),
	}
	st, err := redis.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// acked records what was acknowledged: bucket keys and queue items.
	var (
		mu       sync.Mutex
		ackedKV  = map[string]string{}
		ackedQ   = map[uint64]string{}
		failed   atomic.Int64
		attempts atomic.Int64
		after    atomic.Int64 // acknowledged after the old master was killed
		killed   atomic.Bool
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	ctx := t.Context()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				attempts.Add(1)
				user := fmt.Sprintf("irc\x00user%d@example.org", w)
				key, val := fmt.Sprintf("%s\x00%d", user, i), fmt.Sprintf("w%d-%d", w, i)
				var err error
				var seq uint64
				switch i % 3 {
				case 0:
					err = st.Put(ctx, "registrations", key, []byte(val))
				case 1:
					seq, err = st.Append(ctx, "outbox:irc", []byte(val))
				case 2:
					err = st.Update(ctx, func(tx storage.Tx) error {
						if err := tx.Put("msgids", key, []byte(val)); err != nil {
							return err
						}
						var err error
						seq, err = tx.Append("outbox:irc", []byte(val))
						return err
					})
				}
				if err != nil {
					failed.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				mu.Lock()
				if i%3 != 1 {
					ackedKV[map[bool]string{true: "registrations", false: "msgids"}[i%3 == 0]+"/"+key] = val
				}
				if i%3 != 0 {
					ackedQ[seq] = val
				}
				mu.Unlock()
				if killed.Load() {
					after.Add(1)
				}
			}
		})
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	waitUntil(t, 10*time.Second, "200 acknowledged writes before the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ackedKV)+len(ackedQ) >= 200
	})
	oldMaster := rs.Master.Addr()
	rs.Master.Kill()
	killed.Store(true)
	t.Logf("master %s killed with SIGKILL", oldMaster)

	waitUntil(t, 30*time.Second, "Sentinel to promote the replica", func() bool {
		m, err := rs.CurrentMaster()
		return err == nil && m == rs.Replica.Addr()
	})
	// With min_replicas = 1 the promoted master takes writes but cannot
	// acknowledge them until it has a replica again.
	if err := rs.Master.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "100 acknowledged writes after the failover", func() bool {
		return after.Load() >= 100
	})
	close(stop)
	wg.Wait()

	// Read everything back through a new client that asks the sentinels
	// for the master.
	opts.MinReplicas = 0
	check, err := redis.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	lostKV := 0
	for k, want := range ackedKV {
		bucket, key, _ := strings.Cut(k, "/")
		got, err := check.Get(ctx, bucket, key)
		if err != nil || string(got) != want {
			lostKV++
			if lostKV <= 5 {
				t.Errorf("acknowledged %s %q: got %q, %v", bucket, key, got, err)
			}
		}
	}
	items, err := check.Range(ctx, "outbox:irc", 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	inQueue := map[uint64]string{}
	for _, it := range items {
		inQueue[it.Seq] = string(it.Value)
	}
	lostQ := 0
	for seq, want := range ackedQ {
		if inQueue[seq] != want {
			lostQ++
			if lostQ <= 5 {
				t.Errorf("acknowledged outbox item %d (%s): got %q", seq, want, inQueue[seq])
			}
		}
	}
	t.Logf("%d writes tried, %d refused, %d acknowledged after the kill; acknowledged %d keys and %d outbox items, lost %d keys and %d outbox items; %d outbox items in Redis",
		attempts.Load(), failed.Load(), after.Load(), len(ackedKV), len(ackedQ), lostKV, lostQ, len(items))
	if failed.Load() == 0 {
		t.Error("no write failed during the failover: the kill did not happen under load")
	}
}

// waitUntil polls cond every 20ms, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
