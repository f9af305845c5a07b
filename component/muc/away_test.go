package muc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

func TestAwayBacklog(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := func(i, size int) transports.MessageEvent {
		return transports.MessageEvent{RemoteID: transports.RemoteID(fmt.Sprint(i)), Body: strings.Repeat("x", size), Time: t0.Add(time.Duration(i) * time.Minute)}
	}
	ids := func(evs []transports.MessageEvent) string {
		var out []string
		for _, ev := range evs {
			out = append(out, string(ev.RemoteID))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name        string
		n, size     int
		since       time.Time
		max         int
		want        string
		wantDropped int
	}{
		{name: "few", n: 3, size: 10, max: 20, want: "0,1,2"},
		{name: "max", n: 5, size: 10, max: 2, want: "3,4"},
		{name: "since", n: 5, size: 10, since: t0.Add(3 * time.Minute), max: 20, want: "3,4"},
		{name: "count bound", n: AwayMessages + 3, size: 1, max: 2, want: fmt.Sprint(AwayMessages+1, ",", AwayMessages+2), wantDropped: 3},
		{name: "byte bound", n: 5, size: AwayBytes / 2, max: 20, want: "3,4", wantDropped: 3},
		{name: "one huge message stays", n: 1, size: 2 * AwayBytes, max: 20, want: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Away
			for i := range tt.n {
				b.Add(msg(i, tt.size))
			}
			if got := ids(b.Since(tt.since, tt.max)); got != tt.want {
				t.Errorf("since = %s, want %s", got, tt.want)
			}
			if b.Dropped() != tt.wantDropped {
				t.Errorf("dropped %d, want %d", b.Dropped(), tt.wantDropped)
			}
			if b.bytes > AwayBytes && len(b.msgs) > 1 {
				t.Errorf("%d bytes kept in %d messages, bound %d", b.bytes, len(b.msgs), AwayBytes)
			}
		})
	}
}
