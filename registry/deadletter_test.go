package registry

import (
	"bytes"
	"context"
	"strconv"
	"testing"
)

func TestDeadLetterMovesOutOfTheOutbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), MaxDeadLetterBytes+10)
	seqBig, err := e.reg.Enqueue(ctx, "irc", big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Enqueue(ctx, "irc", []byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.DeadLetter(ctx, "irc", seqBig, big, "too large"); err != nil {
		t.Fatal(err)
	}
	pending, err := e.reg.Pending(ctx, "irc", 10)
	if err != nil || len(pending) != 1 || string(pending[0].Value) != "<message/>" {
		t.Fatalf("outbox after dead-lettering = %v, %v; want the small stanza only", pending, err)
	}
	e.reopen(t, testKey)
	dl, err := e.reg.DeadLetters(ctx, "irc", 10)
	if err != nil || len(dl) != 1 {
		t.Fatalf("dead letters = %v, %v", dl, err)
	}
	if dl[0].Reason != "too large" || dl[0].Size != len(big) || len(dl[0].Stanza) != MaxDeadLetterBytes || dl[0].At.IsZero() {
		t.Errorf("dead letter = reason %q size %d kept %d at %v", dl[0].Reason, dl[0].Size, len(dl[0].Stanza), dl[0].At)
	}
	if other, err := e.reg.DeadLetters(ctx, "email", 10); err != nil || len(other) != 0 {
		t.Errorf("another network's record = %v, %v", other, err)
	}
}

func TestDeadLettersAreBounded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range MaxDeadLetters + 5 {
		v := []byte("<message id='" + strconv.Itoa(i) + "'/>")
		seq, err := e.reg.Enqueue(ctx, "irc", v)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.reg.DeadLetter(ctx, "irc", seq, v, "refused"); err != nil {
			t.Fatal(err)
		}
	}
	dl, err := e.reg.DeadLetters(ctx, "irc", 2*MaxDeadLetters)
	if err != nil || len(dl) != MaxDeadLetters {
		t.Fatalf("kept %d dead letters (%v), want %d", len(dl), err, MaxDeadLetters)
	}
	if want := "<message id='5'/>"; string(dl[0].Stanza) != want {
		t.Errorf("oldest kept = %s, want %s", dl[0].Stanza, want)
	}
}
