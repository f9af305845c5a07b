package journal_test

import (
	"testing"

	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// TestLen: the journal's length per network follows writes,
// acknowledgements and a failed write (ErrFull), is taken over from
// storage by Pending, and a second Pending recounts instead of adding.
func TestLen(t *testing.T) {
	ctx := t.Context()
	f := bolttest.New(t)
	j := journal.New(f.Store(), journal.Limits{MaxPerUser: 2})
	lens := func(step string, irc, email int) {
		t.Helper()
		if got := j.Len("irc"); got != irc {
			t.Errorf("%s: Len(irc) = %d, want %d", step, got, irc)
		}
		if got := j.Len("email"); got != email {
			t.Errorf("%s: Len(email) = %d, want %d", step, got, email)
		}
	}
	lens("empty", 0, 0)
	a1, err := j.Write(ctx, "irc", "alice@x", []byte("<message id='a1'/>"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Write(ctx, "irc", "alice@x", []byte("<message id='a2'/>")); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Write(ctx, "irc", "alice@x", []byte("<message id='a3'/>")); err == nil {
		t.Fatal("a third write over the cap of 2 succeeded")
	}
	if _, err := j.Write(ctx, "email", "bob@x", []byte("<message id='b1'/>")); err != nil {
		t.Fatal(err)
	}
	lens("after writes", 2, 1)
	if err := j.Ack(ctx, "irc", "alice@x", a1); err != nil {
		t.Fatal(err)
	}
	lens("after an ack", 1, 1)

	// A restarted process learns the length from Pending.
	j2 := journal.New(f.Reopen(), journal.Limits{})
	lens2 := func(step string, want int) {
		t.Helper()
		if got := j2.Len("irc"); got != want {
			t.Errorf("%s: Len(irc) = %d, want %d", step, got, want)
		}
	}
	lens2("before Pending", 0)
	got, err := j2.Pending(ctx, "irc")
	if err != nil || len(got) != 1 {
		t.Fatalf("Pending = %d entries, %v; want 1", len(got), err)
	}
	lens2("after Pending", 1)
	if _, err := j2.Pending(ctx, "irc"); err != nil {
		t.Fatal(err)
	}
	lens2("after a second Pending", 1)
	if err := j2.Ack(ctx, "irc", got[0].User, got[0].Seq); err != nil {
		t.Fatal(err)
	}
	lens2("after acknowledging it", 0)
}
