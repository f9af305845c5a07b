package outbox

import (
	"testing"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// TestLen: the outbox's length for /metrics is read at a scan and kept
// by enqueues, acknowledgements and dead letters between, with no I/O;
// stanzas another process enqueued count from the next scan; Count reads
// the same from the store and writes nothing.
func TestLen(t *testing.T) {
	f := bolttest.New(t)
	ctx := t.Context()
	const bob = "bob@example.org"
	// Left by an earlier run: counted at the first scan.
	before := New(f.Store())
	for _, u := range []string{alice, alice, bob} {
		if _, err := before.Enqueue(ctx, u, "irc", []byte("<old/>")); err != nil {
			t.Fatal(err)
		}
	}
	ob := New(f.Store())
	check := func(step string, want int) {
		t.Helper()
		if got := ob.Len("irc"); got != want {
			t.Errorf("%s: Len = %d, want %d", step, got, want)
		}
		n, err := ob.Count(ctx, "irc")
		if err != nil || n != want {
			t.Errorf("%s: Count = %d, %v; want %d", step, n, err, want)
		}
	}
	if got := ob.Len("irc"); got != 0 {
		t.Errorf("Len before the first Pending = %d, want 0 (what it enqueued)", got)
	}
	items, err := ob.Pending(ctx, "irc", 1)
	if err != nil || len(items) != 1 {
		t.Fatalf("Pending = %v, %v", items, err)
	}
	check("after the first scan", 3)
	if _, err := ob.Enqueue(ctx, bob, "irc", []byte("<new/>")); err != nil {
		t.Fatal(err)
	}
	if ok, err := ob.EnqueueOnce(ctx, alice, "irc", "conv", "legacy-1", "x1", []byte("<once/>")); err != nil || !ok {
		t.Fatalf("EnqueueOnce = %t, %v", ok, err)
	}
	if ok, err := ob.EnqueueOnce(ctx, alice, "irc", "conv", "legacy-1", "x1", []byte("<once/>")); err != nil || ok {
		t.Fatalf("EnqueueOnce again = %t, %v; want false", ok, err)
	}
	check("after two enqueues", 5)
	items, err = ob.Pending(ctx, "irc", 10)
	if err != nil || len(items) != 5 {
		t.Fatalf("Pending = %v, %v", items, err)
	}
	if err := ob.Ack(ctx, "irc", items[0].User, items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := ob.DeadLetter(ctx, "irc", items[1], "refused"); err != nil {
		t.Fatal(err)
	}
	check("after an ack and a dead letter", 3)
	// Another process's stanza: not known until the next scan.
	if _, err := before.Enqueue(ctx, bob, "irc", []byte("<elsewhere/>")); err != nil {
		t.Fatal(err)
	}
	if got := ob.Len("irc"); got != 3 {
		t.Errorf("Len before a rescan = %d, want 3 (no I/O)", got)
	}
	ob.rescan = 0
	if _, err := ob.Pending(ctx, "irc", 10); err != nil {
		t.Fatal(err)
	}
	check("after a rescan", 4)
	for _, it := range mustPending(t, ob) {
		if err := ob.Ack(ctx, "irc", it.User, it.Seq); err != nil {
			t.Fatal(err)
		}
	}
	check("all acknowledged", 0)
}

func mustPending(t *testing.T, ob *Outbox) []Item {
	t.Helper()
	items, err := ob.Pending(t.Context(), "irc", 100)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
