package component

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/egress"
)

// Per-user limits. Everything one user (or the legacy contacts writing to
// them) can multiply is bounded here or next to the state it bounds, and
// every entry kept per user expires once unused, so that neither a
// flood nor a multitude of JIDs grows the component's memory without end:
//
//   - send limiters (messages towards the legacy network): forgotten a
//     minute after their last use, when their bucket is full again anyway;
//   - reconnect and register requests: Config.CommandsPerMinute per user in
//     any minute, the excess refused with policy-violation;
//   - legacy messages to a user: Config.IncomingPerMinute per window of a
//     minute; the excess is dropped, never stored, and one notice from the
//     gateway at the end of the window gives the exact count;
//   - rooms: Config.RoomsPerUser per user, a join beyond refused before
//     anything reaches the legacy network;
//   - queued work: maxQueued stanzas waiting in a user's lane, the excess
//     refused with resource-constraint (see admit);
//   - presence: see presence.Tracker; room state: see muc.Service.Release.

// maxQueued bounds the stanzas waiting in one user's lane. It leaves
// room for a client that joins its bookmarked rooms at login.
const maxQueued = 200

// sweep deletes the entries of m that stale reports as no longer needed,
// at most once per period (*last records when it last ran), so that the
// per-user maps that bound abuse are themselves bounded without a scan on
// every call.
func sweep[K comparable, V any](m map[K]V, now time.Time, last *time.Time, period time.Duration, stale func(V) bool) {
	if now.Sub(*last) <= period {
		return
	}
	for k, v := range m {
		if stale(v) {
			delete(m, k)
		}
	}
	*last = now
}

// limits holds the per-user counters. Its zero value is ready to use.
type limits struct {
	sendMu    sync.Mutex
	send      map[string]*sendLimiter
	sendSwept time.Time

	cmdOnce sync.Once
	cmds    *egress.Budget // reconnect and register requests per user and minute

	inMu    sync.Mutex
	in      map[string]*inWindow
	inSwept time.Time
	// window is the incoming-rate window; 0 means a minute (tests
	// shorten it).
	window time.Duration
}

type sendLimiter struct {
	l    *rate.Limiter
	used time.Time
}

// limiter returns user's limiter for messages towards the legacy
// network. Limiters unused for a minute are forgotten: their bucket has
// refilled by then, so a new one behaves the same.
func (c *Component) limiter(user string) *rate.Limiter {
	l := &c.lim
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	now := time.Now()
	if l.send == nil {
		l.send = make(map[string]*sendLimiter)
	}
	sweep(l.send, now, &l.sendSwept, time.Minute, func(e *sendLimiter) bool { return now.Sub(e.used) > time.Minute })
	e := l.send[user]
	if e == nil {
		e = &sendLimiter{l: rate.NewLimiter(rate.Limit(c.cfg.SendRate), c.cfg.SendBurst)}
		l.send[user] = e
	}
	e.used = now
	return e.l
}

func (c *Component) commandsPerMinute() int {
	if c.cfg.CommandsPerMinute > 0 {
		return c.cfg.CommandsPerMinute
	}
	return 5
}

// commandAllowed counts one reconnect or register request of user and
// returns a policy-violation error when user made CommandsPerMinute of
// them in the last minute already. Each such request makes the gateway
// log in to the legacy network, so a loop of them would get the gateway's
// address banned there.
func (c *Component) commandAllowed(user string) error {
	l := &c.lim
	max := c.commandsPerMinute()
	l.cmdOnce.Do(func() { l.cmds = &egress.Budget{PerUserPerMinute: max} })
	release, err := l.cmds.Open(user)
	if err != nil {
		return stanzaerr.New("wait", "policy-violation", "Too many reconnect and register requests: at most %d a minute. Try again in a minute.", max)
	}
	release() // a request, not a connection: nothing stays open
	return nil
}

func (c *Component) incomingPerMinute() int {
	if c.cfg.IncomingPerMinute > 0 {
		return c.cfg.IncomingPerMinute
	}
	return 120
}

// inWindow counts one user's incoming legacy messages in the current
// window.
type inWindow struct {
	start     time.Time
	n         int  // delivered in the window
	dropped   int  // dropped and not yet reported
	scheduled bool // a notice is due at the end of the window
}

// incomingWindow is the window's length; l.inMu is held.
func (l *limits) incomingWindow() time.Duration {
	if l.window > 0 {
		return l.window
	}
	return time.Minute
}

// incomingAllowed reports whether one more legacy message may be
// delivered to user (1:1 messages, notices and offline highlights: what
// ends up in the user's offline storage). When not, the caller drops the
// message; it is counted, and the first drop of a window arranges one
// notice at the window's end with the number dropped.
func (c *Component) incomingAllowed(user jid.JID) bool {
	l := &c.lim
	max := c.incomingPerMinute()
	u := user.String()
	l.inMu.Lock()
	defer l.inMu.Unlock()
	win := l.incomingWindow()
	now := time.Now()
	if l.in == nil {
		l.in = make(map[string]*inWindow)
	}
	sweep(l.in, now, &l.inSwept, win, func(w *inWindow) bool { return now.Sub(w.start) >= win && !w.scheduled })
	w := l.in[u]
	if w == nil {
		w = &inWindow{start: now}
		l.in[u] = w
	}
	if now.Sub(w.start) >= win {
		w.start, w.n = now, 0
	}
	if w.n < max {
		w.n++
		return true
	}
	w.dropped++
	if !w.scheduled {
		w.scheduled = true
		c.after(w.start.Add(win).Sub(now), u, func(context.Context) { c.reportDropped(user) })
	}
	return false
}

// reportDropped tells user how many legacy messages were dropped since the
// last such notice. It runs in the user's lane.
func (c *Component) reportDropped(user jid.JID) {
	l := &c.lim
	l.inMu.Lock()
	n := 0
	if w := l.in[user.String()]; w != nil {
		n, w.dropped, w.scheduled = w.dropped, 0, false
	}
	l.inMu.Unlock()
	if n == 0 {
		return
	}
	c.log.Info("incoming messages dropped by the rate limit", "user", user.String(), "count", n)
	c.sendText(user, dropNotice(n, c.net.Identity().Name, c.incomingPerMinute()))
}

func dropNotice(n int, network string, max int) string {
	return fmt.Sprintf("%d %s from %s %s dropped: this gateway delivers at most %d messages a minute to you.",
		n, plural(n, "message", "messages"), network, plural(n, "was", "were"), max)
}

func (c *Component) roomsPerUser() int {
	if c.cfg.RoomsPerUser > 0 {
		return c.cfg.RoomsPerUser
	}
	return 50
}

// admit runs job for the sender of s in their lane, or answers s with
// resource-constraint when maxQueued of their stanzas are waiting already.
func (c *Component) admit(s *stanza.In, job func()) {
	if c.replays.is(s.Element) {
		// Taken once already, and bounded by the journal's cap.
		c.lanes.Post(c.ctx(), s.From.Bare().String(), func(context.Context) { job() })
		return
	}
	if c.lanes.TryPost(c.ctx(), s.From.Bare().String(), func(context.Context) { job() }) {
		return
	}
	c.log.Info("stanza refused: too much work queued", "user", s.From.Bare().String(), "max", maxQueued)
	e := stanzaerr.New("wait", "resource-constraint", "Too many of your requests are waiting (%d); send this again in a moment.", maxQueued)
	if s.Name.Local == "presence" && s.Type == "" && s.Child(nsMUC, "x") != nil && s.To.Localpart() != "" {
		c.mucError(s, e)
		return
	}
	c.replyError(s.Element, e)
}
