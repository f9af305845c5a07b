package journal_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// backend opens a store, and reopens it as a restarted process would.
type backend struct {
	name string
	open func(t *testing.T) (st storage.Store, reopen func() storage.Store)
}

var prefixes atomic.Int64

func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{name: "bolt", open: func(t *testing.T) (storage.Store, func() storage.Store) {
		f := bolttest.New(t)
		return f.Store(), func() storage.Store { return f.Reopen() }
	}}}
	if testing.Short() {
		return bs
	}
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	return append(bs, backend{name: "redis", open: func(t *testing.T) (storage.Store, func() storage.Store) {
		o := redis.Options{URL: "redis://" + srv.Addr(), KeyPrefix: fmt.Sprintf("j%d:", prefixes.Add(1)), Logger: slog.New(slog.DiscardHandler)}
		openOne := func() storage.Store {
			s, err := redis.Open(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return openOne(), openOne
	}})
}

func stanzas(es []journal.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.User+" "+string(e.Stanza))
	}
	return out
}

// TestWriteAckReplay: what is written and not acknowledged is pending
// after a restart, in the order written, with its user and time; what is
// acknowledged is not; networks are apart.
func TestWriteAckReplay(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, reopen := b.open(t)
			j := journal.New(st, journal.Limits{})
			at := time.Unix(1_700_000_000, 0)
			j.SetClock(func() time.Time { return at })
			writes := []struct{ user, stanza string }{
				{"alice@x", "<message id='a1'/>"},
				{"bob@x", "<message id='b1'/>"},
				{"alice@x", "<message id='a2'/>"},
				{"alice@x", "<message id='a3'/>"},
				{"bob@x", "<message id='b2'/>"},
			}
			var seqs []uint64
			for _, w := range writes {
				seq, err := j.Write(ctx, "irc", w.user, []byte(w.stanza))
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, seq)
			}
			if _, err := j.Write(ctx, "email", "alice@x", []byte("<message id='e1'/>")); err != nil {
				t.Fatal(err)
			}
			// a2 and b1 were handled.
			for _, i := range []int{2, 1} {
				if err := j.Ack(ctx, "irc", writes[i].user, seqs[i]); err != nil {
					t.Fatal(err)
				}
			}
			// Acknowledging twice is harmless.
			if err := j.Ack(ctx, "irc", writes[1].user, seqs[1]); err != nil {
				t.Fatal(err)
			}

			st2 := reopen()
			j2 := journal.New(st2, journal.Limits{})
			j2.SetClock(func() time.Time { return at.Add(time.Minute) })
			got, err := j2.Pending(ctx, "irc")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"alice@x <message id='a1'/>", "alice@x <message id='a3'/>", "bob@x <message id='b2'/>"}
			if !slices.Equal(stanzas(got), want) {
				t.Fatalf("pending after restart = %q, want %q", stanzas(got), want)
			}
			for _, e := range got {
				if !e.At.Equal(at) {
					t.Errorf("entry %d dated %v, want %v", e.Seq, e.At, at)
				}
				if j2.Expired(e) {
					t.Errorf("entry %d a minute old counted expired", e.Seq)
				}
			}
			if got[0].Seq != seqs[0] || got[1].Seq != seqs[3] || got[2].Seq != seqs[4] {
				t.Errorf("pending seqs %d %d %d, want %d %d %d", got[0].Seq, got[1].Seq, got[2].Seq, seqs[0], seqs[3], seqs[4])
			}
			for _, e := range got {
				if err := j2.Ack(ctx, "irc", e.User, e.Seq); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := j2.Pending(ctx, "irc"); err != nil || len(got) != 0 {
				t.Fatalf("pending after acks = %q, %v; want none", stanzas(got), err)
			}
			if got, err := j2.Pending(ctx, "email"); err != nil || !slices.Equal(stanzas(got), []string{"alice@x <message id='e1'/>"}) {
				t.Fatalf("email's pending = %q, %v", stanzas(got), err)
			}
		})
	}
}

// TestCap: a user with MaxPerUser entries unacknowledged gets ErrFull,
// others do not; an acknowledgement makes room; entries read back by
// Pending count against the cap.
func TestCap(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, reopen := b.open(t)
			j := journal.New(st, journal.Limits{MaxPerUser: 3})
			var seqs []uint64
			for i := range 3 {
				seq, err := j.Write(ctx, "irc", "alice@x", fmt.Appendf(nil, "<m n='%d'/>", i))
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, seq)
			}
			if _, err := j.Write(ctx, "irc", "alice@x", []byte("<m n='3'/>")); !errors.Is(err, journal.ErrFull) {
				t.Fatalf("fourth write: %v, want ErrFull", err)
			}
			if _, err := j.Write(ctx, "irc", "bob@x", []byte("<m/>")); err != nil {
				t.Fatalf("another user's write: %v", err)
			}
			if _, err := j.Write(ctx, "email", "alice@x", []byte("<m/>")); err != nil {
				t.Fatalf("another network's write: %v", err)
			}
			if err := j.Ack(ctx, "irc", "alice@x", seqs[0]); err != nil {
				t.Fatal(err)
			}
			if _, err := j.Write(ctx, "irc", "alice@x", []byte("<m n='4'/>")); err != nil {
				t.Fatalf("write after an ack: %v", err)
			}

			j2 := journal.New(reopen(), journal.Limits{MaxPerUser: 3})
			got, err := j2.Pending(ctx, "irc")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"alice@x <m n='1'/>", "alice@x <m n='2'/>", "bob@x <m/>", "alice@x <m n='4'/>"}
			if !slices.Equal(stanzas(got), want) {
				t.Fatalf("pending = %q, want %q", stanzas(got), want)
			}
			if _, err := j2.Write(ctx, "irc", "alice@x", []byte("<m n='5'/>")); !errors.Is(err, journal.ErrFull) {
				t.Fatalf("write over the pending entries: %v, want ErrFull", err)
			}
		})
	}
}

// TestExpired: an entry older than MaxAge is expired, one at MaxAge is
// not.
func TestExpired(t *testing.T) {
	tests := []struct {
		age  time.Duration
		want bool
	}{
		{0, false},
		{10 * time.Minute, false},
		{10*time.Minute + time.Nanosecond, true},
		{time.Hour, true},
	}
	f := bolttest.New(t)
	start := time.Unix(1_700_000_000, 0)
	now := start
	j := journal.New(f.Store(), journal.Limits{MaxAge: 10 * time.Minute})
	j.SetClock(func() time.Time { return now })
	if _, err := j.Write(t.Context(), "irc", "alice@x", []byte("<m/>")); err != nil {
		t.Fatal(err)
	}
	got, err := journal.New(f.Store(), journal.Limits{}).Pending(t.Context(), "irc")
	if err != nil || len(got) != 1 {
		t.Fatalf("pending = %v, %v", got, err)
	}
	for _, tt := range tests {
		now = start.Add(tt.age)
		if e := j.Expired(got[0]); e != tt.want {
			t.Errorf("age %v: expired %v, want %v", tt.age, e, tt.want)
		}
	}
}

// TestPendingPages: more entries than a page are all returned, in order.
func TestPendingPages(t *testing.T) {
	f := bolttest.New(t)
	j := journal.New(f.Store(), journal.Limits{MaxPerUser: 1000})
	var want []string
	for i := range 600 {
		s := fmt.Sprintf("<m n='%d'/>", i)
		if _, err := j.Write(t.Context(), "irc", "alice@x", []byte(s)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "alice@x "+s)
	}
	got, err := journal.New(f.Reopen(), journal.Limits{}).Pending(t.Context(), "irc")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stanzas(got), want) {
		t.Fatalf("got %d entries, want %d in order", len(got), len(want))
	}
}

// TestUnreadable: an entry not written by the package is removed and
// reported, and the others are still returned.
func TestUnreadable(t *testing.T) {
	f := bolttest.New(t)
	j := journal.New(f.Store(), journal.Limits{})
	if _, err := f.Store().Append(t.Context(), "journal:irc", []byte("junk")); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Write(t.Context(), "irc", "alice@x", []byte("<m/>")); err != nil {
		t.Fatal(err)
	}
	got, err := j.Pending(t.Context(), "irc")
	if err == nil || !slices.Equal(stanzas(got), []string{"alice@x <m/>"}) {
		t.Fatalf("pending = %q, %v; want the good entry and an error", stanzas(got), err)
	}
	if got, err := journal.New(f.Store(), journal.Limits{}).Pending(t.Context(), "irc"); err != nil || len(got) != 1 {
		t.Fatalf("after removal: %q, %v", stanzas(got), err)
	}
}

func TestBadNames(t *testing.T) {
	j := journal.New(bolttest.New(t).Store(), journal.Limits{})
	for _, tt := range []struct{ network, user string }{{"", "a@x"}, {"irc", ""}, {"ir\x00c", "a@x"}, {"irc", "a\x00@x"}} {
		if _, err := j.Write(t.Context(), tt.network, tt.user, []byte("<m/>")); err == nil {
			t.Errorf("Write(%q, %q) succeeded", tt.network, tt.user)
		}
	}
}
