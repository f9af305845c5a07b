package muc

import (
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// Bounds of the chatter kept per room while the user is away (bouncer
// mode).
const (
	AwayMessages = 100
	AwayBytes    = 64 << 10
)

// Away keeps a room's latest messages while none of the user's resources
// is in it, within AwayMessages and AwayBytes of bodies (one message is
// kept whatever its size), and counts the older ones it let go. The zero
// value is empty and ready to use.
type Away struct {
	msgs    []transports.MessageEvent
	bytes   int
	dropped int
}

// Add keeps ev, letting the oldest messages go beyond the bounds.
func (b *Away) Add(ev transports.MessageEvent) {
	b.msgs = append(b.msgs, ev)
	b.bytes += len(ev.Body)
	for len(b.msgs) > AwayMessages || b.bytes > AwayBytes && len(b.msgs) > 1 {
		b.bytes -= len(b.msgs[0].Body)
		b.msgs[0] = transports.MessageEvent{}
		b.msgs = b.msgs[1:]
		b.dropped++
	}
}

// Dropped is the number of messages let go to stay within the bounds.
func (b *Away) Dropped() int { return b.dropped }

// Since returns at most max (0: no bound) of the latest messages stamped
// at or after since (zero: any), oldest first, like transports.History.
func (b *Away) Since(since time.Time, max int) []transports.MessageEvent {
	var out []transports.MessageEvent
	for _, ev := range b.msgs {
		if since.IsZero() || !ev.Time.Before(since) {
			out = append(out, ev)
		}
	}
	if max > 0 && len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}
