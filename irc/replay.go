package irc

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// Catch-up from a channel's join replay. A server that keeps a channel's
// recent lines (InspIRCd's chanhistory with channel mode +H) sends them
// after the names list of every JOIN, as a "chathistory" BATCH whose lines
// keep their msgid and carry their server-time. When the gateway joins a
// channel again that the user was in (after a restart, a takeover by a
// standby, a reconnection), the lines of that replay the user has not had
// are what was said while the gateway was away: they are delivered as
// room messages, in order, with their time (the component marks a late
// message with its delay). At a fresh join by the user the replay is not
// delivered: the user asked for history with <history/>, which
// transports.History answers.
//
// What the user has had is a per-channel bookmark in Account.Store: the
// msgid and server-time of the last line of the channel the adapter
// handled (delivered, or the echo of the user's own). It exists while the
// user is in the channel: written at the JOIN, deleted when the user
// leaves or is kicked; a JOIN with a bookmark is a rejoin, one without is
// fresh (Discord's joined mark and bookmark follow the same contract). A
// replayed line is delivered when it comes after the bookmark's msgid in
// the replay, or, when that msgid is not in it (it scrolled out, or the
// server lost its history), when it is not older than the bookmark's
// second (replayed times have whole seconds). Lines without a msgid are
// not delivered: nothing would tell them from lines already had.
//
// The bookmark is written throttled: a writer goroutine per adapter
// writes each channel's newest bookmark at once when it wrote none in the
// last markEvery, else when that much time has passed (the read loop
// never waits on it; Close writes the last ones, so after a graceful stop
// nothing is delivered twice). So a user costs the store at most five
// writes a second for all their channels, however busy they are, and a
// replay after a crash delivers twice at most the lines of the last
// markEvery before it. Neither the message-ID map nor the outbox's
// EnqueueOnce is used as a check per line: a room message whose stanza-id
// is its msgid is deliberately not paired in the map (no write per
// message per user on the hot path), and a room message is one stanza
// per joined resource, or none (the away backlog), so no single outbox
// entry stands for it; either would cost the store a write per line and
// user, which the throttle bounds instead.

// markEvery is the least time between two writes of an adapter's
// bookmarks.
const markEvery = 200 * time.Millisecond

// maxReplayLines bounds the lines kept from one join replay (the newest).
const maxReplayLines = 500

// chanMark is a channel's bookmark: the last line handled.
type chanMark struct {
	at    time.Time
	msgid string
}

func (m chanMark) encode() []byte {
	return []byte(strconv.FormatInt(m.at.UnixMilli(), 10) + " " + m.msgid)
}

func decodeMark(v []byte) (chanMark, bool) {
	ms, id, ok := strings.Cut(string(v), " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id != "" && !validMsgID(id) {
		return chanMark{}, false
	}
	return chanMark{at: time.UnixMilli(n), msgid: id}, true
}

// markStoreKey is the Account.Store key of a channel's bookmark.
func markStoreKey(server, folded string) string { return "chanmark:" + server + " " + folded }

// replayLine is one line of a join replay.
type replayLine struct {
	ev    *transports.MessageEvent // nil: a line not delivered (the user's own, a CTCP)
	at    time.Time
	msgid string
}

// joinReplay is a join replay being received.
type joinReplay struct {
	key    string // markStoreKey of the channel
	name   string // the channel, as the BATCH named it
	rejoin bool   // the channel had a bookmark at the JOIN
	// fetched: the answer of a CHATHISTORY request, not a join replay.
	fetched bool
	lines   []replayLine
}

// chanMarks is an adapter's channel bookmarks and the join replays being
// received, over all its connections; its zero value is ready.
//
// The channels' states are one small slice sorted by key, not a map per
// state: a user is in a few channels, and four maps (the bookmarks, which
// were looked up, which are to write, which replays are due) cost each
// user close to a KiB of live heap for one channel.
type chanMarks struct {
	mu      sync.Mutex
	chans   []markState            // by key; an entry goes once none of its flags is set
	batches map[string]*joinReplay // the join replays being received; nil when none
	writing bool                   // the writer goroutine runs
	wake    chan struct{}
}

// markState is what an adapter knows of one channel's bookmark.
type markState struct {
	key    string // markStoreKey
	mark   chanMark
	in     bool // the user is in the channel: mark is its bookmark
	loaded bool // looked up in the store (found or not)
	dirty  bool // to write (a deletion when !in)
	due    bool // JOIN seen, replay not yet
	rejoin bool // with due: the JOIN was a rejoin
}

// find returns the index of key's entry, or where it would go.
func (m *chanMarks) find(key string) (int, bool) {
	return slices.BinarySearchFunc(m.chans, key, func(s markState, key string) int { return strings.Compare(s.key, key) })
}

// get returns key's entry, or nil. The pointer is valid until the next
// call that adds or drops an entry (entry, tidy). Call with m.mu held.
func (m *chanMarks) get(key string) *markState {
	if i, ok := m.find(key); ok {
		return &m.chans[i]
	}
	return nil
}

// entry returns key's entry, adding it. Call with m.mu held.
func (m *chanMarks) entry(key string) *markState {
	i, ok := m.find(key)
	if !ok {
		m.chans = slices.Insert(m.chans, i, markState{key: key})
	}
	return &m.chans[i]
}

// cur returns the channel's bookmark, and whether the user is in it.
// Call with m.mu held.
func (m *chanMarks) cur(key string) (chanMark, bool) {
	if s := m.get(key); s != nil && s.in {
		return s.mark, true
	}
	return chanMark{}, false
}

// tidy drops key's entry once it holds nothing, and the slice with the
// last one. Call with m.mu held.
func (m *chanMarks) tidy(key string) {
	i, ok := m.find(key)
	if !ok {
		return
	}
	if s := m.chans[i]; s.in || s.loaded || s.dirty || s.due {
		return
	}
	m.chans = slices.Delete(m.chans, i, i+1)
	if len(m.chans) == 0 {
		m.chans = nil
	}
}

// loadMark reads the channel's stored bookmark before a join asked by the
// component, so the JOIN can tell a rejoin from a fresh join. A store
// that fails counts as no bookmark (the replay is then not delivered).
func (c *conn) loadMark(ctx context.Context, channel string) {
	st := c.a.acct.Store
	if st == nil {
		return
	}
	key := markStoreKey(c.server, FoldName(channel))
	m := &c.a.marks
	m.mu.Lock()
	done := false
	if st := m.get(key); st != nil {
		done = st.loaded
	}
	m.mu.Unlock()
	if done {
		return
	}
	v, err := st.Get(ctx, key)
	if err != nil && !errors.Is(err, transports.ErrNotFound) {
		c.logger().Warn("reading a channel's bookmark", "err", err)
		return
	}
	mark, ok := decodeMark(v)
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(key)
	if e.loaded {
		return
	}
	e.loaded = true
	if ok && !e.in {
		e.mark, e.in = mark, true
	}
}

// watchReplay follows, after handle delivered an event, what decides a
// join replay's fate: our JOIN (a replay may follow), our PART or KICK
// (the bookmark goes), and a channel line with a msgid (the bookmark
// moves). It runs on the reading goroutine for every event not in a
// history batch.
func (c *conn) watchReplay(e *girc.Event) {
	switch e.Command {
	case "JOIN":
		if len(e.Params) >= 1 && c.isSelf(e) {
			c.joinedChannel(e)
		}
	case "PART":
		if len(e.Params) >= 1 && c.isSelf(e) {
			c.leftChannel(e.Params[0])
		}
	case "KICK":
		if len(e.Params) >= 2 && EqualFold(e.Params[1], c.currentNick()) {
			c.leftChannel(e.Params[0])
		}
	case "PRIVMSG", "NOTICE":
		if len(e.Params) >= 2 {
			name := strings.TrimLeft(e.Params[0], "~&@%+")
			if c.isChannel(name) {
				c.handledLine(markStoreKey(c.server, FoldName(name)), e)
			}
		}
	}
}

// joinedChannel notes our JOIN: the channel gets a bookmark now if it had
// none (a fresh join: its replay is not delivered), and its replay is due.
//
// On a server that answers CHATHISTORY, a rejoin asks for the lines after
// the bookmark instead (fetchMissed): such servers (Ergo) replay nothing
// at a JOIN to a client that can ask.
func (c *conn) joinedChannel(e *girc.Event) {
	name := e.Params[0]
	key := markStoreKey(c.server, FoldName(name))
	ask := c.keepsHistory()
	m := &c.a.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.entry(key)
	mark, rejoin := st.mark, st.in
	switch {
	case !rejoin:
		st.mark, st.in = chanMark{at: lineTime(e)}, true
		c.a.markDirtyLocked(st)
	case ask:
		c.fetchMissed(strings.Clone(name), key, mark, lineTime(e))
		return
	}
	if !ask {
		st.due, st.rejoin = true, rejoin
	}
}

// fetchMissed asks a server that answers CHATHISTORY for the lines of
// channel name after mark, on a goroutine of the adapter's (Close waits
// for it), and delivers those said before our JOIN at joined (the later
// ones came live) as a join replay's. Where the server does not know the
// bookmark's msgid any more, it asks from its time.
func (c *conn) fetchMissed(name, key string, mark chanMark, joined time.Time) {
	a := c.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closedLocked() {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer c.recoverLog("fetch of missed lines") // it delivers to the sink
		ctx, cancel := context.WithTimeout(&a.ctx, a.n.cfg.Timeout)
		defer cancel()
		limit := c.historyMax(0)
		var msgs []transports.MessageEvent
		var err error
		if mark.msgid != "" {
			msgs, err = c.historyRequest(ctx, name, "AFTER "+name+" msgid="+mark.msgid, limit)
		}
		if mark.msgid == "" || err != nil && ctx.Err() == nil {
			from := "timestamp=" + mark.at.UTC().Format("2006-01-02T15:04:05.000Z")
			msgs, err = c.historyRequest(ctx, name, "AFTER "+name+" "+from, limit)
		}
		if err != nil {
			c.logger().Info("the channel lines said while the gateway was away could not be fetched", "err", err)
			return
		}
		if len(msgs) == limit {
			c.mu.Lock()
			id := c.channelIDLocked(name)
			c.mu.Unlock()
			a.deliver(&transports.NoticeEvent{About: id, Error: true,
				Text: "More was said in " + name + " while the gateway was away than the server gives back; see the rest on IRC."})
		}
		r := &joinReplay{key: key, name: name, rejoin: true, fetched: true}
		for i := range msgs {
			m := &msgs[i]
			if m.RemoteID == "" || !m.Time.Before(joined) {
				continue
			}
			l := replayLine{at: m.Time, msgid: string(m.RemoteID)}
			if !m.Own {
				l.ev = m
			}
			r.lines = append(r.lines, l)
		}
		c.endReplay(r)
	}()
}

// leftChannel forgets the bookmark of a channel the user is not in any
// more: a later JOIN is a fresh one.
func (c *conn) leftChannel(name string) {
	key := markStoreKey(c.server, FoldName(name))
	m := &c.a.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.get(key)
	if st == nil || !st.in {
		return
	}
	st.in, st.mark, st.due = false, chanMark{}, false
	c.a.markDirtyLocked(st)
	m.tidy(key)
}

// handledLine moves a channel's bookmark to a line handled live (a
// message delivered, or our own echoed); a live line also means the
// channel's join replay, if any, is over.
func (c *conn) handledLine(key string, e *girc.Event) {
	m := &c.a.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.get(key)
	if st == nil {
		return
	}
	st.due = false
	id, ok := e.Tags.Get("msgid")
	if !st.in || !ok || !validMsgID(id) {
		m.tidy(key)
		return
	}
	st.mark = chanMark{at: lineTime(e), msgid: strings.Clone(id)}
	c.a.markDirtyLocked(st)
}

// lineTime is a line's server-time, else now.
func lineTime(e *girc.Event) time.Time {
	if _, ok := e.Tags.Get("time"); ok && !e.Timestamp.IsZero() {
		return e.Timestamp
	}
	return time.Now()
}

// onReplayLine collects the join replays among the history batches (the
// BATCH lines and the messages tagged with their reference) and delivers
// what the user has not had when one ends. It runs on the reading
// goroutine for every history-batch line, before a history request sees
// it: a batch for a channel whose replay is due is a join replay.
func (c *conn) onReplayLine(e *girc.Event) {
	m := &c.a.marks
	if e.Command == "BATCH" && len(e.Params) >= 1 {
		ref := e.Params[0]
		if strings.HasPrefix(ref, "+") && len(e.Params) >= 3 {
			key := markStoreKey(c.server, FoldName(e.Params[2]))
			m.mu.Lock()
			if st := m.get(key); st != nil && st.due && len(m.batches) < maxOpenBatches {
				st.due = false
				if m.batches == nil {
					m.batches = make(map[string]*joinReplay)
				}
				m.batches[c.server+" "+ref[1:]] = &joinReplay{key: key, name: strings.Clone(e.Params[2]), rejoin: st.rejoin}
				m.tidy(key)
			}
			m.mu.Unlock()
			return
		}
		if strings.HasPrefix(ref, "-") {
			m.mu.Lock()
			r := m.batches[c.server+" "+ref[1:]]
			delete(m.batches, c.server+" "+ref[1:])
			if len(m.batches) == 0 {
				m.batches = nil // a map kept for the next replay would outlive this one
			}
			m.mu.Unlock()
			if r != nil {
				c.endReplay(r)
			}
		}
		return
	}
	ref, ok := e.Tags.Get("batch")
	if !ok || e.Command != "PRIVMSG" && e.Command != "NOTICE" || len(e.Params) < 2 {
		return
	}
	m.mu.Lock()
	r := m.batches[c.server+" "+ref]
	m.mu.Unlock()
	if r == nil {
		return
	}
	id, ok := e.Tags.Get("msgid")
	if !ok || !validMsgID(id) {
		return // nothing would tell it from a line already had
	}
	l := replayLine{at: lineTime(e), msgid: strings.Clone(id)}
	if !c.isSelf(e) {
		l.ev = c.messageEvent(e)
	}
	if len(r.lines) == maxReplayLines {
		r.lines = append(r.lines[:0], r.lines[1:]...)
	}
	r.lines = append(r.lines, l)
}

// endReplay delivers a rejoin's replayed lines after the bookmark, in
// order, moving the bookmark after each; a fresh join's replay only moves
// the bookmark to its last line.
func (c *conn) endReplay(r *joinReplay) {
	m := &c.a.marks
	m.mu.Lock()
	mark, in := m.cur(r.key)
	m.mu.Unlock()
	if !in || len(r.lines) == 0 {
		return // left meanwhile, or nothing replayed
	}
	lines := r.lines
	if r.rejoin {
		lines = afterMark(lines, mark)
	} else {
		lines = lines[len(lines)-1:]
	}
	delivered := 0
	for _, l := range lines {
		if r.rejoin && l.ev != nil {
			if l.ev.Room && l.ev.Nick != "" {
				c.noteAuthor(r.name, l.msgid, l.ev.Nick)
			}
			c.a.deliver(l.ev)
			delivered++
		}
		m.mu.Lock()
		// A fetch's answer can come after live lines: the bookmark does
		// not go back past them.
		if st := m.get(r.key); st != nil && st.in && (!r.fetched || !l.at.Before(st.mark.at)) {
			st.mark = chanMark{at: l.at, msgid: l.msgid}
			c.a.markDirtyLocked(st)
		}
		m.mu.Unlock()
	}
	if delivered > 0 {
		c.logger().Info("delivered the channel lines said while the gateway was away, from the server's join replay", "lines", delivered)
	}
}

// afterMark returns the replayed lines that come after mark: those after
// its msgid, or, when the replay does not hold it, those not older than
// its second.
func afterMark(lines []replayLine, mark chanMark) []replayLine {
	if mark.msgid != "" {
		for i, l := range lines {
			if l.msgid == mark.msgid {
				return lines[i+1:]
			}
		}
	}
	from := mark.at.Truncate(time.Second)
	for i, l := range lines {
		if !l.at.Before(from) {
			return lines[i:]
		}
	}
	return nil
}

// markDirtyLocked queues the channel's bookmark for the writer, starting
// it if needed. Call with a.marks.mu held.
func (a *adapter) markDirtyLocked(st *markState) {
	m := &a.marks
	if a.acct.Store == nil {
		return
	}
	if m.wake == nil {
		m.wake = make(chan struct{}, 1)
	}
	st.dirty = true
	select {
	case m.wake <- struct{}{}:
	default:
	}
	if m.writing {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closedLocked() {
		return // Close writes it
	}
	m.writing = true
	a.wg.Add(1)
	go a.writeMarks()
}

// writeMarks is the adapter's bookmark writer: it writes the bookmarks
// queued, each channel's newest, at most every markEvery, until the
// adapter closes (Close writes the last ones).
func (a *adapter) writeMarks() {
	defer a.wg.Done()
	var pause <-chan time.Time // after a write, until markEvery passed
	for {
		wake := a.marks.wake
		if pause != nil {
			wake = nil
		}
		select {
		case <-pause:
			pause = nil
		case <-wake:
			a.flushMarks()
			pause = time.After(markEvery)
		case <-a.ctx.Done():
			return // Close writes what is left, after the connections ended
		}
	}
}

// flushMarks writes the queued bookmarks (a deleted one as an empty
// value). A failed write is logged: the replay may then deliver again
// what the user had.
func (a *adapter) flushMarks() {
	m := &a.marks
	m.mu.Lock()
	var todo map[string][]byte
	var gone []string
	for i := range m.chans {
		st := &m.chans[i]
		if !st.dirty {
			continue
		}
		if todo == nil {
			todo = make(map[string][]byte)
		}
		st.dirty = false
		if st.in {
			todo[st.key] = st.mark.encode()
		} else {
			todo[st.key] = nil
			gone = append(gone, st.key)
		}
	}
	for _, key := range gone {
		m.tidy(key)
	}
	m.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(&a.ctx), 10*time.Second)
	defer cancel()
	for key, v := range todo {
		if err := a.acct.Store.Put(ctx, key, v); err != nil {
			a.logger().Warn("saving a channel's bookmark", "err", err)
		}
	}
}
