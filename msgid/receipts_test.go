package msgid

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// TestAwaitedReceipts: what Await keeps comes back whole, per user,
// network, conversation and legacy ID, next to the pair of the same
// message without touching it; Resolved, Forget and Prune forget it.
func TestAwaitedReceipts(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	const user, net, conv = "alice@example.org", "sms", "+15550001"
	withOrigin := Receipt{StanzaID: "s1", OriginID: "o1", Sender: "alice@example.org/phone", Contact: "+15550001@sms.example.org", Requested: true}
	bare := Receipt{Sender: "alice@example.org/pc", Contact: "+15550001@sms.example.org"}
	if err := ids.Pair(ctx, user, net, conv, "L1", "o1"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		legacy string
		r      Receipt
	}{{"L1", withOrigin}, {"L2", bare}} {
		if err := ids.Await(ctx, user, net, conv, a.legacy, a.r); err != nil {
			t.Fatalf("Await(%s): %v", a.legacy, err)
		}
	}
	tests := []struct {
		name               string
		user, net, conv, l string
		want               Receipt
		found              bool
	}{
		{"stanza id, origin-id, resource, request", user, net, conv, "L1", withOrigin, true},
		{"no ids, no request", user, net, conv, "L2", bare, true},
		{"another message", user, net, conv, "L3", Receipt{}, false},
		{"another conversation", user, net, "+15550002", "L1", Receipt{}, false},
		{"another user", "bob@example.org", net, conv, "L1", Receipt{}, false},
		{"another network", user, "irc", conv, "L1", Receipt{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ids.Awaited(ctx, tt.user, tt.net, tt.conv, tt.l)
			if tt.found && (err != nil || got != tt.want) {
				t.Errorf("Awaited = %+v, %v; want %+v", got, err, tt.want)
			}
			if !tt.found && !errors.Is(err, ErrNoMapping) {
				t.Errorf("Awaited = %+v, %v; want ErrNoMapping", got, err)
			}
		})
	}
	if x, err := ids.XMPPID(ctx, user, net, conv, "L1"); err != nil || x != "o1" {
		t.Errorf("the pair beside the receipt: %q, %v", x, err)
	}

	if err := ids.Resolved(ctx, user, net, conv, "L1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.Awaited(ctx, user, net, conv, "L1"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("resolved, still awaited: %v", err)
	}
	if err := ids.Resolved(ctx, user, net, conv, "L1"); err != nil {
		t.Errorf("resolving twice: %v", err)
	}
	if x, err := ids.XMPPID(ctx, user, net, conv, "L1"); err != nil || x != "o1" {
		t.Errorf("resolving the receipt dropped the pair: %q, %v", x, err)
	}

	// Prune bounds receipts by the pairs' age; Forget drops them with
	// the user.
	n, err := ids.Prune(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 3 {
		t.Errorf("Prune = %d, %v; want the pair's 2 halves and 1 receipt", n, err)
	}
	if _, err := ids.Awaited(ctx, user, net, conv, "L2"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("pruned, still awaited: %v", err)
	}
	if err := ids.Await(ctx, user, net, conv, "L4", bare); err != nil {
		t.Fatal(err)
	}
	if n, err := ids.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("Prune of nothing old = %d, %v", n, err)
	}
	if err := ids.Forget(ctx, user, net); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.Awaited(ctx, user, net, conv, "L4"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("forgotten, still awaited: %v", err)
	}
}

func TestAwaitInvalidInput(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	ok := Receipt{StanzaID: "s", Sender: "a@example.org/r", Contact: "b@gw.example.org"}
	tests := []struct {
		name string
		call func() error
	}{
		{"empty legacy ID", func() error { return ids.Await(ctx, "a@example.org", "sms", "c", "", ok) }},
		{"no sender", func() error {
			return ids.Await(ctx, "a@example.org", "sms", "c", "L", Receipt{Contact: ok.Contact})
		}},
		{"NUL stanza id", func() error {
			r := ok
			r.StanzaID = "s\x00"
			return ids.Await(ctx, "a@example.org", "sms", "c", "L", r)
		}},
		{"NUL origin-id", func() error {
			r := ok
			r.OriginID = "\x00"
			return ids.Await(ctx, "a@example.org", "sms", "c", "L", r)
		}},
		{"Awaited empty user", func() error { _, err := ids.Awaited(ctx, "", "sms", "c", "L"); return err }},
		{"Resolved NUL conversation", func() error { return ids.Resolved(ctx, "a@example.org", "sms", "c\x00", "L") }},
	}
	for _, tt := range tests {
		if err := tt.call(); err == nil {
			t.Errorf("%s succeeded, want an error", tt.name)
		}
	}
	n := 0
	if err := f.Store().Scan(ctx, bucket, "", func(string, []byte) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("invalid calls wrote %d entries (%v)", n, err)
	}
}
