package component_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const (
	nsMUC     = "http://jabber.org/protocol/muc"
	nsMUCUser = "http://jabber.org/protocol/muc#user"
	testRoom  = "#test@" + gw
)

// roomUser logs in a registered user of the rooms network and returns the
// client and the user's adapter.
func roomUser(t *testing.T, e *env, local string) (*testenv.Client, *transportstest.Adapter) {
	t.Helper()
	c := e.user(t, local, "pc", 0)
	e.register(t, c)
	return c, e.adapter(t, local+"@localhost")
}

func join(t *testing.T, c *testenv.Client, room, nick, inner string) {
	t.Helper()
	c.Send(t, `<presence to="`+room+`/`+nick+`"><x xmlns="`+nsMUC+`">`+inner+`</x></presence>`)
}

func fromRoom(room string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool { return bareOf(el.Attr("from")) == room }
}

// codes returns the MUC status codes of a presence.
func codes(el *testenv.Element) []int {
	var out []int
	x := el.Child(nsMUCUser, "x")
	if x == nil {
		return nil
	}
	for _, ch := range x.ChildrenNamed("", "status") {
		n, _ := strconv.Atoi(ch.Attr("code"))
		out = append(out, n)
	}
	return out
}

func hasCodes(el *testenv.Element, want ...int) bool {
	got := codes(el)
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func isSelfPresence(from string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return isStanza(el, "presence") && el.Attr("from") == from && el.Attr("type") == "" && hasCodes(el, 110)
	}
}

func isSubject(room string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return isStanza(el, "message") && bareOf(el.Attr("from")) == room && el.Child("", "subject") != nil && el.Child("", "body") == nil
	}
}

func isGroupchat(from, body string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "groupchat" && el.Attr("from") == from && bodyOf(el) == body
	}
}

// joinAndSync joins and waits for the subject, which ends the join.
func joinAndSync(t *testing.T, c *testenv.Client, room, nick string) {
	t.Helper()
	join(t, c, room, nick, "")
	c.Expect(t, "self-presence in "+room, isSelfPresence(room+"/"+nick))
	c.Expect(t, "subject of "+room, isSubject(room))
}

// drain claims every stanza c received so far (and within 200ms).
func drain(c *testenv.Client) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := c.Next(ctx, func(*testenv.Element) bool { return true })
		cancel()
		if err != nil {
			return
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMUCJoinOrder(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	then := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	e.net.SeedRoom("#test", transportstest.RoomSeed{
		Occupants: []transports.OccupantEvent{
			{Nick: "alice", Role: transports.RoleModerator, Affiliation: transports.AffiliationAdmin},
			{Nick: "bob", Role: transports.RoleParticipant, Presence: transports.Presence{Show: transports.Away, Status: "lunch"}},
		},
		Topic: "Welcome to the test", TopicBy: "alice",
		History: []transports.MessageEvent{
			{Nick: "alice", Body: "old one", RemoteID: "h1", Time: then},
			{Nick: "bob", Body: "old two", RemoteID: "h2", Time: then.Add(time.Minute)},
			{Nick: "bob", Body: "old three", RemoteID: "h3", Time: then.Add(2 * time.Minute)},
		},
	})
	c, a := roomUser(t, e, "uma")
	join(t, c, testRoom, "uma", `<history maxstanzas="2"/>`)

	var seq []*testenv.Element
	for {
		el := c.Expect(t, "join stanzas", fromRoom(testRoom))
		seq = append(seq, el)
		if isSubject(testRoom)(el) {
			break
		}
	}
	var got []string
	for _, el := range seq {
		got = append(got, el.Name.Local+" "+el.Attr("from"))
	}
	want := []string{
		"presence " + testRoom + "/alice",
		"presence " + testRoom + "/bob",
		"presence " + testRoom + "/uma",
		"message " + testRoom + "/bob", // history: the last two
		"message " + testRoom + "/bob",
		"message " + testRoom + "/alice", // the subject, set by alice
	}
	if !slices.Equal(got, want) {
		t.Fatalf("join sequence:\n got %q\nwant %q", got, want)
	}
	if it := seq[0].Find(xMUCUser, "item"); it == nil || it.Attr("role") != "moderator" || it.Attr("affiliation") != "admin" || it.Attr("jid") != "" {
		t.Errorf("alice's item: %s", seq[0])
	}
	if seq[1].ChildText("", "show") != "away" || seq[1].ChildText("", "status") != "lunch" {
		t.Errorf("bob's presence: %s", seq[1])
	}
	if !hasCodes(seq[2], 110) || hasCodes(seq[2], 210) {
		t.Errorf("self-presence codes %v: %s", codes(seq[2]), seq[2])
	}
	if bodyOf(seq[3]) != "old two" || bodyOf(seq[4]) != "old three" {
		t.Errorf("history: %s / %s", seq[3], seq[4])
	}
	d := seq[3].Child("urn:xmpp:delay", "delay")
	if d == nil || d.Attr("from") != testRoom || !strings.HasPrefix(d.Attr("stamp"), then.Add(time.Minute).Format("2006-01-02T15:04:05")) {
		t.Errorf("history delay: %s", seq[3])
	}
	if seq[5].ChildText("", "subject") != "Welcome to the test" {
		t.Errorf("subject: %s", seq[5])
	}
	if !a.Joined("#test") || a.Nick("#test") != "uma" {
		t.Errorf("legacy room not joined: %v %q", a.Joined("#test"), a.Nick("#test"))
	}

	// Someone speaks; the stanza-id is the legacy ID.
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "alice", Body: "hello uma", RemoteID: "r1"})
	m := c.Expect(t, "alice's message", isGroupchat(testRoom+"/alice", "hello uma"))
	if sid := m.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Attr("id") != "r1" || sid.Attr("by") != testRoom {
		t.Errorf("stanza-id: %s", m)
	}
	if m.Child("urn:xmpp:delay", "delay") != nil {
		t.Errorf("a live message has a delay: %s", m)
	}
	// An action and a notice.
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "waves", Action: true})
	c.Expect(t, "action", isGroupchat(testRoom+"/bob", "/me waves"))
	// A subject change.
	a.Emit(&transports.SubjectEvent{Room: "#test", Subject: "New topic", Nick: "bob"})
	c.Expect(t, "subject change", func(el *testenv.Element) bool {
		return isSubject(testRoom)(el) && el.ChildText("", "subject") == "New topic" && el.Attr("from") == testRoom+"/bob"
	})
	// A notice about the room comes from the room itself.
	a.Emit(&transports.NoticeEvent{About: "#test", Text: "Channel mode +n"})
	c.Expect(t, "room notice", isGroupchat(testRoom, "Channel mode +n"))
}

func TestMUCNickChangedByServer(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c, _ := roomUser(t, e, "uma")
	long := "averyveryverylongnickname"
	join(t, c, testRoom, long, "")
	short := long[:transportstest.MaxNickLen]
	self := c.Expect(t, "self-presence under the server's nick", isSelfPresence(testRoom+"/"+short))
	if !hasCodes(self, 110, 210) {
		t.Errorf("codes %v, want 110 and 210: %s", codes(self), self)
	}
	c.Expect(t, "subject", isSubject(testRoom))
}

func TestMUCTwoResources(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	j := e.p.CreateUser(t, "vic", "xmpp-pw")
	pc := e.p.Login(t, j, "xmpp-pw", "pc", 5)
	e.register(t, pc)
	a := e.adapter(t, "vic@localhost")
	phone := e.p.Login(t, j, "xmpp-pw", "phone", 1)

	joinAndSync(t, pc, testRoom, "vic")
	drain(pc)
	// The second resource gets the state from the component's cache.
	join(t, phone, testRoom, "vic", "")
	phone.Expect(t, "alice at the phone", func(el *testenv.Element) bool {
		return isStanza(el, "presence") && el.Attr("from") == testRoom+"/alice"
	})
	phone.Expect(t, "self-presence at the phone", isSelfPresence(testRoom+"/vic"))
	phone.Expect(t, "subject at the phone", isSubject(testRoom))
	if js := a.Joins(); len(js) != 1 {
		t.Errorf("JoinRoom called %d times, want 1 (cache): %v", len(js), js)
	}
	pc.ExpectNone(t, 300*time.Millisecond, func(el *testenv.Element) bool {
		return isStanza(el, "presence") && fromRoom(testRoom)(el)
	})

	// A message from one resource is reflected to both, with its id,
	// once: from the network's echo.
	pc.Send(t, `<message type="groupchat" id="g1" to="`+testRoom+`"><body>hi all</body></message>`)
	select {
	case m := <-a.Sent():
		if m.To != "#test" || !m.Room || m.Body != "hi all" || m.ID != "g1" {
			t.Errorf("adapter got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("groupchat never reached the adapter")
	}
	for _, c := range []*testenv.Client{pc, phone} {
		m := c.Expect(t, "reflection", isGroupchat(testRoom+"/vic", "hi all"))
		if m.Attr("id") != "g1" {
			t.Errorf("reflection id = %q, want g1: %s", m.Attr("id"), m)
		}
		if o := m.Child("urn:xmpp:sid:0", "origin-id"); o == nil || o.Attr("id") != "g1" {
			t.Errorf("reflection without origin-id: %s", m)
		}
	}
	pc.ExpectNone(t, 300*time.Millisecond, isGroupchat(testRoom+"/vic", "hi all"))

	// /me is an action.
	phone.Send(t, `<message type="groupchat" id="g2" to="`+testRoom+`"><body>/me dances</body></message>`)
	if m := <-a.Sent(); !m.Action || m.Body != "dances" {
		t.Errorf("action sent as %+v", m)
	}
	pc.Expect(t, "action reflected", isGroupchat(testRoom+"/vic", "/me dances"))

	// The legacy room reaches both.
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "alice", Body: "welcome vic", RemoteID: "r7"})
	for _, c := range []*testenv.Client{pc, phone} {
		c.Expect(t, "alice's message", isGroupchat(testRoom+"/alice", "welcome vic"))
	}

	// A nick change: 303, then the new nick.
	a.Emit(&transports.OccupantEvent{Room: "#test", Nick: "bob", NewNick: "robert", Role: transports.RoleParticipant})
	for _, c := range []*testenv.Client{pc, phone} {
		un := c.Expect(t, "bob's 303", isPresence(testRoom, "unavailable"))
		if un.Attr("from") != testRoom+"/bob" || !hasCodes(un, 303) || un.Find(xMUCUser, "item").Attr("nick") != "robert" {
			t.Errorf("nick change: %s", un)
		}
		c.Expect(t, "robert", func(el *testenv.Element) bool {
			return isStanza(el, "presence") && el.Attr("from") == testRoom+"/robert" && el.Attr("type") == ""
		})
	}

	// A kick: 307 with the reason and the actor.
	a.Emit(&transports.OccupantEvent{Room: "#test", Nick: "robert", Left: true, Kicked: true, By: "alice", Reason: "flood"})
	for _, c := range []*testenv.Client{pc, phone} {
		k := c.Expect(t, "robert kicked", isPresence(testRoom, "unavailable"))
		it := k.Find(xMUCUser, "item")
		if k.Attr("from") != testRoom+"/robert" || !hasCodes(k, 307) || it.ChildText("", "reason") != "flood" || it.Find("actor").Attr("nick") != "alice" {
			t.Errorf("kick: %s", k)
		}
	}

	// Typing in the room.
	a.Emit(&transports.TypingEvent{From: "#test", Room: true, Nick: "alice", State: transports.Composing})
	pc.Expect(t, "alice typing", func(el *testenv.Element) bool {
		return el.Attr("from") == testRoom+"/alice" && el.Child("http://jabber.org/protocol/chatstates", "composing") != nil
	})
	pc.Send(t, `<message type="groupchat" to="`+testRoom+`"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`)
	waitFor(t, "SetTyping", func() bool {
		ts := a.Typings()
		return len(ts) == 1 && ts[0].To == "#test" && ts[0].State == transports.Composing
	})

	// The phone leaves: it alone is told; the room stays joined.
	phone.Send(t, `<presence type="unavailable" to="`+testRoom+`/vic"/>`)
	self := phone.Expect(t, "phone's self-unavailable", isPresence(testRoom, "unavailable"))
	if self.Attr("from") != testRoom+"/vic" || !hasCodes(self, 110) {
		t.Errorf("self-unavailable: %s", self)
	}
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "alice", Body: "still here?"})
	pc.Expect(t, "message after the phone left", isGroupchat(testRoom+"/alice", "still here?"))
	phone.ExpectNone(t, 300*time.Millisecond, isGroupchat(testRoom+"/alice", "still here?"))
	if !a.Joined("#test") || len(a.Left()) != 0 {
		t.Fatalf("legacy room left while a resource is in it")
	}

	// The last resource leaves: so does the legacy room.
	pc.Send(t, `<presence type="unavailable" to="`+testRoom+`/vic"/>`)
	pc.Expect(t, "pc's self-unavailable", isPresence(testRoom, "unavailable"))
	waitFor(t, "LeaveRoom", func() bool { return slices.Equal(a.Left(), []transports.ID{"#test"}) })

	// Sending to a room one is not in.
	pc.Send(t, `<message type="groupchat" id="n1" to="`+testRoom+`"><body>anyone?</body></message>`)
	el := pc.Expect(t, "not in the room", func(el *testenv.Element) bool { return el.Attr("id") == "n1" })
	wantError(t, el, "not-acceptable", "You are not in this room")
}

func TestMUCJoinErrors(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c, _ := roomUser(t, e, "uma")
	joinErr := func(to, id string) *testenv.Element {
		t.Helper()
		c.Send(t, `<presence id="`+id+`" to="`+to+`"><x xmlns="`+nsMUC+`"/></presence>`)
		return c.Expect(t, "error for "+to, func(el *testenv.Element) bool {
			return isStanza(el, "presence") && el.Attr("type") == "error" && el.Attr("id") == id
		})
	}
	el := joinErr("#banned@"+gw+"/uma", "j1")
	wantError(t, el, "forbidden", "Cannot join channel (+b)")
	if el.Attr("from") != "#banned@"+gw+"/uma" {
		t.Errorf("error from %s", el.Attr("from"))
	}
	wantError(t, joinErr(testRoom+"/taken", "j2"), "conflict", "Nickname is already in use")
	wantError(t, joinErr(testRoom+"/alice", "j3"), "conflict", "alice")
	wantError(t, joinErr(testRoom, "j4"), "jid-malformed", "nickname is required")
	wantError(t, joinErr("dave@"+gw+"/uma", "j5"), "item-not-found", "not a room")
	wantError(t, joinErr("irc.example@"+gw+"/uma", "j6"), "item-not-found", "a server")

	// A private message through the room is refused with a pointer.
	joinAndSync(t, c, testRoom, "uma")
	c.Send(t, `<message type="chat" id="p1" to="`+testRoom+`/alice"><body>psst</body></message>`)
	el = c.Expect(t, "PM error", func(el *testenv.Element) bool { return el.Attr("id") == "p1" })
	wantError(t, el, "feature-not-implemented", "alice's own address")
	// Changing nick in a room is refused.
	c.Send(t, `<presence id="n1" to="`+testRoom+`/other"/>`)
	wantError(t, c.Expect(t, "nick change error", func(el *testenv.Element) bool { return el.Attr("id") == "n1" }), "not-acceptable", "nick")
	// Kicked by the network: the user is out of the room.
	e.adapter(t, "uma@localhost").Emit(&transports.OccupantEvent{Room: "#test", Self: true, Left: true, Kicked: true, By: "alice", Reason: "bye"})
	k := c.Expect(t, "kicked self", isPresence(testRoom, "unavailable"))
	if !hasCodes(k, 110, 307) || k.Find(xMUCUser, "item", "reason").Text != "bye" {
		t.Errorf("self kick: %s", k)
	}
	c.Send(t, `<message type="groupchat" id="s1" to="`+testRoom+`"><body>let me back</body></message>`)
	wantError(t, c.Expect(t, "send after kick", func(el *testenv.Element) bool { return el.Attr("id") == "s1" }), "not-acceptable", "not in this room")
	// The stream survived all of it.
	if res := c.IQ(t, `<iq type="get" to="`+gw+`"><ping xmlns="urn:xmpp:ping"/></iq>`); res.Attr("type") != "result" {
		t.Fatalf("component no longer answers: %s", res)
	}
}

func TestMUCAnonymousJoin(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c := e.user(t, "walt", "pc", 0)
	joinAndSync(t, c, testRoom, "walt")
	a := e.adapter(t, "walt@localhost")
	if a.Account().Credentials["anonymous"] != "true" || a.Account().Credentials["nick"] != "walt" {
		t.Errorf("anonymous account = %v", a.Account().Credentials)
	}
	c.Send(t, `<message type="groupchat" id="w1" to="`+testRoom+`"><body>hello from nowhere</body></message>`)
	c.Expect(t, "reflection", isGroupchat(testRoom+"/walt", "hello from nowhere"))
	// Leaving the last room ends the anonymous session.
	c.Send(t, `<presence type="unavailable" to="`+testRoom+`/walt"/>`)
	c.Expect(t, "self-unavailable", isPresence(testRoom, "unavailable"))
	waitFor(t, "the anonymous session to end", a.Closed)
	if !slices.Equal(a.Left(), []transports.ID{"#test"}) {
		t.Errorf("left %v", a.Left())
	}
}

func TestMUCMentionWhileOffline(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	j := e.p.CreateUser(t, "xena", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "xena@localhost")
	ctx := context.Background()
	if err := e.reg.SetSettings(ctx, "xena@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, testRoom, "xena")
	c.Close()
	time.Sleep(3 * time.Second) // the grace period after the last resource left
	if a.Closed() || !a.Joined("#test") || len(a.Left()) != 0 {
		t.Fatalf("bouncer mode: closed=%v joined=%v left=%v\n%s", a.Closed(), a.Joined("#test"), a.Left(), e.logs)
	}
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "chatter nobody needs", RemoteID: "c1"})
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "alice", Body: "xena: are you there?", RemoteID: "c2", Mention: true})
	time.Sleep(300 * time.Millisecond)

	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	m := c2.Expect(t, "offline highlight", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("from") == testRoom+"/alice" && bodyOf(el) == "xena: are you there?"
	})
	if m.Attr("type") != "chat" {
		t.Errorf("highlight type %q: %s", m.Attr("type"), m)
	}
	c2.ExpectNone(t, 500*time.Millisecond, func(el *testenv.Element) bool { return bodyOf(el) == "chatter nobody needs" })

	// Rejoining replays the room from the cache, without a second
	// legacy join.
	joinAndSync(t, c2, testRoom, "xena")
	if js := a.Joins(); len(js) != 1 {
		t.Errorf("JoinRoom called %d times", len(js))
	}
}

// TestMUCAwayBacklog: room chatter while the user is away (bouncer mode,
// a network without history) is kept, bounded, and shown as history with
// delay stamps at the next join, after a count of what the bound let go;
// it is shown once.
func TestMUCAwayBacklog(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	e.net.SeedRoom("#quiet", transportstest.RoomSeed{NoHistory: true})
	const room = "#quiet@" + gw
	j := e.p.CreateUser(t, "zack", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "zack@localhost")
	if err := e.reg.SetSettings(context.Background(), "zack@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, room, "zack")
	c.Close()
	time.Sleep(3 * time.Second) // the grace period after the last resource left
	if !a.Joined("#quiet") {
		t.Fatalf("bouncer mode: the room was left\n%s", e.logs)
	}
	const sent = component.AwayMessages + 5
	for i := range sent {
		a.Emit(&transports.MessageEvent{From: "#quiet", Room: true, Nick: "bob", Body: fmt.Sprintf("line %d", i), RemoteID: transports.RemoteID(fmt.Sprint("q", i))})
	}

	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	join(t, c2, room, "zack", "")
	c2.Expect(t, "self-presence", isSelfPresence(room+"/zack"))
	note := c2.Expect(t, "the count of what was not kept", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("from") == room && strings.Contains(bodyOf(el), "not kept")
	})
	if !strings.HasPrefix(bodyOf(note), "5 earlier messages") {
		t.Errorf("note %q, want it to count 5 messages", bodyOf(note))
	}
	// The default history request is the last defaultHistory messages.
	for i := sent - component.DefaultHistory; i < sent; i++ {
		m := c2.Expect(t, fmt.Sprint("history line ", i), isGroupchat(room+"/bob", fmt.Sprint("line ", i)))
		if d := m.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("stamp") == "" {
			t.Errorf("history line %d without a delay stamp: %s", i, m)
		}
	}
	c2.Expect(t, "subject", isSubject(room))
	c2.ExpectNone(t, 300*time.Millisecond, isGroupchat(room+"/bob", fmt.Sprint("line ", sent-component.DefaultHistory-1)))

	// A second join after the backlog was shown gets no repeat.
	c3 := e.p.Login(t, j, "xmpp-pw", "phone", 0)
	joinAndSync(t, c3, room, "zack")
	c3.ExpectNone(t, 500*time.Millisecond, isGroupchat(room+"/bob", fmt.Sprint("line ", sent-1)))
}

func TestMUCStayConnectedExplicitLeave(t *testing.T) {
	// A user who leaves a room while online really leaves it, even in
	// bouncer mode.
	e := newEnv(t, envOptions{rooms: true})
	c, a := roomUser(t, e, "yves")
	if err := e.reg.SetSettings(context.Background(), "yves@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, testRoom, "yves")
	c.Send(t, `<presence type="unavailable" to="`+testRoom+`/yves"/>`)
	c.Expect(t, "self-unavailable", isPresence(testRoom, "unavailable"))
	waitFor(t, "LeaveRoom after the grace period", func() bool { return len(a.Left()) == 1 })
}

func TestMUCReactions(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c, a := roomUser(t, e, "ann")
	joinAndSync(t, c, testRoom, "ann")
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "alice", Body: "vote!", RemoteID: "v1"})
	c.Expect(t, "message", isGroupchat(testRoom+"/alice", "vote!"))

	isReactions := func(from string, want ...string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool {
			r := el.Child("urn:xmpp:reactions:0", "reactions")
			if el.Attr("from") != from || r == nil || r.Attr("id") != "v1" {
				return false
			}
			var got []string
			for _, ch := range r.Children {
				got = append(got, ch.Text)
			}
			return slices.Equal(got, want)
		}
	}
	a.Emit(&transports.ReactionEvent{From: "#test", Room: true, Nick: "bob", Target: "v1", Reaction: "👍"})
	c.Expect(t, "bob's reaction", isReactions(testRoom+"/bob", "👍"))
	a.Emit(&transports.ReactionEvent{From: "#test", Room: true, Nick: "bob", Target: "v1", Reaction: "🎉"})
	c.Expect(t, "bob's two reactions", isReactions(testRoom+"/bob", "👍", "🎉"))

	// The user's own reaction from another client comes from their own
	// occupant and is part of the set their client sends next.
	a.Emit(&transports.ReactionEvent{From: "#test", Room: true, Own: true, Target: "v1", Reaction: "👀"})
	c.Expect(t, "own reaction from another client", isReactions(testRoom+"/ann", "👀"))
	c.Send(t, `<message type="groupchat" to="`+testRoom+`"><reactions xmlns="urn:xmpp:reactions:0" id="v1"><reaction>👀</reaction><reaction>❤</reaction></reactions></message>`)
	c.Expect(t, "own reaction reflected", isReactions(testRoom+"/ann", "👀", "❤"))
	c.Send(t, `<message type="groupchat" to="`+testRoom+`"><reactions xmlns="urn:xmpp:reactions:0" id="v1"/></message>`)
	c.Expect(t, "own reactions removed", isReactions(testRoom+"/ann"))
	want := []transportstest.Reaction{
		{To: "#test", Target: "v1", Reaction: "❤"}, // 👀 was there already
		{To: "#test", Target: "v1", Reaction: "👀", Remove: true},
		{To: "#test", Target: "v1", Reaction: "❤", Remove: true},
	}
	if got := a.Reactions(); !slices.Equal(got, want) {
		t.Errorf("reactions = %+v, want %+v", got, want)
	}

	// A reply names the legacy message.
	c.Send(t, `<message type="groupchat" id="re1" to="`+testRoom+`"><body>yes</body><reply xmlns="urn:xmpp:reply:0" id="v1" to="`+testRoom+`/alice"/></message>`)
	if m := <-a.Sent(); m.ReplyTo != "v1" {
		t.Errorf("reply sent as %+v", m)
	}
	c.Expect(t, "reply reflected", isGroupchat(testRoom+"/ann", "yes"))
}

func TestMUCSessionLost(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c, a := roomUser(t, e, "liam")
	joinAndSync(t, c, testRoom, "liam")
	// The legacy connection drops: the room is gone with it, and the
	// client is told so (333), rather than left in a room that no
	// longer relays anything.
	a.Drop(errors.New("connection reset by peer"))
	out := c.Expect(t, "removed from the room", isPresence(testRoom, "unavailable"))
	if !hasCodes(out, 110, 333) || !strings.Contains(out.ChildText("", "status"), "connection reset by peer") {
		t.Errorf("session loss: %s", out)
	}
	// Once the session is back, joining works again.
	e.adapter(t, "liam@localhost")
	drain(c)
	joinAndSync(t, c, testRoom, "liam")
}

func TestMUCDisallowedDomain(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, allowed: []string{"example.org"}})
	c := e.user(t, "mia", "pc", 0)
	c.Send(t, `<presence id="d1" to="`+testRoom+`/mia"><x xmlns="`+nsMUC+`"/></presence>`)
	el := c.Expect(t, "join refused", func(el *testenv.Element) bool { return el.Attr("id") == "d1" })
	wantError(t, el, "forbidden", "only serves users of: example.org")
	if e.net.Adapter("mia@localhost") != nil {
		t.Error("a session was started for a user of another domain")
	}
}
