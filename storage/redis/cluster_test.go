package redis_test

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestClusterRunsTheStatePackages drives the packages that keep
// switchboard's state (message-ID map, network state, outbox, dead
// letters) on a 3-node Cluster: pairing, pruning and forgetting many
// users' keys, queueing and acknowledging. The exactly-once enqueue, a
// transaction over a user's keys and the network's outbox, is refused
// with ErrCrossSlot and writes nothing (the README's "Not yet").
func TestClusterRunsTheStatePackages(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	st, err := redis.Open(t.Context(), redis.Options{ClusterAddrs: c.Addrs(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	ids, state, ob := msgid.New(st), netstate.New(st), outbox.New(st)

	const users = 30
	user := func(i int) string { return fmt.Sprintf("user%02d@example.org", i) }
	for i := range users {
		for m := range 3 {
			if err := ids.Pair(ctx, user(i), "irc", "#chan", fmt.Sprint("L", m), fmt.Sprint("X", i, "-", m)); err != nil {
				t.Fatal(err)
			}
		}
		if err := state.Put(ctx, user(i), "email", "uid", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if id, err := ids.XMPPID(ctx, user(7), "irc", "#chan", "L2"); err != nil || id != "X7-2" {
		t.Errorf("XMPPID = %q, %v", id, err)
	}
	// Re-pairing replaces both halves, in one slot.
	if err := ids.Pair(ctx, user(7), "irc", "#chan", "L2", "X-new"); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.LegacyID(ctx, user(7), "irc", "#chan", "X7-2"); !errors.Is(err, msgid.ErrNoMapping) {
		t.Errorf("the replaced pair's reverse half survived: %v", err)
	}
	if err := ids.Forget(ctx, user(3), "irc"); err != nil {
		t.Fatal(err)
	}
	if err := state.Forget(ctx, user(3), "email"); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Get(ctx, user(3), "email", "uid"); !errors.Is(err, netstate.ErrNotFound) {
		t.Errorf("forgotten state: %v", err)
	}
	n, err := ids.Prune(ctx, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := (users - 1) * 3 * 2; n != want {
		t.Errorf("Prune deleted %d halves, want %d", n, want)
	}

	for i := range 5 {
		if _, err := ob.Enqueue(ctx, "irc", []byte(fmt.Sprint("<m", i, "/>"))); err != nil {
			t.Fatal(err)
		}
	}
	items, err := ob.Pending(ctx, "irc", 10)
	if err != nil || len(items) != 5 {
		t.Fatalf("Pending = %v, %v", items, err)
	}
	if err := ob.Ack(ctx, "irc", items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := ob.DeadLetter(ctx, "irc", items[1].Seq, items[1].Stanza, "refused"); err != nil {
		t.Fatal(err)
	}
	if items, _ = ob.Pending(ctx, "irc", 10); len(items) != 3 {
		t.Errorf("after an ack and a dead letter, %d pending, want 3", len(items))
	}

	_, err = ob.EnqueueOnce(ctx, user(1), "email", "bob@example.org", "7:42", "x1", []byte("<m/>"))
	if !errors.Is(err, redis.ErrCrossSlot) {
		t.Errorf("EnqueueOnce on a Cluster: err = %v, want ErrCrossSlot", err)
	}
	if _, err := ids.XMPPID(ctx, user(1), "email", "bob@example.org", "7:42"); !errors.Is(err, msgid.ErrNoMapping) {
		t.Errorf("the refused EnqueueOnce paired the ID: %v", err)
	}
}
