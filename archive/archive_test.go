package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

const (
	user    = "alice@localhost"
	network = "irc"
	room    = "#go%irc.example.net"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fill archives n messages m0…m(n-1), a minute apart, said by bob and
// carol in turn, and writes them.
func fill(t *testing.T, a *Archive, n int) {
	t.Helper()
	for i := range n {
		nick := "bob"
		if i%2 == 1 {
			nick = "carol"
		}
		e := Entry{ID: fmt.Sprint("m", i), Legacy: true, Time: t0.Add(time.Duration(i) * time.Minute), Nick: nick, Body: fmt.Sprint("line ", i)}
		if err := a.Add(t.Context(), user, network, room, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func ids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func seq(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint("m", i))
	}
	return out
}

func TestQuery(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{})
	fill(t, a, 10)
	tests := []struct {
		name     string
		q        Query
		want     []string
		count    int
		index    int
		complete bool
	}{
		{"all", Query{Max: -1}, seq(0, 10), 10, 0, true},
		{"first page", Query{Max: 3}, seq(0, 3), 10, 0, false},
		{"after", Query{After: "m2", Max: 3}, seq(3, 6), 10, 3, false},
		{"after, last page", Query{After: "m6", Max: 3}, seq(7, 10), 10, 7, true},
		{"after the last", Query{After: "m9", Max: 3}, nil, 10, 10, true},
		{"last page", Query{Last: true, Max: 3}, seq(7, 10), 10, 7, false},
		{"before", Query{Before: "m7", Max: 3}, seq(4, 7), 10, 4, false},
		{"before, first page", Query{Before: "m3", Max: 5}, seq(0, 3), 10, 0, true},
		{"between", Query{After: "m1", Before: "m5", Max: 10}, seq(2, 5), 10, 2, true},
		{"count only", Query{Max: 0}, nil, 10, 0, false},
		{"start", Query{Start: t0.Add(6 * time.Minute), Max: -1}, seq(6, 10), 4, 0, true},
		{"end", Query{End: t0.Add(2 * time.Minute), Max: -1}, seq(0, 3), 3, 0, true},
		{"start and end", Query{Start: t0.Add(4 * time.Minute), End: t0.Add(5 * time.Minute), Max: -1}, seq(4, 6), 2, 0, true},
		{"with", Query{With: "carol", Max: 2}, []string{"m1", "m3"}, 5, 0, false},
		{"with, last", Query{With: "bob", Last: true, Max: 2}, []string{"m6", "m8"}, 5, 3, false},
		{"after-id and before-id", Query{AfterID: "m1", BeforeID: "m5", Max: 2}, seq(2, 4), 3, 0, false},
		{"after-id, last page", Query{AfterID: "m1", Last: true, Max: 2}, seq(8, 10), 8, 6, false},
		{"after-id, then after", Query{AfterID: "m1", After: "m7", Max: 5}, seq(8, 10), 8, 6, true},
		{"ids", Query{IDs: []string{"m7", "m2"}, Max: -1}, []string{"m2", "m7"}, 2, 0, true},
		{"page bigger than MaxPage", Query{Max: MaxPage + 1}, seq(0, 10), 10, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Query(t.Context(), user, network, room, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p.Entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries %v, want %v", got, tt.want)
			}
			if p.Count != tt.count || p.Complete != tt.complete || len(tt.want) > 0 && p.Index != tt.index {
				t.Errorf("count %d index %d complete %v, want %d %d %v", p.Count, p.Index, p.Complete, tt.count, tt.index, tt.complete)
			}
		})
	}
	for _, q := range []Query{{After: "nope"}, {Before: "nope"}, {AfterID: "nope"}, {BeforeID: "nope"}, {IDs: []string{"m1", "nope"}}} {
		if _, err := a.Query(t.Context(), user, network, room, q); !errors.Is(err, ErrNotFound) {
			t.Errorf("Query(%+v): err = %v, want ErrNotFound", q, err)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	f := bolttest.New(t)
	a := New(f.Store(), Bounds{})
	want := Entry{ID: "x1", Time: t0, Body: "/me waves", Action: true, Own: true, OriginID: "o1", ReplyTo: "m0",
		Links: []Link{{URL: "https://upload.example/a.png", Name: "a.png"}, {URL: "https://upload.example/b"}}}
	if err := a.Add(t.Context(), user, network, room, want); err != nil {
		t.Fatal(err)
	}
	// Run writes it, at the latest when it ends; a reopened store still
	// has it.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx, slog.New(slog.DiscardHandler)) }()
	cancel()
	<-done
	a = New(f.Reopen(), Bounds{})
	p, err := a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 1 || !reflect.DeepEqual(p.Entries[0], want) {
		t.Errorf("got %+v, want %+v", p.Entries, want)
	}
}

func TestAddIsOncePerID(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{})
	for range 2 {
		fill(t, a, 3)
	}
	if err := a.Add(t.Context(), user, network, room, Entry{ID: "m1", Body: "again"}); err != nil {
		t.Fatal(err)
	}
	p, err := a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Entries); !slices.Equal(got, seq(0, 3)) || p.Entries[1].Body != "line 1" {
		t.Errorf("entries %v (%+v), want each once as first added", got, p.Entries)
	}
}

func TestQuerySeesQueued(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{})
	if err := a.Add(t.Context(), user, network, room, Entry{ID: "q1", Time: t0}); err != nil {
		t.Fatal(err)
	}
	p, err := a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil || len(p.Entries) != 1 {
		t.Fatalf("query after Add without flush: %+v, %v", p, err)
	}
}

func TestBatchMaxFlushes(t *testing.T) {
	f := bolttest.New(t)
	a := New(f.Store(), Bounds{})
	for i := range BatchMax {
		if err := a.Add(t.Context(), user, network, room, Entry{ID: fmt.Sprint("b", i), Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// Not through a's Query, which would flush: a second archive on the
	// same store sees only what was written.
	p, err := New(f.Store(), Bounds{}).Query(t.Context(), user, network, room, Query{Max: 0})
	if err != nil {
		t.Fatal(err)
	}
	if p.Count != BatchMax {
		t.Errorf("%d messages written after %d Adds, want all", p.Count, BatchMax)
	}
}

func TestMaxPerRoom(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{MaxPerRoom: 4})
	fill(t, a, 3)
	fill2 := func(from, to int) {
		for i := from; i < to; i++ {
			if err := a.Add(t.Context(), user, network, room, Entry{ID: fmt.Sprint("m", i), Time: t0}); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 { // some in one batch, some alone
				if err := a.Flush(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	fill2(3, 10)
	p, err := a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Entries); !slices.Equal(got, seq(6, 10)) {
		t.Errorf("kept %v, want the latest 4", got)
	}
	if _, err := a.Query(t.Context(), user, network, room, Query{After: "m5"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("paging after a message let go: err = %v, want ErrNotFound", err)
	}
	// Another room of the same user is not bounded by this one.
	if err := a.Add(t.Context(), user, network, "#other", Entry{ID: "m0", Time: t0}); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Query(t.Context(), user, network, "#other", Query{Max: -1}); err != nil || len(p.Entries) != 1 {
		t.Errorf("other room: %+v, %v", p, err)
	}
}

func TestLatest(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{})
	fill(t, a, 10)
	tests := []struct {
		since time.Time
		max   int
		want  []string
	}{
		{time.Time{}, 3, seq(7, 10)},
		{t0.Add(8 * time.Minute), 5, seq(8, 10)},
		{t0.Add(time.Hour), 5, nil},
	}
	for _, tt := range tests {
		es, total, err := a.Latest(t.Context(), user, network, room, tt.since, tt.max)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(es); !slices.Equal(got, tt.want) || total != 10 {
			t.Errorf("Latest(%v, %d) = %v, %d; want %v, 10", tt.since, tt.max, got, total, tt.want)
		}
	}
}

func TestForget(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{})
	fill(t, a, 2)
	others := []struct{ user, network string }{{"bob@localhost", network}, {user, "discord"}}
	for _, o := range others {
		if err := a.Add(t.Context(), o.user, o.network, room, Entry{ID: "k", Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Add(t.Context(), user, network, "#queued", Entry{ID: "q", Time: t0}); err != nil {
		t.Fatal(err)
	}
	if err := a.Forget(t.Context(), user, network); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{room, "#queued"} {
		if p, err := a.Query(t.Context(), user, network, r, Query{Max: -1}); err != nil || p.Count != 0 {
			t.Errorf("%s after Forget: %+v, %v", r, p, err)
		}
	}
	for _, o := range others {
		if p, err := a.Query(t.Context(), o.user, o.network, room, Query{Max: -1}); err != nil || p.Count != 1 {
			t.Errorf("%v after Forget of another: %+v, %v", o, p, err)
		}
	}
}

func TestPrune(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{MaxPerRoom: 6})
	fill(t, a, 5)
	n, err := a.Prune(t.Context(), t0.Add(3*time.Minute))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
	p, err := a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Entries); !slices.Equal(got, seq(3, 5)) {
		t.Errorf("after Prune: %v", got)
	}
	if _, err := a.Query(t.Context(), user, network, room, Query{After: "m1"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("paging after a pruned message: err = %v, want ErrNotFound", err)
	}
	// The size bound still counts from where it was: 5 more messages let
	// the oldest kept ones go, never more than 6 in all.
	for i := 5; i < 10; i++ {
		if err := a.Add(t.Context(), user, network, room, Entry{ID: fmt.Sprint("m", i), Time: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	p, err = a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Entries); !slices.Equal(got, seq(4, 10)) {
		t.Errorf("after more messages: %v, want %v", got, seq(4, 10))
	}
}

func TestBadParts(t *testing.T) {
	a := New(bolttest.New(t).Store(), Bounds{})
	ctx := t.Context()
	for _, c := range []struct{ user, network, room, id string }{
		{"", network, room, "x"}, {user, "", room, "x"}, {user, network, "", "x"}, {user, network, room, ""}, {user, network, "a\x00b", "x"},
	} {
		if err := a.Add(ctx, c.user, c.network, c.room, Entry{ID: c.id}); err == nil {
			t.Errorf("Add(%q, %q, %q, %q) accepted", c.user, c.network, c.room, c.id)
		}
	}
}
