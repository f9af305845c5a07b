package outbox

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// alice is the recipient of the tests' stanzas.
const alice = "alice@example.org"

func TestOutbox(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx := t.Context()
	stanzas := []string{"<message id='1'/>", "<message id='2'/>", "<presence/>", "<message id='4'/>"}
	var seqs []uint64
	for _, s := range stanzas {
		seq, err := ob.Enqueue(ctx, alice, "irc", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if _, err := ob.Enqueue(ctx, alice, "discord", []byte("<other/>")); err != nil {
		t.Fatal(err)
	}
	// A storage bucket named like the outbox does not interfere.
	if err := f.Store().Put(ctx, "outbox:irc", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	pending := func(max int) []string {
		t.Helper()
		items, err := ob.Pending(ctx, "irc", max)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		var out []string
		for _, it := range items {
			out = append(out, string(it.Stanza))
		}
		return out
	}
	if got := pending(10); !slices.Equal(got, stanzas) {
		t.Errorf("Pending = %q, want %q", got, stanzas)
	}
	if got := pending(2); !slices.Equal(got, stanzas[:2]) {
		t.Errorf("Pending(2) = %q, want %q", got, stanzas[:2])
	}

	for _, seq := range []uint64{seqs[0], seqs[2], seqs[2], 999} {
		if err := ob.Ack(ctx, "irc", alice, seq); err != nil {
			t.Errorf("Ack(%d): %v", seq, err)
		}
	}
	want := []string{stanzas[1], stanzas[3]}
	if got := pending(10); !slices.Equal(got, want) {
		t.Errorf("Pending after Ack = %q, want %q", got, want)
	}

	ob = New(f.Reopen())
	if got := pending(10); !slices.Equal(got, want) {
		t.Errorf("Pending after reopen = %q, want %q", got, want)
	}
	seq, err := ob.Enqueue(ctx, alice, "irc", []byte("<late/>"))
	if err != nil {
		t.Fatal(err)
	}
	if seq <= seqs[len(seqs)-1] {
		t.Errorf("Enqueue after reopen = %d, want more than %d", seq, seqs[len(seqs)-1])
	}
	items, err := ob.Pending(ctx, "discord", 10)
	if err != nil || len(items) != 1 || string(items[0].Stanza) != "<other/>" {
		t.Errorf("Pending(discord) = %v, %v; want only its own stanza", items, err)
	}
}

func TestEnqueueOnce(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ids := msgid.New(f.Store())
	ctx := context.Background()
	const user, net, conv = "alice@example.org", "email", "bob@example.org"
	ok, err := ob.EnqueueOnce(ctx, user, net, conv, "7:42", "x1", []byte("<message/>"))
	if err != nil || !ok {
		t.Fatalf("first EnqueueOnce = %v, %v", ok, err)
	}
	// A crash and a replay: the same legacy message again.
	ob = New(f.Reopen())
	ids = msgid.New(f.Store())
	ok, err = ob.EnqueueOnce(ctx, user, net, conv, "7:42", "x2", []byte("<message/>"))
	if err != nil || ok {
		t.Fatalf("replayed EnqueueOnce = %v, %v; want not enqueued", ok, err)
	}
	items, err := ob.Pending(ctx, net, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox = %d items, %v; want exactly 1", len(items), err)
	}
	if id, err := ids.XMPPID(ctx, user, net, conv, "7:42"); err != nil || id != "x1" {
		t.Errorf("mapping = %q, %v", id, err)
	}
	// Acknowledged (sent) stays delivered: a later replay is still refused.
	if err := ob.Ack(ctx, net, user, items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ob.EnqueueOnce(ctx, user, net, conv, "7:42", "x3", []byte("<message/>")); ok {
		t.Error("a delivered message was enqueued again")
	}
	if ok, _ := ob.EnqueueOnce(ctx, user, net, conv, "7:43", "x4", []byte("<message/>")); !ok {
		t.Error("a new message was not enqueued")
	}
}

func TestDeadLetterMovesOutOfTheOutbox(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), MaxDeadLetterBytes+10)
	seqBig, err := ob.Enqueue(ctx, alice, "irc", big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Enqueue(ctx, alice, "irc", []byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	if err := ob.DeadLetter(ctx, "irc", Item{User: alice, Seq: seqBig, Stanza: big}, "too large"); err != nil {
		t.Fatal(err)
	}
	pending, err := ob.Pending(ctx, "irc", 10)
	if err != nil || len(pending) != 1 || string(pending[0].Stanza) != "<message/>" {
		t.Fatalf("outbox after dead-lettering = %v, %v; want the small stanza only", pending, err)
	}
	ob = New(f.Reopen())
	dl, err := ob.DeadLetters(ctx, "irc", 10)
	if err != nil || len(dl) != 1 {
		t.Fatalf("dead letters = %v, %v", dl, err)
	}
	if dl[0].Reason != "too large" || dl[0].Size != len(big) || len(dl[0].Stanza) != MaxDeadLetterBytes || dl[0].At.IsZero() {
		t.Errorf("dead letter = reason %q size %d kept %d at %v", dl[0].Reason, dl[0].Size, len(dl[0].Stanza), dl[0].At)
	}
	if other, err := ob.DeadLetters(ctx, "email", 10); err != nil || len(other) != 0 {
		t.Errorf("another network's record = %v, %v", other, err)
	}
}

func TestDeadLettersAreBounded(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx := context.Background()
	for i := range MaxDeadLetters + 5 {
		v := []byte("<message id='" + strconv.Itoa(i) + "'/>")
		seq, err := ob.Enqueue(ctx, alice, "irc", v)
		if err != nil {
			t.Fatal(err)
		}
		if err := ob.DeadLetter(ctx, "irc", Item{User: alice, Seq: seq, Stanza: v}, "refused"); err != nil {
			t.Fatal(err)
		}
	}
	dl, err := ob.DeadLetters(ctx, "irc", 2*MaxDeadLetters)
	if err != nil || len(dl) != MaxDeadLetters {
		t.Fatalf("kept %d dead letters (%v), want %d", len(dl), err, MaxDeadLetters)
	}
	if want := "<message id='5'/>"; string(dl[0].Stanza) != want {
		t.Errorf("oldest kept = %s, want %s", dl[0].Stanza, want)
	}
}

func TestEnqueueOnceInvalid(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx := t.Context()
	for _, tt := range []struct{ name, user, network, conv, legacy, xmpp string }{
		{"empty user", "", "email", "c", "L", "X"},
		{"empty network", "a@b", "", "c", "L", "X"},
		{"NUL conversation", "a@b", "email", "c\x00", "L", "X"},
		{"empty legacy ID", "a@b", "email", "c", "", "X"},
		{"NUL XMPP ID", "a@b", "email", "c", "L", "X\x00"},
	} {
		if ok, err := ob.EnqueueOnce(ctx, tt.user, tt.network, tt.conv, tt.legacy, tt.xmpp, []byte("<message/>")); err == nil || ok {
			t.Errorf("EnqueueOnce with %s = %v, %v; want an error", tt.name, ok, err)
		}
	}
	if items, err := ob.Pending(ctx, "email", 10); err != nil || len(items) != 0 {
		t.Errorf("invalid calls enqueued %d stanzas (%v)", len(items), err)
	}
}

func TestInvalidNetwork(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx := t.Context()
	o := ob
	tests := []struct {
		name string
		call func() error
	}{
		{"Enqueue empty", func() error { _, err := o.Enqueue(ctx, alice, "", []byte("x")); return err }},
		{"Enqueue empty user", func() error { _, err := o.Enqueue(ctx, "", "irc", []byte("x")); return err }},
		{"Enqueue NUL user", func() error { _, err := o.Enqueue(ctx, "a\x00b", "irc", []byte("x")); return err }},
		{"Pending NUL", func() error { _, err := o.Pending(ctx, "\x00", 1); return err }},
		{"Ack empty", func() error { return o.Ack(ctx, "", alice, 1) }},
		{"DeadLetter NUL", func() error { return o.DeadLetter(ctx, "irc\x00", Item{User: alice, Seq: 1}, "r") }},
		{"DeadLetters empty", func() error { _, err := o.DeadLetters(ctx, "", 1); return err }},
	}
	for _, tt := range tests {
		if err := tt.call(); err == nil {
			t.Errorf("%s succeeded, want an error", tt.name)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	f := bolttest.New(t)
	ob := New(f.Store())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o := ob
	calls := []struct {
		name string
		call func() error
	}{
		{"Enqueue", func() error { _, err := o.Enqueue(ctx, alice, "irc", nil); return err }},
		{"EnqueueOnce", func() error { _, err := o.EnqueueOnce(ctx, "a@b", "irc", "c", "L", "X", nil); return err }},
		{"Pending", func() error { _, err := o.Pending(ctx, "irc", 1); return err }},
		{"Ack", func() error { return o.Ack(ctx, "irc", alice, 1) }},
		{"DeadLetter", func() error { return o.DeadLetter(ctx, "irc", Item{User: alice, Seq: 1}, "r") }},
		{"DeadLetters", func() error { _, err := o.DeadLetters(ctx, "irc", 1); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", c.name, err)
		}
	}
}
