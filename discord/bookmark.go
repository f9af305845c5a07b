package discord

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// Nothing lost while the gateway is down: the adapter keeps, per
// conversation, the ID of the last message it delivered (a bookmark in
// Account.Store, saved after Deliver returned), and after a redial (and
// for DMs at Connect, so also after a restart) delivers what came after
// it from the channel's history. A message delivered twice after a crash
// is one the Sink ignores (same RemoteID).
//
// A new process RESUMEs the old gateway session where Discord still has
// it (resume.go): the server replays what was sent meanwhile, and no
// history is fetched for DMs then. When the RESUME is refused, or there
// is no stored session, the history fetch is what covers a restart: DMs
// at READY (at Connect without a stored session), joined rooms when they
// are joined again. During a replay a message at or before its
// conversation's bookmark was delivered by the earlier process and is
// not delivered again (replayed).

// catchUpPages bounds the history fetched per conversation (100 messages
// a page); the user is told when more were missed.
const catchUpPages = 5

func bookmarkKey(channel string) string { return "last/" + channel }

// joinedKey marks a room joined and not left: a room the process stopped
// in (a restart, a crash) is caught up from its bookmark when it is
// joined again; one the user left is not (its bookmark may be old).
func joinedKey(channel string) string { return "in/" + channel }

// markJoined records that channel is joined (in, else left) and reports
// whether it was marked joined before: the process stopped in it.
func (a *adapter) markJoined(ctx context.Context, channel string, in bool) (was bool) {
	if a.store == nil {
		return false
	}
	v, err := a.store.Get(ctx, joinedKey(channel))
	if err != nil && !errors.Is(err, transports.ErrNotFound) {
		a.log.Warn("discord: reading a room's mark", "err", err)
	}
	was = string(v) == "1"
	a.noteMark(channel, in)
	if was == in {
		return was
	}
	mark := []byte(nil)
	if in {
		mark = []byte("1")
	}
	if err := a.store.Put(ctx, joinedKey(channel), mark); err != nil {
		a.log.Warn("discord: saving a room's mark", "err", err)
	}
	return was
}

// catchUpRoom delivers what a room missed while the process was down,
// when it was joined at the stop and this session has delivered nothing
// there yet (a redial's catch-up covers the rest).
func (a *adapter) catchUpRoom(channel string, wasJoined bool) {
	a.mu.Lock()
	_, delivered := a.last[channel]
	a.mu.Unlock()
	if wasJoined && !delivered {
		a.catchUp([]string{channel}, time.Time{})
	}
}

// snowflakeLess orders two snowflakes (hence messages by time).
func snowflakeLess(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// bookmark records that message id of channel was delivered.
func (a *adapter) bookmark(channel, id string) {
	if a.store == nil {
		return
	}
	a.mu.Lock()
	if last, ok := a.last[channel]; ok && !snowflakeLess(last, id) {
		a.mu.Unlock()
		return
	}
	a.last[channel] = id
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
	defer cancel()
	if err := a.store.Put(ctx, bookmarkKey(channel), []byte(id)); err != nil {
		a.log.Warn("discord: saving a conversation's bookmark", "err", err)
	}
}

// lastDelivered is channel's bookmark, "" when there is none.
func (a *adapter) lastDelivered(ctx context.Context, channel string) string {
	a.mu.Lock()
	last, ok := a.last[channel]
	a.mu.Unlock()
	if ok || a.store == nil {
		return last
	}
	v, err := a.store.Get(ctx, bookmarkKey(channel))
	if err != nil {
		if !errors.Is(err, transports.ErrNotFound) {
			a.log.Warn("discord: reading a conversation's bookmark", "err", err)
		}
		return ""
	}
	if !IsSnowflake(string(v)) {
		return ""
	}
	return string(v)
}

// discordEpoch is the first millisecond of 2015, where snowflakes'
// timestamps start.
const discordEpoch = 1420070400000

// snowflakeAt is the smallest snowflake of the millisecond of t.
func snowflakeAt(t time.Time) string {
	ms := t.UnixMilli() - discordEpoch
	if ms <= 0 {
		return "1"
	}
	return strconv.FormatUint(uint64(ms)<<22, 10)
}

// catchUp delivers, for each channel with a bookmark, the messages after
// it, oldest first, as if they had just arrived; a channel without one
// from since (zero: none), the time the gateway dropped.
func (a *adapter) catchUp(channels []string, since time.Time) {
	for _, ch := range channels {
		if a.ctx.Err() != nil {
			return
		}
		after := a.lastDelivered(a.ctx, ch)
		if after == "" && !since.IsZero() {
			after = snowflakeAt(since)
		}
		if after == "" {
			continue
		}
		for page := 0; ; page++ {
			if page == catchUpPages {
				if c, ok := a.conversation(ch, ""); ok {
					a.sink.Deliver(&transports.NoticeEvent{About: c.id, Error: true,
						Text: "More messages came while the gateway was away than are fetched again; see the rest in Discord."})
				}
				break
			}
			msgs, err := a.s.ChannelMessages(ch, 100, "", after, "", discordgo.WithContext(a.ctx))
			if err != nil {
				a.log.Warn("discord: fetching missed messages", "err", classify(err))
				break
			}
			slices.SortFunc(msgs, func(x, y *discordgo.Message) int {
				switch {
				case snowflakeLess(x.ID, y.ID):
					return -1
				case snowflakeLess(y.ID, x.ID):
					return 1
				}
				return 0
			})
			for _, m := range msgs {
				if m != nil {
					a.onMessage(m)
					after = m.ID
				}
			}
			if len(msgs) < 100 {
				break
			}
		}
	}
}

// conversations are the channels whose missed messages a redial fetches:
// the joined rooms and the known DMs.
func (a *adapter) conversations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for ch := range a.rooms {
		out = append(out, ch)
	}
	for ch := range a.dmPeer {
		out = append(out, ch)
	}
	return out
}

// privateChannels are the DM channels READY listed, remembered as DMs.
func (a *adapter) privateChannels() []string {
	a.s.State.RLock()
	var out []string
	var dms [][2]string
	for _, c := range a.s.State.PrivateChannels {
		if c == nil || c.Type != discordgo.ChannelTypeDM {
			continue
		}
		for _, u := range c.Recipients {
			if u != nil && u.ID != a.self {
				dms = append(dms, [2]string{c.ID, u.ID})
				out = append(out, c.ID)
				break
			}
		}
	}
	a.s.State.RUnlock()
	for _, d := range dms {
		a.rememberDM(d[0], d[1])
	}
	return out
}

// goCatchUp runs catchUp on a goroutine of the adapter's (Close waits for
// it), unless the adapter is closing.
func (a *adapter) goCatchUp(channels []string, since time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || len(channels) == 0 {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				a.log.Error("discord: panic while fetching missed messages", "panic", r)
			}
		}()
		a.catchUp(channels, since)
		// A server may start sending a new session its events a moment
		// after READY (Spacebar subscribes it to its channels then): what
		// was said in between reached neither that fetch nor the gateway,
		// so fetch once more after that moment (from the bookmarks the
		// first pass moved: nothing twice).
		t := time.NewTimer(catchUpSettle)
		defer t.Stop()
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		a.catchUp(channels, since)
	}()
}

// catchUpSettle is how long after a session is up the missed messages
// are fetched a second time.
const catchUpSettle = 3 * time.Second
