package outbox

import (
	"errors"
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// stanzasOf lists the stanzas of items as "user stanza".
func stanzasOf(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.User+" "+string(it.Stanza))
	}
	return out
}

// TestPendingPerRecipient: each recipient's stanzas come in the order
// they were enqueued, whoever else's are in between; successive calls
// start with another recipient; a recipient whose queue is drained loses
// its "outbox-users" entry at the next scan, and gets it back with the
// next stanza.
func TestPendingPerRecipient(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx := t.Context()
	const bob = "bob@example.org"
	for _, e := range []struct{ user, stanza string }{
		{alice, "<a1/>"}, {bob, "<b1/>"}, {alice, "<a2/>"}, {bob, "<b2/>"}, {alice, "<a3/>"},
	} {
		if _, err := ob.Enqueue(ctx, e.user, "irc", []byte(e.stanza)); err != nil {
			t.Fatal(err)
		}
	}
	items, err := ob.Pending(ctx, "irc", 10)
	if err != nil {
		t.Fatal(err)
	}
	got := stanzasOf(items)
	aliceFirst := []string{alice + " <a1/>", alice + " <a2/>", alice + " <a3/>", bob + " <b1/>", bob + " <b2/>"}
	bobFirst := append(slices.Clone(aliceFirst[3:]), aliceFirst[:3]...)
	if !slices.Equal(got, aliceFirst) && !slices.Equal(got, bobFirst) {
		t.Fatalf("Pending = %q, want each recipient's stanzas in order", got)
	}
	var firsts []string
	for range 2 {
		items, err := ob.Pending(ctx, "irc", 1)
		if err != nil || len(items) != 1 {
			t.Fatalf("Pending(1) = %v, %v", items, err)
		}
		firsts = append(firsts, items[0].User)
	}
	if firsts[0] == firsts[1] {
		t.Errorf("two calls of Pending(1) both started with %s", firsts[0])
	}

	for _, it := range items {
		if it.User != bob {
			continue
		}
		if err := ob.Ack(ctx, "irc", it.User, it.Seq); err != nil {
			t.Fatal(err)
		}
	}
	items, err = ob.Pending(ctx, "irc", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := aliceFirst[:3]; !slices.Equal(stanzasOf(items), want) {
		t.Errorf("after bob's acks, Pending = %q, want %q", stanzasOf(items), want)
	}
	// Draining writes nothing; the next scan of the bucket (a fresh
	// outbox's first Pending) removes the entry.
	if _, err := f.Store().Get(ctx, hintBucket, hintKey("irc", bob)); err != nil {
		t.Errorf("bob's entry before a scan: %v", err)
	}
	if _, err := New(f.Store()).Pending(ctx, "irc", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store().Get(ctx, hintBucket, hintKey("irc", bob)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("bob's drained queue kept its outbox-users entry after a scan: %v", err)
	}
	if _, err := f.Store().Get(ctx, hintBucket, hintKey("irc", alice)); err != nil {
		t.Errorf("alice's queue lost its outbox-users entry: %v", err)
	}
	if _, err := ob.Enqueue(ctx, bob, "irc", []byte("<b3/>")); err != nil {
		t.Fatal(err)
	}
	// Another process's outbox on the same store finds both, from the
	// bucket.
	items, err = New(f.Reopen()).Pending(ctx, "irc", 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := stanzasOf(items); len(got) != 4 || !slices.Contains(got, bob+" <b3/>") {
		t.Errorf("a fresh outbox's Pending = %q, want alice's three and bob's <b3/>", got)
	}
}

// TestOldQueueDrains: stanzas an earlier version left in the
// network-wide queue come first, acknowledged by their queue (User ""),
// and then the recipients' queues.
func TestOldQueueDrains(t *testing.T) {
	f := bolttest.New(t)
	ctx := t.Context()
	for _, s := range []string{"<old1/>", "<old2/>"} {
		if _, err := f.Store().Append(ctx, queuePrefix+"irc", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	ob := New(f.Store())
	if _, err := ob.Enqueue(ctx, alice, "irc", []byte("<new/>")); err != nil {
		t.Fatal(err)
	}
	items, err := ob.Pending(ctx, "irc", 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stanzasOf(items), []string{" <old1/>", " <old2/>", alice + " <new/>"}; !slices.Equal(got, want) {
		t.Fatalf("Pending = %q, want the old queue's first: %q", got, want)
	}
	if items, err := ob.Pending(ctx, "irc", 1); err != nil || len(items) != 1 || items[0].User != "" {
		t.Fatalf("Pending(1) = %+v, %v; want the old queue's head", items, err)
	}
	if err := ob.Ack(ctx, "irc", "", items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := ob.DeadLetter(ctx, "irc", items[1], "refused"); err != nil {
		t.Fatal(err)
	}
	if rest, err := f.Store().Range(ctx, queuePrefix+"irc", 0, 10); err != nil || len(rest) != 0 {
		t.Errorf("old queue after its ack and dead letter = %v, %v", rest, err)
	}
	items, err = ob.Pending(ctx, "irc", 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stanzasOf(items), []string{alice + " <new/>"}; !slices.Equal(got, want) {
		t.Errorf("once the old queue is empty, Pending = %q, want %q", got, want)
	}
	if n, err := f.Store().Append(ctx, queuePrefix+"irc", []byte("<by an old version/>")); err != nil || n != 3 {
		t.Fatalf("Append to the old queue = %d, %v", n, err)
	}
	if items, err := New(f.Store()).Pending(ctx, "irc", 10); err != nil || len(items) != 2 || items[0].User != "" {
		t.Errorf("a fresh outbox's Pending = %+v, %v; want the old queue's stanza first", items, err)
	}
}

// TestRescanFindsOtherWriters: stanzas another outbox on the store
// enqueued (a former holder of the domain) are found at the next scan of
// the "outbox-users" bucket, not before.
func TestRescanFindsOtherWriters(t *testing.T) {
	f := bolttest.New(t)
	ctx := t.Context()
	ob, other := New(f.Store()), New(f.Store())
	if items, err := ob.Pending(ctx, "irc", 10); err != nil || len(items) != 0 {
		t.Fatalf("Pending = %v, %v", items, err)
	}
	if _, err := other.Enqueue(ctx, alice, "irc", []byte("<elsewhere/>")); err != nil {
		t.Fatal(err)
	}
	if items, err := ob.Pending(ctx, "irc", 10); err != nil || len(items) != 0 {
		t.Fatalf("Pending before a rescan = %v, %v; want nothing (no scan per call)", items, err)
	}
	ob.rescan = 0
	items, err := ob.Pending(ctx, "irc", 10)
	if got, want := stanzasOf(items), []string{alice + " <elsewhere/>"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Pending after a rescan = %q, %v; want %q", got, err, want)
	}
}
