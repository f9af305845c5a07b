package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestHoldFencesTheFlush: on Redis, once the lease given to Hold is lost,
// Ack and DeadLetter write nothing and say ErrFenced, while enqueueing
// still works; the new holder's outbox acknowledges. On bbolt Hold changes
// nothing.
func TestHoldFencesTheFlush(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	st, err := redis.Open(t.Context(), redis.Options{URL: "redis://" + srv.Addr(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()

	old, ok, err := st.AcquireLease(ctx, "irc.example.org", "old", 200*time.Millisecond)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	former := New(st)
	former.Hold(old)
	for _, s := range []string{"<message id='1'/>", "<message id='2'/>", "<message id='3'/>"} {
		if _, err := former.Enqueue(ctx, alice, "irc", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := former.Ack(ctx, "irc", alice, 1); err != nil {
		t.Fatalf("Ack while holding: %v", err)
	}
	var cur storage.Lease
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, ok, err = st.AcquireLease(ctx, "irc.example.org", "new", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old lease never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := former.Ack(ctx, "irc", alice, 2); !errors.Is(err, ErrFenced) {
		t.Errorf("Ack by the former holder: %v, want ErrFenced", err)
	}
	if err := former.DeadLetter(ctx, "irc", Item{User: alice, Seq: 3, Stanza: []byte("<message id='3'/>")}, "test"); !errors.Is(err, ErrFenced) {
		t.Errorf("DeadLetter by the former holder: %v, want ErrFenced", err)
	}
	if _, err := former.Enqueue(ctx, alice, "irc", []byte("<message id='4'/>")); err != nil {
		t.Errorf("Enqueue by the former holder: %v, want it kept", err)
	}
	if dl, err := former.DeadLetters(ctx, "irc", 10); err != nil || len(dl) != 0 {
		t.Errorf("dead letters = %v, %v; want none", dl, err)
	}
	holder := New(st)
	holder.Hold(cur)
	if got := seqs(t, holder); got != "[2 3 4]" {
		t.Fatalf("pending after the fenced-off writes = %s, want [2 3 4]", got)
	}
	if err := holder.Ack(ctx, "irc", alice, 2); err != nil {
		t.Fatalf("Ack by the holder: %v", err)
	}
	if got := seqs(t, holder); got != "[3 4]" {
		t.Errorf("pending after the holder's Ack = %s, want [3 4]", got)
	}

	t.Run("bolt", func(t *testing.T) {
		ob := New(bolttest.New(t).Store())
		ob.Hold(storage.Lease{Name: "irc.example.org", Owner: "only"})
		if _, err := ob.Enqueue(ctx, alice, "irc", []byte("<message/>")); err != nil {
			t.Fatal(err)
		}
		if err := ob.Ack(ctx, "irc", alice, 1); err != nil {
			t.Fatal(err)
		}
		if got := seqs(t, ob); got != "[]" {
			t.Errorf("pending = %s, want []", got)
		}
	})
}

// seqs lists the sequence numbers pending in o's irc outbox.
func seqs(t *testing.T, o *Outbox) string {
	t.Helper()
	items, err := o.Pending(t.Context(), "irc", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, it := range items {
		out = append(out, it.Seq)
	}
	return fmt.Sprint(out)
}
