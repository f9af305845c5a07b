package irc

import (
	"strings"
	"sync"
	"time"

	"github.com/lrstanley/girc"
)

// Every user has a connection of their own to an IRC server, and every
// connection in a channel receives the same JOIN, PART, MODE, NICK and
// QUIT lines. Keeping the member list per connection would cost N copies
// of N members for N users in one channel; instead the connections in a
// channel share one roomView, and each keeps only what is its own (its
// nick, whether it is in the channel, whether its user saw the member
// list yet: channel, and its place in the view: viewSub).
//
// The first connection to read a line applies it to the view and records
// what it changed (viewOp); the others, reading the same line later, get
// that record back instead of applying the line again, so that each turns
// it into the same events for its own user as if it kept its own copy.
// A connection matches lines in its own order; one whose lines differ
// from the view's (it missed a line, or the server sent them in another
// order) applies its line itself: every change is idempotent (adding a
// present member, removing an absent one, setting a held mode), so the
// view stays right, and at worst that user misses or repeats one event.

const (
	// viewOpKeep is how long an op all connections saw stays in the log,
	// so that a connection reading its own JOIN after the others finds its
	// place.
	viewOpKeep = 10 * time.Second
	// maxViewOps bounds a view's log whatever the connections' lag: the
	// oldest ops are dropped, and a connection that had not seen them
	// applies their lines itself.
	maxViewOps = 1024
)

// roomViews holds a Network's shared channel views, by server and folded
// channel name. Its lock is taken before a view's.
type roomViews struct {
	mu sync.Mutex
	m  map[viewKey]*roomView
}

type viewKey struct{ server, channel string }

// roomView is one IRC channel as every connection in it sees it: members
// with their status modes, and the topic. Its fields are guarded by mu,
// which is taken after a connection's own lock, never before.
type roomView struct {
	views *roomViews
	key   viewKey

	mu      sync.Mutex
	subs    int                // connections subscribed
	members map[string]*member // by folded nick
	topic   string
	topicBy string
	topicAt time.Time
	authors authorLog // who wrote the latest messages (redact.go)
	base    uint64    // sequence number of log[0]
	log     []*viewOp // lines applied, oldest first
}

// viewOp is one line applied to a view: its identity, what it changed,
// and how many subscribed connections have yet to read it.
type viewOp struct {
	line    string
	at      time.Time
	pending int
	changed []member // the members it changed: as after it, or as before it for one who left
}

// viewSub is one connection's place in a view: the sequence number of the
// next op it expects, and up to which ops its user already saw the result
// (the member list it got on joining came from the view).
type viewSub struct {
	v     *roomView
	pos   uint64
	quiet uint64
}

// head is the sequence number of the next op. Call with v.mu held.
func (v *roomView) head() uint64 { return v.base + uint64(len(v.log)) }

// subscribe enters the connection whose own JOIN line is join into the
// view of channel (folded) on server, creating the view for the first
// one. self adds the connection's nick as a member where no other
// connection did already.
func (vs *roomViews) subscribe(server, channel, join string, self member) *viewSub {
	vs.mu.Lock()
	k := viewKey{server, channel}
	v := vs.m[k]
	if v == nil {
		if vs.m == nil {
			vs.m = make(map[viewKey]*roomView)
		}
		v = &roomView{views: vs, key: k, members: make(map[string]*member)}
		vs.m[k] = v
	}
	v.mu.Lock()
	vs.mu.Unlock()
	defer v.mu.Unlock()
	v.subs++
	s := &viewSub{v: v}
	// Others in the channel may have read this JOIN already: the
	// connection's place is right after it, and it reads what followed.
	for i := len(v.log) - 1; i >= 0; i-- {
		if v.log[i].line == join {
			for _, op := range v.log[i+1:] {
				op.pending++
			}
			s.pos = v.base + uint64(i) + 1
			return s
		}
	}
	v.addMember(self)
	v.record(join, 1, []member{self})
	s.pos = v.head()
	return s
}

// close takes the connection out of the view; the last one out drops it.
func (s *viewSub) close() {
	if s == nil || s.v == nil {
		return
	}
	v := s.v
	s.v = nil
	v.views.mu.Lock()
	defer v.views.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := s.pos; i < v.head(); i++ {
		if i >= v.base {
			v.log[i-v.base].pending--
		}
	}
	v.subs--
	if v.subs <= 0 {
		delete(v.views.m, v.key)
		v.members, v.log = nil, nil
		return
	}
	v.trim(time.Now())
}

// record appends an op that the applying connection (and reader others
// that read it on subscribing) saw already. Call with v.mu held.
func (v *roomView) record(line string, seen int, changed []member) {
	now := time.Now()
	v.log = append(v.log, &viewOp{line: line, at: now, pending: v.subs - seen, changed: changed})
	v.trim(now)
}

// trim drops the ops every connection read that are older than viewOpKeep,
// and the oldest beyond maxViewOps. Call with v.mu held.
func (v *roomView) trim(now time.Time) {
	n := 0
	for n < len(v.log) && (len(v.log)-n > maxViewOps || v.log[n].pending <= 0 && now.Sub(v.log[n].at) > viewOpKeep) {
		n++
	}
	if n == 0 {
		return
	}
	clear(v.log[:n])
	v.log = v.log[n:]
	v.base += uint64(n)
	if len(v.log) == 0 {
		v.log = nil
	}
}

// apply runs one line (its identity line) through the view for this
// connection. If another connection applied the same line already, its
// record is returned; otherwise change applies it (with v.mu held) and
// returns the members it changed, and when also is false and nothing
// changed, nothing is recorded (a QUIT or NICK of someone not in this
// channel). quiet reports that the user already saw the result.
func (s *viewSub) apply(line string, also bool, change func(v *roomView) []member) (changed []member, quiet bool) {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if s.pos < v.base {
		s.pos = v.base // its ops were dropped (maxViewOps)
	}
	for i := s.pos; i < v.head(); i++ {
		op := v.log[i-v.base]
		if op.line != line {
			continue
		}
		// Ops it skipped are ones it will not read (another order, or
		// lines it never got): it no longer holds them up.
		for j := s.pos; j < i; j++ {
			v.log[j-v.base].pending--
		}
		op.pending--
		quiet = i < s.quiet
		s.pos = i + 1
		v.trim(time.Now())
		return op.changed, quiet
	}
	changed = change(v)
	if changed == nil && !also {
		return nil, false
	}
	// A line the view has not seen: the ops this connection had not read
	// are ones it will not read in this order (or never got); it passes
	// them, and would apply them itself should they come.
	for i := s.pos; i < v.head(); i++ {
		v.log[i-v.base].pending--
	}
	v.record(line, 1, changed)
	s.pos = v.head()
	return changed, false
}

// member returns the member nick of the view.
func (s *viewSub) member(nick string) (member, bool) {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if m := v.members[FoldName(nick)]; m != nil {
		return *m, true
	}
	return member{}, false
}

// members returns a copy of the view's members, by folded nick.
func (s *viewSub) members() map[string]member {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]member, len(v.members))
	for k, m := range v.members {
		out[k] = *m
	}
	return out
}

// ahead reports whether the view holds ops this connection has not read:
// what it would learn about the channel's state from its own numerics
// (names, topic on joining) is older than the view's, and is not applied.
func (s *viewSub) ahead() bool {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	return s.pos < v.head()
}

// synced marks that the user now saw the view as it is: the ops not read
// yet make no events when read.
func (s *viewSub) synced() {
	v := s.v
	v.mu.Lock()
	s.quiet = v.head()
	v.mu.Unlock()
}

// addMember adds or updates m (by nick). Call with v.mu held.
//
// What it keeps is cloned, the key too: m's strings are cut from a line
// the server sent, which a member kept for the channel's life would keep
// whole (one per member, and the last connection's to update it).
func (v *roomView) addMember(m member) *member {
	k := FoldName(m.nick)
	if old := v.members[k]; old != nil {
		if old.nick != m.nick {
			old.nick = strings.Clone(m.nick)
		}
		if m.account != "" && old.account != m.account {
			old.account = strings.Clone(m.account)
		}
		return old
	}
	if len(v.members) >= maxMembers {
		return nil
	}
	nm := m
	nm.nick = strings.Clone(m.nick)
	nm.account = strings.Clone(m.account)
	v.members[FoldName(nm.nick)] = &nm // k may be m.nick itself
	return &nm
}

// lineKey identifies a line as every connection receives it: source,
// command and parameters (tags left out).
func lineKey(e *girc.Event) string {
	var b strings.Builder
	b.WriteString(e.Command)
	if e.Source != nil {
		b.WriteByte(' ')
		b.WriteString(e.Source.Name)
		b.WriteByte('!')
		b.WriteString(e.Source.Ident)
		b.WriteByte('@')
		b.WriteString(e.Source.Host)
	}
	for _, p := range e.Params {
		b.WriteByte(0)
		b.WriteString(p)
	}
	return b.String()
}
