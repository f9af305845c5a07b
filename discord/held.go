package discord

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// Room events before the room is joined again. After a restart the
// gateway (a RESUME replays what was sent meanwhile) reaches the adapter
// before the component has joined the user's rooms again: the events of
// a room that was joined when the process stopped (joinedKey) are held
// until it is, and handled then, after its missed messages were fetched
// from history (catchUpRoom). Messages are not held: the history has
// them, with their edits applied; edits, deletions and reactions are,
// which no history shows. Typing is not news by then. A room not joined
// within heldFor (its user's client is away, not a bouncer's rejoin) has
// them dropped, as before there was holding: its messages still come
// from history when it is joined.

// maxHeld bounds the events held per room (the oldest go); maxMarks the
// rooms whose joined mark is remembered (the longest-remembered go, and
// are read from the store again when needed).
const (
	maxHeld  = 256
	maxMarks = 4096
)

// heldFor bounds how long events wait for their room; while any wait,
// the sequence written stays before them (gw.pin), so it bounds how far
// back a RESUME after a restart starts too.
const heldFor = 2 * time.Minute

// unlessHeld runs handle now, unless holdUnjoined keeps it for later.
func (a *adapter) unlessHeld(channel, guild string, handle func()) {
	if !a.holdUnjoined(channel, guild, handle) {
		handle()
	}
}

// holdUnjoined keeps handle for later when channel, of guild, is a room
// not joined now that was joined at the stop, or one whose held events
// are being handled (the order stays), and reports whether it did.
func (a *adapter) holdUnjoined(channel, guild string, handle func()) bool {
	if guild == "" || a.store == nil {
		return false
	}
	a.mu.Lock()
	_, joined := a.rooms[channel]
	_, holding := a.held[channel]
	marked, known := a.marks.Get(channel)
	a.mu.Unlock()
	if joined && !holding {
		return false
	}
	if !joined && !known {
		ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
		v, err := a.store.Get(ctx, joinedKey(channel))
		cancel()
		if err != nil && !errors.Is(err, transports.ErrNotFound) {
			a.log.Warn("discord: reading a room's mark", "err", err)
			return false
		}
		marked = string(v) == "1"
		a.noteMark(channel, marked)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, joined = a.rooms[channel]
	q, holding := a.held[channel]
	if joined && !holding || !joined && !marked {
		return false
	}
	if len(q) >= maxHeld {
		q = q[1:]
	}
	if len(a.held) == 0 {
		a.gw.pin = a.gw.seq // this event's sequence is recorded after it
		a.gw.heldSince = time.Now()
	}
	a.held[channel] = append(q, handle)
	return true
}

// noteMark remembers channel's joined mark (see markJoined); a room left
// drops what was held for it.
func (a *adapter) noteMark(channel string, in bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.marks.Put(channel, in)
	if !in {
		a.dropHeld(channel)
	}
}

// dropHeld forgets what was held for channel; with nothing held any
// more, the sequence written may move on. a.mu is held.
func (a *adapter) dropHeld(channel string) {
	delete(a.held, channel)
	if len(a.held) == 0 {
		a.gw.pin = 0
	}
}

// releaseHeld handles the events held for channel, now joined, in the
// order they came, and those that come meanwhile after them.
func (a *adapter) releaseHeld(channel string) {
	for {
		a.mu.Lock()
		q, ok := a.held[channel]
		if !ok || len(q) == 0 {
			a.dropHeld(channel)
			a.mu.Unlock()
			return
		}
		handle := q[0]
		a.held[channel] = q[1:]
		a.mu.Unlock()
		handle()
	}
}

// expireHeld drops what has waited for its room longer than heldFor.
func (a *adapter) expireHeld() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.held) == 0 || time.Since(a.gw.heldSince) < heldFor {
		return
	}
	a.log.Info("discord: dropping the edits, deletions and reactions of rooms not joined again", "rooms", len(a.held))
	for ch := range a.held {
		a.dropHeld(ch)
	}
}
