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
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestClusterRunsTheStatePackages drives the packages that keep
// switchboard's state (message-ID map, network state, outbox, dead
// letters) on a 3-node Cluster: pairing, pruning and forgetting many
// users' keys, queueing and acknowledging, behind the lease too. The
// exactly-once enqueue is a transaction over a user's message-ID keys and
// the user's outbox queue, in the user's slot.
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

	// The outbox: each user's queue in the user's slot, so the
	// exactly-once enqueue (the message-ID pair and the stanza) is one
	// transaction there.
	for i := range 5 {
		if _, err := ob.Enqueue(ctx, user(i%2), "irc", []byte(fmt.Sprint("<m", i, "/>"))); err != nil {
			t.Fatal(err)
		}
	}
	items, err := ob.Pending(ctx, "irc", 10)
	if err != nil || len(items) != 5 {
		t.Fatalf("Pending = %v, %v", items, err)
	}
	byUser := map[string][]string{}
	for _, it := range items {
		byUser[it.User] = append(byUser[it.User], string(it.Stanza))
	}
	if got := fmt.Sprint(byUser[user(0)], byUser[user(1)]); got != "[<m0/> <m2/> <m4/>] [<m1/> <m3/>]" {
		t.Errorf("Pending by user = %s, want each user's in order", got)
	}
	if err := ob.Ack(ctx, "irc", items[0].User, items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := ob.DeadLetter(ctx, "irc", items[1], "refused"); err != nil {
		t.Fatal(err)
	}
	if items, _ = ob.Pending(ctx, "irc", 10); len(items) != 3 {
		t.Errorf("after an ack and a dead letter, %d pending, want 3", len(items))
	}
	if dl, err := ob.DeadLetters(ctx, "irc", 10); err != nil || len(dl) != 1 {
		t.Errorf("dead letters = %v, %v; want 1", dl, err)
	}

	ok, err := ob.EnqueueOnce(ctx, user(1), "email", "bob@example.org", "7:42", "x1", []byte("<m/>"))
	if err != nil || !ok {
		t.Fatalf("EnqueueOnce on a Cluster = %v, %v; want enqueued", ok, err)
	}
	if id, err := ids.XMPPID(ctx, user(1), "email", "bob@example.org", "7:42"); err != nil || id != "x1" {
		t.Errorf("EnqueueOnce's pair = %q, %v", id, err)
	}
	if ok, err := ob.EnqueueOnce(ctx, user(1), "email", "bob@example.org", "7:42", "x2", []byte("<again/>")); err != nil || ok {
		t.Errorf("EnqueueOnce of the same message again = %v, %v; want not enqueued", ok, err)
	}
	items, err = outbox.New(st).Pending(ctx, "email", 10)
	if err != nil || len(items) != 1 || items[0].User != user(1) || string(items[0].Stanza) != "<m/>" {
		t.Fatalf("email outbox = %+v, %v; want user01's one stanza", items, err)
	}

	// The flush's writes behind the domain's lease: the user's slot has a
	// token fence, so the holder's ack lands and a former holder's does
	// not.
	old, ok, err := st.AcquireLease(ctx, "email.example.org", "old", 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	former := outbox.New(st)
	former.Hold(old)
	if _, err := ob.Enqueue(ctx, user(1), "email", []byte("<n/>")); err != nil {
		t.Fatal(err)
	}
	if err := former.Ack(ctx, "email", items[0].User, items[0].Seq); err != nil {
		t.Fatalf("Ack while holding: %v", err)
	}
	var cur storage.Lease
	for {
		cur, ok, err = st.AcquireLease(ctx, "email.example.org", "new", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	items, err = former.Pending(ctx, "email", 10)
	if err != nil || len(items) != 1 || string(items[0].Stanza) != "<n/>" {
		t.Fatalf("email outbox = %+v, %v; want <n/>", items, err)
	}
	if err := former.Ack(ctx, "email", items[0].User, items[0].Seq); !errors.Is(err, storage.ErrFenced) {
		t.Errorf("Ack by the former holder: %v, want ErrFenced", err)
	}
	holder := outbox.New(st)
	holder.Hold(cur)
	if err := holder.Ack(ctx, "email", items[0].User, items[0].Seq); err != nil {
		t.Errorf("Ack by the holder: %v", err)
	}
	if items, err := holder.Pending(ctx, "email", 10); err != nil || len(items) != 0 {
		t.Errorf("email outbox after the holder's ack = %+v, %v; want empty", items, err)
	}
}
