package archive_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestOnRedisCluster runs the archive on a real 3-node Redis Cluster,
// which keeps each user's keys in one slot and refuses a transaction
// across users: flushes of many users' messages, paging, the size bound,
// pruning and forgetting all work there.
func TestOnRedisCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	st, err := redis.Open(t.Context(), redis.Options{ClusterAddrs: c.Addrs(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	a := archive.New(st, archive.Bounds{MaxPerRoom: 5})
	const users = 12
	user := func(i int) string { return fmt.Sprintf("user%02d@example.org", i) }
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for m := range 8 { // every user gets each message, as in one busy channel
		for i := range users {
			e := archive.Entry{ID: fmt.Sprint("m", m), Legacy: true, Nick: "bob", Body: fmt.Sprint("line ", m), Time: t0.Add(time.Duration(m) * time.Minute)}
			if err := a.Add(ctx, user(i), "irc", "#chan", e); err != nil {
				t.Fatal(err)
			}
		}
		if m%3 == 2 {
			if err := a.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}
	}
	for i := range users {
		p, err := a.Query(ctx, user(i), "irc", "#chan", archive.Query{Last: true, Max: 2})
		if err != nil {
			t.Fatalf("%s: %v", user(i), err)
		}
		if p.Count != 5 || len(p.Entries) != 2 || p.Entries[0].ID != "m6" || p.Entries[1].ID != "m7" || p.Complete {
			t.Errorf("%s: last page %+v, want m6 m7 of the 5 kept", user(i), p)
		}
	}
	// m3 and m4 are older than the cut: pruned for everyone.
	n, err := a.Prune(ctx, t0.Add(5*time.Minute))
	if err != nil || n != 2*users {
		t.Fatalf("Prune = %d, %v; want %d", n, err, 2*users)
	}
	if err := a.Forget(ctx, user(0), "irc"); err != nil {
		t.Fatal(err)
	}
	for i := range users {
		want := 3
		if i == 0 {
			want = 0
		}
		p, err := a.Query(ctx, user(i), "irc", "#chan", archive.Query{Max: -1})
		if err != nil || p.Count != want {
			t.Errorf("%s after Prune and Forget: %d messages (%v), want %d", user(i), p.Count, err, want)
		}
	}
}
