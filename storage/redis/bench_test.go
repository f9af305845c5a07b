package redis_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// benchRuns numbers the runs of a benchmark.
var benchRuns atomic.Int64

// benchStores opens, for each setting the README compares, a store on a
// real redis-server: alone, and a master whose writes wait for its replica
// (min_replicas = 1). The same operations as storage/bolt's benchmarks.
func benchStores(b *testing.B) map[string]storage.Store {
	b.Helper()
	alone := testenv.StartRedis(b, testenv.RedisOptions{})
	master := testenv.StartRedis(b, testenv.RedisOptions{})
	replica := testenv.StartRedis(b, testenv.RedisOptions{ReplicaOf: master.Addr()})
	for i := 0; ; i++ {
		if out, err := replica.Cli("info", "replication"); err == nil && strings.Contains(out, "master_link_status:up") {
			break
		}
		if i == 300 {
			b.Fatal("the replica did not sync within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stores := map[string]storage.Store{}
	for name, o := range map[string]redis.Options{
		"standalone":     {URL: "redis://" + alone.Addr()},
		"min_replicas=1": {URL: "redis://" + master.Addr(), MinReplicas: 1},
	} {
		o.Logger = slog.New(slog.DiscardHandler)
		s, err := redis.Open(b.Context(), o)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stores[name] = s
	}
	return stores
}

func BenchmarkPut(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
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
		})
	}
}

func BenchmarkAppendRange(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
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
		})
	}
}

// BenchmarkUpdate is EnqueueOnce's shape: read a key, write two, append to
// the user's outbox queue, in one transaction.
func BenchmarkUpdate(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			value := []byte(strings.Repeat("v", 256))
			b.ReportAllocs()
			i := 0
			run := benchRuns.Add(1) // each run pairs keys of its own (-count)
			for b.Loop() {
				key := fmt.Sprintf("email\x00alice@example.org\x00conv%d\x00l%08d", run, i)
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
					_, err := tx.Append("email\x00alice@example.org\x00outbox", value)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkEnqueue is the outbox's plain Enqueue (storage.AppendMarked):
// an append to a user's queue and that user's "outbox-users" entry set
// to the item's number, in one atomic step, for users taken in turn.
func BenchmarkEnqueue(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			value := []byte(strings.Repeat("v", 256))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				user := fmt.Sprintf("email\x00u%d@example.org", i%64)
				if _, err := storage.AppendMarked(ctx, s, user+"\x00outbox", value, "outbox-users", user); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
