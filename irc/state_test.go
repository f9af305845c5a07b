package irc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/lrstanley/girc"
	"golang.org/x/time/rate"

	"github.com/switchboard-im/switchboard/transports"
)

// The per-connection state that exists only while it is used is released
// when it is not, and made again, working, when it is needed again.

// stateConn is testConn with the adapter's account store.
func stateConn(t *testing.T, store transports.Store) *conn {
	t.Helper()
	n := New(Config{DefaultServer: "irc.test"})
	a := n.newAdapter(transports.Account{User: "u@example.org", Store: store}, transports.SinkFunc(func(transports.Event) {}))
	t.Cleanup(func() { a.Close() })
	c := newConn(a, "irc.test", "me", "")
	c.nick = "me"
	return c
}

func parsed(t *testing.T, line string) *girc.Event {
	t.Helper()
	e := girc.ParseEvent(line)
	if e == nil {
		t.Fatalf("unparsable %q", line)
	}
	return e
}

// A channel's bookmark state is an entry while it holds something, and
// the adapter's slice is nil once no channel has one.
func TestChanMarksReleased(t *testing.T) {
	key := markStoreKey("irc.test", "#c")
	tests := []struct {
		name  string
		store bool
		lines []string // in the order the connection handles them
		// after the lines: whether the channel has an entry, is in, and
		// whether a replay is due or open
		entry, in, due, open bool
	}{
		{name: "joined", lines: []string{":me!u@h JOIN #c"}, entry: true, in: true, due: true},
		{name: "joined, a live line", lines: []string{":me!u@h JOIN #c", "@msgid=a1 :bob!b@h PRIVMSG #c :hi"}, entry: true, in: true},
		{name: "joined and left", lines: []string{":me!u@h JOIN #c", ":me!u@h PART #c"}},
		{name: "joined and kicked", lines: []string{":me!u@h JOIN #c", ":op!o@h KICK #c me :out"}},
		{name: "a replay opened", lines: []string{":me!u@h JOIN #c", "BATCH +r1 chathistory #c"}, entry: true, in: true, open: true},
		{name: "a replay opened and closed", lines: []string{":me!u@h JOIN #c", "BATCH +r1 chathistory #c", "BATCH -r1"}, entry: true, in: true},
		{name: "left during the replay", lines: []string{":me!u@h JOIN #c", "BATCH +r1 chathistory #c", ":me!u@h PART #c", "BATCH -r1"}},
		// The deletion to store is an entry until it is written (by
		// the writer goroutine, or at the latest by Close).
		{name: "stored: joined and left", store: true, lines: []string{":me!u@h JOIN #c", ":me!u@h PART #c"}},
		{name: "stored: joined", store: true, lines: []string{":me!u@h JOIN #c"}, entry: true, in: true, due: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var store *mapStore
			var c *conn
			if tt.store {
				store = &mapStore{m: map[string][]byte{}}
				c = stateConn(t, store)
			} else {
				c = stateConn(t, nil)
			}
			for _, l := range tt.lines {
				e := parsed(t, l)
				if e.Command == "BATCH" {
					c.onReplayLine(e)
					continue
				}
				c.watchReplay(e)
			}
			m := &c.a.marks
			m.mu.Lock()
			st := m.get(key)
			entry, in, due := st != nil, st != nil && st.in, st != nil && st.due
			open := len(m.batches) > 0
			nilChans, nilBatches := m.chans == nil, m.batches == nil
			m.mu.Unlock()
			if tt.store && !tt.in {
				entry = false // written yet or not, as the writer's pace has it
			}
			if entry != tt.entry || in != tt.in || due != tt.due || open != tt.open {
				t.Errorf("entry %v, in %v, due %v, replay open %v; want %v, %v, %v, %v", entry, in, due, open, tt.entry, tt.in, tt.due, tt.open)
			}
			if !entry && !nilChans && !tt.store {
				t.Error("no channel has state, and the slice is kept")
			}
			if !open && !nilBatches {
				t.Error("no replay is open, and the map is kept")
			}
			if !tt.store {
				return
			}
			c.a.Close() // writes the bookmarks
			m.mu.Lock()
			left := len(m.chans)
			m.mu.Unlock()
			if left != map[bool]int{true: 1, false: 0}[tt.in] {
				t.Errorf("%d entries after the bookmarks were written, want one only for a channel the user is in", left)
			}
			store.mu.Lock()
			v, ok := store.m[key]
			store.mu.Unlock()
			if !ok || (len(v) == 0) == tt.in {
				t.Errorf("stored bookmark %q (written: %v), want it deleted (empty) when not in the channel", v, ok)
			}
		})
	}
}

// A bookmark entry made again after its release works as the first did.
func TestChanMarksRejoin(t *testing.T) {
	c := stateConn(t, nil)
	key := markStoreKey("irc.test", "#c")
	for round := range 3 {
		c.watchReplay(parsed(t, ":me!u@h JOIN #c"))
		c.watchReplay(parsed(t, fmt.Sprintf("@msgid=m%d :bob!b@h PRIVMSG #c :hi", round)))
		m := &c.a.marks
		m.mu.Lock()
		mark, in := m.cur(key)
		m.mu.Unlock()
		if !in || mark.msgid != fmt.Sprintf("m%d", round) {
			t.Fatalf("round %d: bookmark %+v (in %v), want at m%d", round, mark, in, round)
		}
		c.watchReplay(parsed(t, ":me!u@h PART #c"))
		m.mu.Lock()
		released := m.chans == nil
		m.mu.Unlock()
		if !released {
			t.Fatalf("round %d: the channels' state kept after the part", round)
		}
	}
}

func TestCapSet(t *testing.T) {
	seen := map[capSet]string{}
	for name, bit := range capBits {
		if bit == 0 || bit&(bit-1) != 0 {
			t.Errorf("%s has bits %b, want one", name, bit)
		}
		if other, dup := seen[bit]; dup {
			t.Errorf("%s and %s share a bit", name, other)
		}
		seen[bit] = name
	}
	if _, ok := capBits["sasl"]; !ok {
		t.Error("sasl has no bit")
	}
	tests := []struct {
		add, del []string
		has      map[string]bool
	}{
		{add: nil, has: map[string]bool{"sasl": false, "echo-message": false}},
		{add: []string{"echo-message", "sasl"}, has: map[string]bool{"sasl": true, "echo-message": true, "message-tags": false}},
		{add: []string{"echo-message", "echo-message"}, del: []string{"echo-message"}, has: map[string]bool{"echo-message": false}},
		{add: []string{redactCap, "message-tags"}, del: []string{"message-tags"}, has: map[string]bool{redactCap: true, "message-tags": false}},
		{add: []string{"not-requested"}, has: map[string]bool{"not-requested": false, "sasl": false}},
		{add: []string{"batch"}, del: []string{"not-requested"}, has: map[string]bool{"batch": true}},
	}
	for _, tt := range tests {
		var s capSet
		for _, n := range tt.add {
			s.add(n)
		}
		for _, n := range tt.del {
			s.del(n)
		}
		for name, want := range tt.has {
			if got := s.has(name); got != want {
				t.Errorf("add %v, del %v: has(%s) = %v, want %v", tt.add, tt.del, name, got, want)
			}
		}
	}
}

// The CTCP and typing limiters are made at their first use, and limit
// from then on as the ones made with the connection did.
func TestLazyLimiters(t *testing.T) {
	tests := []struct {
		name  string
		get   func(*conn) *rate.Limiter
		made  func(*conn) bool
		burst int
	}{
		{"ctcp", (*conn).ctcpLimiter, func(c *conn) bool { return c.ctcpLim != nil }, ctcpBurst},
		{"typing", (*conn).typeLimiter, func(c *conn) bool { return c.typeLim != nil }, typeBurst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConn(t)
			c.mu.Lock()
			made := tt.made(c)
			c.mu.Unlock()
			if made {
				t.Fatal("the limiter exists before its first use")
			}
			first := tt.get(c)
			allowed := 0
			for range tt.burst + 3 {
				l := tt.get(c)
				if l != first {
					t.Fatal("a second limiter was made")
				}
				if l.Allow() {
					allowed++
				}
			}
			if allowed != tt.burst {
				t.Errorf("%d allowed at once, want the burst of %d", allowed, tt.burst)
			}
		})
	}
}

// without clears the slot it frees and gives nil for an empty slice.
func TestWithout(t *testing.T) {
	a, b, c := &await{}, &await{}, &await{}
	tests := []struct {
		in   []*await
		i    int
		want []*await
	}{
		{[]*await{a}, 0, nil},
		{[]*await{a, b, c}, 1, []*await{a, c}},
		{[]*await{a, b, c}, 2, []*await{a, b}},
		{[]*await{a, b}, 0, []*await{b}},
	}
	for _, tt := range tests {
		in := fmt.Sprint(tt.in)
		backing := tt.in // the array without works in
		got := without(tt.in, tt.i)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("without(%v, %d) = %v, want %v", in, tt.i, got, tt.want)
		}
		for j := len(got); j < len(backing); j++ {
			if backing[j] != nil {
				t.Errorf("without(%v, %d): the freed slot %d still holds %p", in, tt.i, j, backing[j])
			}
		}
	}
}

// A finished wait leaves nothing behind: the connection's slices are nil
// once the last wait or send is gone.
func TestWaitsReleased(t *testing.T) {
	c := testConn(t)
	w1 := c.addAwait(func(*girc.Event, bool) (bool, error) { return false, nil })
	w2 := c.addAwait(func(*girc.Event, bool) (bool, error) { return false, nil })
	c.removeAwait(w1)
	c.removeAwait(w2)
	e := &echoWait{target: "#c"}
	c.mu.Lock()
	c.echoes = append(c.echoes, e)
	c.mu.Unlock()
	c.dropEcho(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waits != nil || c.echoes != nil {
		t.Errorf("waits %v, echoes %v after the last left, want nil slices", c.waits, c.echoes)
	}
}

// A member's strings are the view's own, not cut from the line: a member
// kept for the channel's life would keep that line.
func TestMemberStringsCloned(t *testing.T) {
	line := ":srv 353 me = #c :bob alice " + strings.Repeat("x", 400)
	nick := line[strings.Index(line, "bob") : strings.Index(line, "bob")+3]
	v := &roomView{members: make(map[string]*member)}
	for _, step := range []struct {
		name string
		m    member
	}{
		{"added", member{nick: nick, account: line[len(line)-5:]}},
		{"updated, spelt otherwise", member{nick: strings.ToUpper(nick), account: line[len(line)-4:]}},
	} {
		v.addMember(step.m)
		for k, m := range v.members {
			for what, s := range map[string]string{"key": k, "nick": m.nick, "account": m.account} {
				if inside(s, line) {
					t.Errorf("%s: the member's %s %q points into the line", step.name, what, s)
				}
			}
		}
	}
}

// inside reports whether s's bytes are part of line's.
func inside(s, line string) bool {
	if s == "" {
		return false
	}
	p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(line)))
	return p >= start && p < start+uintptr(len(line))
}

// The line queue keeps no lines' slice and no wait channel once its
// lines are handled.
func TestLineQueueReleased(t *testing.T) {
	handled := 0
	q := newLineQueue(func(*girc.Event) error { handled++; return nil }, func() { t.Error("abort without a failure") })
	for round := range 3 {
		for i := range lineQueueLen * 2 {
			if !q.push(lineEvent(t, i)) {
				t.Fatal("push refused")
			}
		}
		if err := q.wait(nil); err != nil {
			t.Fatal(err)
		}
		q.mu.Lock()
		lines, room := q.lines, q.room
		q.mu.Unlock()
		if lines != nil || room != nil {
			t.Errorf("round %d: lines %v, room %v kept while none wait", round, lines, room)
		}
	}
	if handled != 3*lineQueueLen*2 {
		t.Errorf("%d lines handled, want %d", handled, 3*lineQueueLen*2)
	}
}

// What the registration gathers over several lines (a CAP LS in several
// lines, the MOTD) is kept only while it is gathered.
func TestRegLinesReleased(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		kept  bool // regLines exist after the lines
		motd  int  // MOTD lines gathered
	}{
		{"LS begun", []string{":srv CAP * LS * :batch echo-message"}, true, 0},
		{"LS ended", []string{":srv CAP * LS * :batch echo-message", ":srv CAP * LS :sasl"}, false, 0},
		{"MOTD begun", []string{":srv 375 me :- srv MOTD -", ":srv 372 me :- hello"}, true, 1},
		{"MOTD begun again", []string{":srv 372 me :- old", ":srv 375 me :- srv MOTD -"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConn(t)
			for _, l := range tt.lines {
				c.handle(*parsed(t, l))
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if (c.reg != nil) != tt.kept {
				t.Fatalf("regLines %+v, want kept %v", c.reg, tt.kept)
			}
			if c.reg != nil && len(c.reg.motd) != tt.motd {
				t.Errorf("%d MOTD lines, want %d", len(c.reg.motd), tt.motd)
			}
		})
	}
	// At the end of the registration the MOTD is shown and dropped.
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "")
	c := scriptedConn(t, a)
	c.mu.Lock()
	reg := c.reg
	c.mu.Unlock()
	if reg != nil {
		t.Errorf("regLines %+v kept after the registration", reg)
	}
}

// An adapter's context ends at end, whether Done was asked before or
// after, once; and a context derived from it ends with it.
func TestEndCtx(t *testing.T) {
	for _, doneFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("Done asked first: ", doneFirst), func(t *testing.T) {
			var c endCtx
			var before <-chan struct{}
			if doneFirst {
				before = c.Done()
			}
			derived, cancel := context.WithTimeout(&c, time.Hour)
			defer cancel()
			if c.Err() != nil || derived.Err() != nil {
				t.Fatalf("ended before end: %v, %v", c.Err(), derived.Err())
			}
			c.end()
			c.end() // again: nothing
			if !errors.Is(c.Err(), context.Canceled) {
				t.Errorf("Err = %v, want Canceled", c.Err())
			}
			for what, ch := range map[string]<-chan struct{}{"Done": c.Done(), "derived": derived.Done()} {
				select {
				case <-ch:
				case <-time.After(5 * time.Second):
					t.Fatalf("%s not closed after end", what)
				}
			}
			if before != nil && before != c.Done() {
				t.Error("Done changed")
			}
			if !errors.Is(derived.Err(), context.Canceled) {
				t.Errorf("derived Err = %v, want Canceled", derived.Err())
			}
		})
	}
}

// An adapter's connections are a small slice, nil once the last is gone.
func TestConnSet(t *testing.T) {
	a := &adapter{}
	one, two, oneAgain := &conn{a: a, server: "one.test"}, &conn{a: a, server: "two.test"}, &conn{a: a, server: "one.test"}
	var s connSet
	steps := []struct {
		name    string
		do      func()
		servers string
		get     map[string]*conn
	}{
		{"put one", func() { s.put(one) }, "[one.test]", map[string]*conn{"one.test": one, "two.test": nil}},
		{"put two", func() { s.put(two) }, "[one.test two.test]", map[string]*conn{"one.test": one, "two.test": two}},
		{"put one again", func() { s.put(oneAgain) }, "[one.test two.test]", map[string]*conn{"one.test": oneAgain}},
		{"drop the replaced one", func() {
			if s.drop(one) {
				t.Error("dropped a connection no longer in the set")
			}
		}, "[one.test two.test]", map[string]*conn{"one.test": oneAgain}},
		{"drop two", func() { s.drop(two) }, "[one.test]", map[string]*conn{"two.test": nil}},
		{"drop the last", func() { s.drop(oneAgain) }, "[]", map[string]*conn{"one.test": nil}},
	}
	for _, st := range steps {
		st.do()
		if got := fmt.Sprint(s.servers()); got != st.servers {
			t.Errorf("%s: servers %s, want %s", st.name, got, st.servers)
		}
		for server, want := range st.get {
			if got := s.get(server); got != want {
				t.Errorf("%s: get(%s) = %p, want %p", st.name, server, got, want)
			}
		}
	}
	if s != nil {
		t.Errorf("the set is %v once empty, want nil", s)
	}
}
