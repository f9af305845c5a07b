package muc

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
)

func TestParseHistory(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		x    string // the join's <x/>; "" for none
		want History
	}{
		{name: "no x", want: NoHistory},
		{name: "no history", x: `<x xmlns="` + NS + `"/>`, want: NoHistory},
		{name: "empty history", x: `<x xmlns="` + NS + `"><history/></x>`,
			want: History{Given: true, MaxStanzas: -1, MaxChars: -1, Seconds: -1}},
		{name: "all", x: `<x xmlns="` + NS + `"><history maxstanzas="5" maxchars="1000" seconds="60" since="2026-01-02T03:04:05Z"/></x>`,
			want: History{Given: true, MaxStanzas: 5, MaxChars: 1000, Seconds: 60, Since: since}},
		{name: "zero", x: `<x xmlns="` + NS + `"><history maxchars="0"/></x>`,
			want: History{Given: true, MaxStanzas: -1, MaxChars: 0, Seconds: -1}},
		{name: "garbage", x: `<x xmlns="` + NS + `"><history maxstanzas="-3" maxchars="many" seconds="1e3" since="yesterday"/></x>`,
			want: History{Given: true, MaxStanzas: -1, MaxChars: -1, Seconds: -1}},
		{name: "history in another namespace", x: `<x xmlns="` + NS + `"><history xmlns="urn:example" maxstanzas="5"/></x>`, want: NoHistory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseHistory(nil)
			if tt.x != "" {
				got = ParseHistory(xmltreetest.Parse(t, tt.x))
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHistoryParams(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	early, late := now.Add(-time.Hour), now.Add(-time.Minute)
	h := func(stanzas, chars, seconds int, since time.Time) History {
		return History{Given: true, MaxStanzas: stanzas, MaxChars: chars, Seconds: seconds, Since: since}
	}
	tests := []struct {
		name      string
		req       History
		wantSince time.Time
		wantMax   int
		wantOK    bool
	}{
		{name: "none given", req: NoHistory, wantMax: DefaultHistory, wantOK: true},
		{name: "empty", req: h(-1, -1, -1, time.Time{}), wantMax: DefaultHistory, wantOK: true},
		{name: "maxstanzas", req: h(5, -1, -1, time.Time{}), wantMax: 5, wantOK: true},
		{name: "maxstanzas capped", req: h(1000, -1, -1, time.Time{}), wantMax: MaxHistory, wantOK: true},
		{name: "maxstanzas zero", req: h(0, -1, -1, time.Time{})},
		{name: "maxchars zero", req: h(-1, 0, -1, time.Time{})},
		{name: "seconds", req: h(-1, -1, 60, time.Time{}), wantSince: late, wantMax: MaxHistory, wantOK: true},
		{name: "since", req: h(-1, -1, -1, early), wantSince: early, wantMax: MaxHistory, wantOK: true},
		{name: "the later of seconds and since", req: h(-1, -1, 60, early), wantSince: late, wantMax: MaxHistory, wantOK: true},
		{name: "since later than seconds", req: h(-1, -1, 7200, late), wantSince: late, wantMax: MaxHistory, wantOK: true},
		{name: "seconds and maxstanzas", req: h(3, -1, 60, time.Time{}), wantSince: late, wantMax: 3, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since, max, ok := tt.req.Params(now)
			if ok != tt.wantOK || max != tt.wantMax || !since.Equal(tt.wantSince) {
				t.Errorf("Params = %v, %d, %v; want %v, %d, %v", since, max, ok, tt.wantSince, tt.wantMax, tt.wantOK)
			}
		})
	}
}

func TestTrimChars(t *testing.T) {
	size := func(s string) int { return len(s) }
	tests := []struct {
		name    string
		stanzas []string
		max     int
		want    string
	}{
		{name: "all fit", stanzas: []string{"aa", "bb", "cc"}, max: 6, want: "aa,bb,cc"},
		{name: "oldest dropped", stanzas: []string{"aa", "bb", "cc"}, max: 5, want: "bb,cc"},
		{name: "only the newest", stanzas: []string{"aa", "bb", "cc"}, max: 2, want: "cc"},
		{name: "none fits", stanzas: []string{"aa", "bb", "ccc"}, max: 2, want: ""},
		{name: "empty", max: 10, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(TrimChars(tt.stanzas, tt.max, size), ","); got != tt.want {
				t.Errorf("TrimChars = %q, want %q", got, tt.want)
			}
		})
	}
}
