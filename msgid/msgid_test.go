package msgid

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

func TestPair(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	r := ids
	type scope struct{ user, network, conv string }
	alice := scope{"alice@localhost", "irc", "#chan%irc.example.net"}
	pairs := []struct {
		s              scope
		legacy, xmppID string
	}{
		{alice, "L1", "X1"},
		{alice, "L2", "X2"},
		{scope{"alice@localhost", "irc", "bob%irc.example.net"}, "L1", "Y1"}, // same legacy ID, other conversation
		{scope{"bob@localhost", "irc", alice.conv}, "L1", "Z1"},              // other user
		{scope{"alice@localhost", "discord", alice.conv}, "L1", "W1"},        // other network
		{scope{"alice@localhost", "irc", "#chan"}, "%irc.example.net\x01", "V1"},
	}
	for _, m := range pairs {
		if err := r.Pair(ctx, m.s.user, m.s.network, m.s.conv, m.legacy, m.xmppID); err != nil {
			t.Fatalf("Pair(%v, %s, %s): %v", m.s, m.legacy, m.xmppID, err)
		}
	}
	for _, m := range pairs {
		if got, err := r.XMPPID(ctx, m.s.user, m.s.network, m.s.conv, m.legacy); err != nil || got != m.xmppID {
			t.Errorf("XMPPID(%v, %s) = %q, %v; want %q", m.s, m.legacy, got, err, m.xmppID)
		}
		if got, err := r.LegacyID(ctx, m.s.user, m.s.network, m.s.conv, m.xmppID); err != nil || got != m.legacy {
			t.Errorf("LegacyID(%v, %s) = %q, %v; want %q", m.s, m.xmppID, got, err, m.legacy)
		}
	}

	absent := []struct {
		s  scope
		id string
	}{
		{alice, "L3"},
		{scope{"carol@localhost", "irc", alice.conv}, "L1"},
		{scope{"alice@localhost", "irc", "#other"}, "L1"},
		{alice, "X1"}, // an XMPP ID is not a legacy ID
	}
	for _, a := range absent {
		if _, err := r.XMPPID(ctx, a.s.user, a.s.network, a.s.conv, a.id); !errors.Is(err, ErrNoMapping) {
			t.Errorf("XMPPID(%v, %s): err = %v, want ErrNoMapping", a.s, a.id, err)
		}
	}
	if _, err := r.LegacyID(ctx, alice.user, alice.network, alice.conv, "L1"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("LegacyMessageID of a legacy ID: err = %v, want ErrNoMapping", err)
	}

	// Remapping keeps the map one-to-one in both directions.
	if err := r.Pair(ctx, alice.user, alice.network, alice.conv, "L1", "X9"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.XMPPID(ctx, alice.user, alice.network, alice.conv, "L1"); err != nil || got != "X9" {
		t.Errorf("XMPPMessageID after remap = %q, %v; want X9", got, err)
	}
	if _, err := r.LegacyID(ctx, alice.user, alice.network, alice.conv, "X1"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("stale reverse mapping X1 survived a remap: err = %v", err)
	}
	if err := r.Pair(ctx, alice.user, alice.network, alice.conv, "L3", "X2"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.LegacyID(ctx, alice.user, alice.network, alice.conv, "X2"); err != nil || got != "L3" {
		t.Errorf("LegacyMessageID after remap = %q, %v; want L3", got, err)
	}
	if _, err := r.XMPPID(ctx, alice.user, alice.network, alice.conv, "L2"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("stale forward mapping L2 survived a remap: err = %v", err)
	}

	// Durable.
	ids = New(f.Reopen())
	if got, err := ids.XMPPID(ctx, alice.user, alice.network, alice.conv, "L1"); err != nil || got != "X9" {
		t.Errorf("XMPPMessageID after reopen = %q, %v; want X9", got, err)
	}
}

func TestPrune(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := context.Background()
	const user, net, conv = "alice@example.org", "irc", "#go"
	if err := ids.Pair(ctx, user, net, conv, "old", "x-old"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // timestamps have a second's resolution
	if err := ids.Pair(ctx, user, net, conv, "new", "x-new"); err != nil {
		t.Fatal(err)
	}
	// After the old pair, not after the new one: stored times are whole
	// seconds (the new pair's is at most this second, the old one's at
	// least two before), so the cut is a whole second too; now minus a
	// second failed when the new pair was made in a second's last
	// milliseconds.
	cut := time.Unix(time.Now().Unix(), 0)
	n, err := ids.Prune(ctx, cut)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 halves of the old pair", n, err)
	}
	if _, err := ids.XMPPID(ctx, user, net, conv, "old"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("old pair survived: %v", err)
	}
	if id, err := ids.XMPPID(ctx, user, net, conv, "new"); err != nil || id != "x-new" {
		t.Errorf("new pair = %q, %v", id, err)
	}
	if id, err := ids.LegacyID(ctx, user, net, conv, "x-new"); err != nil || id != "new" {
		t.Errorf("new pair reversed = %q, %v", id, err)
	}
}

func TestPairOnce(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	const user, net, conv = "alice@example.org", "email", "bob@example.org"
	pairOnce := func(legacy, xmpp string) bool {
		t.Helper()
		var paired bool
		err := f.Store().Update(ctx, func(tx storage.Tx) error {
			var err error
			paired, err = PairOnce(tx, user, net, conv, legacy, xmpp)
			return err
		})
		if err != nil {
			t.Fatalf("PairOnce(%s, %s): %v", legacy, xmpp, err)
		}
		return paired
	}
	if !pairOnce("7:42", "x1") {
		t.Fatal("first PairOnce did not pair")
	}
	if pairOnce("7:42", "x2") {
		t.Error("PairOnce paired a legacy ID paired before")
	}
	if id, err := ids.XMPPID(ctx, user, net, conv, "7:42"); err != nil || id != "x1" {
		t.Errorf("XMPPID after a refused PairOnce = %q, %v; want x1", id, err)
	}
	if _, err := ids.LegacyID(ctx, user, net, conv, "x2"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("the refused XMPP ID was paired: %v", err)
	}
	// An XMPP ID paired again drops its stale forward half.
	if !pairOnce("7:43", "x1") {
		t.Fatal("PairOnce of a new legacy ID did not pair")
	}
	if _, err := ids.XMPPID(ctx, user, net, conv, "7:42"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("stale forward half 7:42 survived: %v", err)
	}
	if id, err := ids.LegacyID(ctx, user, net, conv, "x1"); err != nil || id != "7:43" {
		t.Errorf("LegacyID(x1) = %q, %v; want 7:43", id, err)
	}
	err := f.Store().Update(ctx, func(tx storage.Tx) error {
		_, err := PairOnce(tx, user, net, "", "7:44", "x3")
		return err
	})
	if err == nil {
		t.Error("PairOnce with an empty conversation succeeded")
	}
}

func TestForget(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	type scope struct{ user, network string }
	gone := scope{"alice@localhost", "irc"}
	kept := []scope{{"bob@localhost", "irc"}, {"alice@localhost", "discord"}, {"alice@localhost2", "irc"}}
	for _, s := range append([]scope{gone}, kept...) {
		for _, conv := range []string{"#a", "#b"} {
			if err := ids.Pair(ctx, s.user, s.network, conv, "L", "X"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := ids.Forget(ctx, gone.user, gone.network); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	for _, conv := range []string{"#a", "#b"} {
		if _, err := ids.XMPPID(ctx, gone.user, gone.network, conv, "L"); !errors.Is(err, ErrNoMapping) {
			t.Errorf("XMPPID(%s) after Forget: err = %v, want ErrNoMapping", conv, err)
		}
		if _, err := ids.LegacyID(ctx, gone.user, gone.network, conv, "X"); !errors.Is(err, ErrNoMapping) {
			t.Errorf("LegacyID(%s) after Forget: err = %v, want ErrNoMapping", conv, err)
		}
		for _, s := range kept {
			if id, err := ids.XMPPID(ctx, s.user, s.network, conv, "L"); err != nil || id != "X" {
				t.Errorf("XMPPID(%v, %s) after another user's Forget = %q, %v", s, conv, id, err)
			}
		}
	}
	if err := ids.Forget(ctx, gone.user, gone.network); err != nil {
		t.Errorf("Forget with nothing to forget: %v", err)
	}
}

func TestInvalidInput(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	r := ids
	tests := []struct {
		name string
		call func() error
	}{
		{"Pair empty user", func() error { return r.Pair(ctx, "", "irc", "c", "L", "X") }},
		{"Pair NUL network", func() error { return r.Pair(ctx, "alice@localhost", "i\x00rc", "c", "L", "X") }},
		{"Pair empty conversation", func() error { return r.Pair(ctx, "alice@localhost", "irc", "", "L", "X") }},
		{"Pair NUL legacy ID", func() error { return r.Pair(ctx, "alice@localhost", "irc", "c", "L\x00", "X") }},
		{"Pair empty XMPP ID", func() error { return r.Pair(ctx, "alice@localhost", "irc", "c", "L", "") }},
		{"LegacyID NUL conversation", func() error { _, err := r.LegacyID(ctx, "alice@localhost", "irc", "c\x00", "X"); return err }},
		{"XMPPID empty", func() error { _, err := r.XMPPID(ctx, "alice@localhost", "irc", "c", ""); return err }},
		{"Forget empty user", func() error { return r.Forget(ctx, "", "irc") }},
		{"Forget NUL network", func() error { return r.Forget(ctx, "alice@localhost", "irc\x00") }},
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

func TestCanceledContext(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := ids
	calls := []struct {
		name string
		call func() error
	}{
		{"Pair", func() error { return r.Pair(ctx, "alice@localhost", "irc", "c", "L", "X") }},
		{"LegacyID", func() error { _, err := r.LegacyID(ctx, "alice@localhost", "irc", "c", "X"); return err }},
		{"XMPPID", func() error { _, err := r.XMPPID(ctx, "alice@localhost", "irc", "c", "L"); return err }},
		{"Forget", func() error { return r.Forget(ctx, "alice@localhost", "irc") }},
		{"Prune", func() error { _, err := r.Prune(ctx, time.Now()); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", c.name, err)
		}
	}
}

// TestUnnamed: a message the network gave no ID reads as "" (known, no
// legacy ID), not as unmapped; a pairing wins whichever comes first.
func TestUnnamed(t *testing.T) {
	ids := New(bolttest.New(t).Store())
	ctx := t.Context()
	const u, n, conv = "alice@localhost", "irc", "#chan"
	if _, err := ids.LegacyID(ctx, u, n, conv, "X1"); !errors.Is(err, ErrNoMapping) {
		t.Fatalf("before: %v, want ErrNoMapping", err)
	}
	steps := []struct {
		name string
		do   func() error
		xmpp string
		want string
	}{
		{"unnamed", func() error { return ids.Unnamed(ctx, u, n, conv, "X1") }, "X1", ""},
		{"paired after (its echo had an ID)", func() error { return ids.Pair(ctx, u, n, conv, "L1", "X1") }, "X1", "L1"},
		{"paired before", func() error { return ids.Pair(ctx, u, n, conv, "L2", "X2") }, "X2", "L2"},
		{"unnamed after a pairing keeps it", func() error { return ids.Unnamed(ctx, u, n, conv, "X2") }, "X2", "L2"},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got, err := ids.LegacyID(ctx, u, n, conv, st.xmpp); err != nil || got != st.want {
			t.Errorf("%s: LegacyID(%s) = %q, %v; want %q", st.name, st.xmpp, got, err, st.want)
		}
	}
	if err := ids.Unnamed(ctx, u, n, conv, ""); err == nil {
		t.Error("Unnamed without an ID: no error")
	}
}
