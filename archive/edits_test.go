package archive

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// TestEdits: corrections, retractions and moderations are archived as
// entries of their own, whole and in the order they came among the
// messages; histories (NoEdits, Latest) leave them out; they count
// towards the room's bound like any message.
func TestEdits(t *testing.T) {
	f := bolttest.New(t)
	a := New(f.Store(), Bounds{MaxPerRoom: 5})
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	entries := []Entry{
		{ID: "m0", Legacy: true, Time: at(0), Nick: "bob", Body: "helo"},
		{ID: "e1", Time: at(1), Nick: "bob", Body: "hello", Replace: "m0"},
		{ID: "m2", Legacy: true, Time: at(2), Nick: "carol", Body: "spam"},
		{ID: "e3", Time: at(3), Nick: "carol", Retract: "m2"},
		{ID: "e4", Time: at(4), Retract: "m0", Moderated: true, By: "dave", Reason: "off topic"},
	}
	for _, e := range entries {
		if err := a.Add(t.Context(), user, network, room, e); err != nil {
			t.Fatal(err)
		}
	}
	// Reopened: what is stored, not what is queued.
	if err := a.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	a = New(f.Reopen(), Bounds{MaxPerRoom: 5})
	tests := []struct {
		name string
		q    Query
		want []Entry
	}{
		{"everything, in order", Query{Max: -1}, entries},
		{"without edits", Query{Max: -1, NoEdits: true}, []Entry{entries[0], entries[2]}},
		{"one author's", Query{Max: -1, With: "carol"}, []Entry{entries[2], entries[3]}},
		{"after the correction", Query{After: "e1", Max: 2}, entries[2:4]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Query(t.Context(), user, network, room, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Entries, tt.want) {
				t.Errorf("entries\n  %+v\nwant\n  %+v", p.Entries, tt.want)
			}
		})
	}
	es, total, err := a.Latest(t.Context(), user, network, room, time.Time{}, 5)
	if err != nil || !slices.Equal(ids(es), []string{"m0", "m2"}) || total != 2 {
		t.Errorf("Latest = %v, %d, %v; want the 2 messages", ids(es), total, err)
	}
	// The bound counts every entry: one more message lets the oldest go.
	if err := a.Add(t.Context(), user, network, room, Entry{ID: "m5", Legacy: true, Time: at(5), Nick: "bob", Body: "bye"}); err != nil {
		t.Fatal(err)
	}
	p, err := a.Query(t.Context(), user, network, room, Query{Max: -1})
	if err != nil || !slices.Equal(ids(p.Entries), []string{"e1", "m2", "e3", "e4", "m5"}) {
		t.Errorf("after one more message: %v, %v", ids(p.Entries), err)
	}
}

func TestEntryEdit(t *testing.T) {
	tests := []struct {
		e    Entry
		want bool
	}{
		{Entry{ID: "m", Body: "hi"}, false},
		{Entry{ID: "m", Body: "hi", ReplyTo: "x"}, false},
		{Entry{ID: "m", Body: "hi", Replace: "x"}, true},
		{Entry{ID: "m", Retract: "x"}, true},
		{Entry{ID: "m", Retract: "x", Moderated: true}, true},
	}
	for _, tt := range tests {
		if got := tt.e.Edit(); got != tt.want {
			t.Errorf("%+v.Edit() = %v, want %v", tt.e, got, tt.want)
		}
	}
}
