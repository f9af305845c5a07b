package journal_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// BenchmarkAck measures the journal's acknowledgement path on a real
// redis-server: 32 users' entries written, then acknowledged by one
// goroutine per user at once, as the component's users' confirmation
// lanes do on a busy stream. The time is per acknowledgement.
func BenchmarkAck(b *testing.B) {
	const users = 32
	srv := testenv.StartRedis(b, testenv.RedisOptions{})
	st, err := redis.Open(b.Context(), redis.Options{URL: "redis://" + srv.Addr(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	j := journal.New(st, journal.Limits{MaxPerUser: 1 << 20})
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		recs := make([]journal.Record, users)
		for u := range recs {
			recs[u] = journal.Record{User: fmt.Sprintf("u%d@x", u), Stanza: []byte("<message/>")}
		}
		seqs, errs := j.WriteBatch(ctx, "irc", recs)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		var wg sync.WaitGroup
		for u := range users {
			wg.Go(func() {
				if err := j.Ack(ctx, "irc", recs[u].User, seqs[u]); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	if n := j.Len("irc"); n != 0 {
		b.Fatalf("%d entries left unacknowledged", n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*users), "ns/ack")
}
