package irc

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// viewUser is one user's connection to irc.test without a server behind
// it: the test feeds it the lines a server would send, and it records the
// events its user gets.
type viewUser struct {
	c *conn

	mu  sync.Mutex
	evs []transports.Event
}

// viewUsers returns connections of different users of one Network, with
// the given nicks, registered and in no channel.
func viewUsers(t *testing.T, n *Network, nicks ...string) []*viewUser {
	t.Helper()
	var us []*viewUser
	for _, nick := range nicks {
		u := &viewUser{}
		a := n.newAdapter(transports.Account{User: nick + "@example.org"}, transports.SinkFunc(func(ev transports.Event) {
			u.mu.Lock()
			u.evs = append(u.evs, ev)
			u.mu.Unlock()
		}))
		u.c = newConn(a, "irc.test", nick, "")
		u.c.nick, u.c.registered, u.c.everUp = nick, true, true
		us = append(us, u)
	}
	return us
}

func (u *viewUser) feed(lines ...string) {
	for _, l := range lines {
		u.c.handle(*girc.ParseEvent(l))
	}
}

// join makes the user join ch: its JOIN, the names (names: the NAMES
// list as the server sends it), the end of the list.
func (u *viewUser) join(ch, names string) {
	u.c.mu.Lock()
	u.c.channels[FoldName(ch)] = &channel{name: ch, id: transports.ID(ch), want: true}
	u.c.mu.Unlock()
	nick := u.c.nick
	u.feed(":"+nick+"!u@h JOIN "+ch, ":srv 353 "+nick+" = "+ch+" :"+names, ":srv 366 "+nick+" "+ch+" :End")
}

// events returns the user's events since the last call, as text, leaving
// out those of joining (occupants listed, ready, subject).
func (u *viewUser) events() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, ev := range u.evs {
		switch ev := ev.(type) {
		case *transports.OccupantEvent:
			s := string(ev.Room) + " " + ev.Nick
			switch {
			case ev.NewNick != "":
				s += " is now " + ev.NewNick
			case ev.Left:
				s += " left"
			default:
				s += " " + [...]string{"none", "visitor", "participant", "moderator"}[ev.Role] +
					"/" + [...]string{"none", "member", "admin", "owner", "outcast"}[ev.Affiliation]
			}
			if ev.Presence.Show != transports.Available {
				s += " away"
			}
			out = append(out, s)
		case *transports.SubjectEvent:
			out = append(out, string(ev.Room)+" subject "+ev.Subject)
		}
	}
	u.evs = nil
	return out
}

// members lists a channel's members as the user's connection sees them,
// sorted: nick and modes.
func (u *viewUser) members(ch string) []string {
	u.c.mu.Lock()
	c := u.c.channels[FoldName(ch)]
	u.c.mu.Unlock()
	if c == nil || c.sub == nil {
		return nil
	}
	var out []string
	for _, m := range c.sub.members() {
		out = append(out, m.nick+"+"+m.prefixes)
	}
	slices.Sort(out)
	return out
}

func viewCount(n *Network) int {
	n.views.mu.Lock()
	defer n.views.mu.Unlock()
	return len(n.views.m)
}

// Three users in one channel read the same lines, in several orders:
// each user gets the events it would get with a copy of its own, and the
// channel is held once.
func TestSharedViewIdempotent(t *testing.T) {
	lines := []string{
		":dave!d@h JOIN #c",
		":bob!b@h MODE #c +o dave",
		":dave!d@h NICK dan",
		":carol!c@h PART #c :bye",
		":bob!b@h TOPIC #c :new topic",
		":bob!b@h MODE #c -o+v dan dan",
		":dan!d@h AWAY :lunch",
	}
	want := []string{
		"#c dave participant/none",
		"#c dave moderator/admin",
		"#c dave is now dan",
		"#c carol left",
		"#c subject new topic",
		"#c dan participant/member",
		"#c dan participant/member",
		"#c dan participant/member away",
	}
	orders := []struct {
		name string
		feed func(us []*viewUser)
	}{
		{"first user leads", func(us []*viewUser) {
			for _, u := range us {
				u.feed(lines...)
			}
		}},
		{"last user leads", func(us []*viewUser) {
			for i := len(us) - 1; i >= 0; i-- {
				us[i].feed(lines...)
			}
		}},
		{"line by line", func(us []*viewUser) {
			for _, l := range lines {
				for _, u := range us {
					u.feed(l)
				}
			}
		}},
		{"concurrently", func(us []*viewUser) {
			var wg sync.WaitGroup
			for _, u := range us {
				wg.Add(1)
				go func() {
					defer wg.Done()
					u.feed(lines...)
				}()
			}
			wg.Wait()
		}},
	}
	for _, tt := range orders {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Config{DefaultServer: "irc.test"})
			us := viewUsers(t, n, "u1", "u2", "u3")
			us[0].join("#c", "u1 @bob carol")
			us[0].feed(":u2!u@h JOIN #c")
			us[1].join("#c", "u1 u2 @bob carol")
			us[0].feed(":u3!u@h JOIN #c")
			us[1].feed(":u3!u@h JOIN #c")
			us[2].join("#c", "u1 u2 u3 @bob carol")
			for _, u := range us {
				u.events()
			}
			tt.feed(us)
			for _, u := range us {
				if got := u.events(); !slices.Equal(got, want) {
					t.Errorf("%s got\n%s\nwant\n%s", u.c.nick, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			if got, want := us[2].members("#c"), []string{"bob+o", "dan+v", "u1+", "u2+", "u3+"}; !slices.Equal(got, want) {
				t.Errorf("members = %v, want %v", got, want)
			}
			if c := viewCount(n); c != 1 {
				t.Errorf("%d views, want 1", c)
			}
		})
	}
}

// A user who joins after others gets the members from the view as it is,
// and the lines the others read before it (already in what it was shown)
// make no event for it.
func TestSharedViewLateJoiner(t *testing.T) {
	n := New(Config{DefaultServer: "irc.test"})
	us := viewUsers(t, n, "u1", "u2")
	us[0].join("#c", "u1 bob carol")
	us[0].events()
	us[0].feed(":u2!u@h JOIN #c", ":bob!b@h MODE #c +v carol")
	// u2's names reply was sent before the MODE line.
	us[1].join("#c", "u1 u2 bob carol")
	got := us[1].events()
	slices.Sort(got)
	if want := []string{"#c bob participant/none", "#c carol participant/member", "#c subject ", "#c u1 participant/none"}; !slices.Equal(got, want) {
		t.Errorf("u2's join = %q, want %q", got, want)
	}
	us[1].feed(":bob!b@h MODE #c +v carol")
	if got := us[1].events(); len(got) != 0 {
		t.Errorf("u2 got %v for what its member list showed", got)
	}
	if got, want := us[1].members("#c"), []string{"bob+", "carol+v", "u1+", "u2+"}; !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
	us[0].u(t, "u2 joined and carol got voice", "#c u2 participant/none", "#c carol participant/member")
}

// u checks a user's events.
func (u *viewUser) u(t *testing.T, what string, want ...string) {
	t.Helper()
	if got := u.events(); !slices.Equal(got, want) {
		t.Errorf("%s: %s got %q, want %q", what, u.c.nick, got, want)
	}
}

// The view goes when its last connection leaves: by parting, by being
// kicked, or by losing the connection.
func TestSharedViewReleasedByLastOut(t *testing.T) {
	n := New(Config{DefaultServer: "irc.test"})
	us := viewUsers(t, n, "u1", "u2", "u3")
	us[0].join("#c", "u1 bob")
	us[0].feed(":u2!u@h JOIN #c")
	us[1].join("#c", "u1 u2 bob")
	us[0].feed(":u3!u@h JOIN #c")
	us[1].feed(":u3!u@h JOIN #c")
	us[2].join("#c", "u1 u2 u3 bob")

	us[0].c.mu.Lock()
	us[0].c.channels["#c"].leaving = true
	us[0].c.mu.Unlock()
	for _, u := range us {
		u.feed(":u1!u@h PART #c")
	}
	if c := viewCount(n); c != 1 {
		t.Fatalf("%d views after one part, want 1", c)
	}
	if got, want := us[1].members("#c"), []string{"bob+", "u2+", "u3+"}; !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
	us[1].c.lost(errors.New("gone"))
	if c := viewCount(n); c != 1 {
		t.Fatalf("%d views after a lost connection, want 1", c)
	}
	us[2].feed(":bob!b@h KICK #c u3 :out")
	if c := viewCount(n); c != 0 {
		t.Fatalf("%d views after the last one was kicked, want 0", c)
	}
	// Joining again starts a new view from the names reply.
	us[2].join("#c", "u3 @bob")
	if got, want := us[2].members("#c"), []string{"bob+o", "u3+"}; !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
}

// A QUIT reaches every channel the one who quit was in, once per
// channel, for each user in them; a NICK likewise.
func TestSharedViewQuitAndNickAcrossChannels(t *testing.T) {
	n := New(Config{DefaultServer: "irc.test"})
	us := viewUsers(t, n, "u1", "u2")
	us[0].join("#a", "u1 bob")
	us[0].join("#b", "u1 bob carol")
	us[0].feed(":u2!u@h JOIN #a")
	us[1].join("#a", "u1 u2 bob")
	us[0].feed(":u2!u@h JOIN #b")
	us[1].join("#b", "u1 u2 bob carol")
	us[0].events()
	us[1].events()
	for _, u := range us {
		u.feed(":carol!c@h NICK caro", ":bob!b@h QUIT :bye")
	}
	for _, u := range us {
		got := u.events()
		slices.Sort(got)
		want := []string{"#a bob left", "#b bob left", "#b carol is now caro"}
		if !slices.Equal(got, want) {
			t.Errorf("%s got %q, want %q", u.c.nick, got, want)
		}
	}
	if got, want := us[1].members("#a"), []string{"u1+", "u2+"}; !slices.Equal(got, want) {
		t.Errorf("#a members = %v, want %v", got, want)
	}
	if got, want := us[1].members("#b"), []string{"caro+", "u1+", "u2+"}; !slices.Equal(got, want) {
		t.Errorf("#b members = %v, want %v", got, want)
	}
}

// A netsplit: many members quit at once; every user sees each leave
// once, and the views' logs empty once every connection read them.
func TestSharedViewMassQuit(t *testing.T) {
	n := New(Config{DefaultServer: "irc.test"})
	nicks := []string{"u1", "u2", "u3"}
	us := viewUsers(t, n, nicks...)
	var others []string
	for i := range 200 {
		others = append(others, "x"+strconv.Itoa(i))
	}
	names := strings.Join(others, " ")
	for i, u := range us {
		for _, prev := range us[:i] {
			prev.feed(":" + u.c.nick + "!u@h JOIN #c")
		}
		u.join("#c", strings.Join(nicks[:i+1], " ")+" "+names)
	}
	for _, u := range us {
		u.events()
	}
	var quits []string
	for _, x := range others {
		quits = append(quits, ":"+x+"!x@h QUIT :*.net *.split")
	}
	var wg sync.WaitGroup
	for _, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.feed(quits...)
		}()
	}
	wg.Wait()
	for _, u := range us {
		if got := u.events(); len(got) != len(others) {
			t.Errorf("%s got %d events, want %d leaves", u.c.nick, len(got), len(others))
		}
		if got := u.members("#c"); !slices.Equal(got, []string{"u1+", "u2+", "u3+"}) {
			t.Errorf("%s: members = %v", u.c.nick, got)
		}
	}
	v := us[0].c.channels["#c"].sub.v
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, op := range v.log {
		if op.pending != 0 {
			t.Fatalf("op %q still waits for %d connections", op.line, op.pending)
		}
	}
}

// A connection that never gets a line the others applied (another order,
// a line lost) passes it when it reads one the view has not seen: its
// user still gets its events, and the log does not wait for it.
func TestSharedViewDivergence(t *testing.T) {
	n := New(Config{DefaultServer: "irc.test"})
	us := viewUsers(t, n, "u1", "u2")
	us[0].join("#c", "u1 bob carol")
	us[0].feed(":u2!u@h JOIN #c")
	us[1].join("#c", "u1 u2 bob carol")
	us[0].events()
	us[1].events()
	us[0].feed(":bob!b@h MODE #c +v carol") // u2 never gets this one
	us[1].feed(":dave!d@h JOIN #c", ":dave!d@h PART #c")
	us[0].feed(":dave!d@h JOIN #c", ":dave!d@h PART #c")
	us[1].u(t, "dave came and went", "#c dave participant/none", "#c dave left")
	us[0].u(t, "carol's voice, dave came and went", "#c carol participant/member", "#c dave participant/none", "#c dave left")
	v := us[0].c.channels["#c"].sub.v
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, op := range v.log {
		if op.pending > 0 {
			t.Errorf("op %q still waits for %d connections", op.line, op.pending)
		}
	}
}
