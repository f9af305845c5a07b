package irc_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// These tests drive the adapter against real IRC servers (InspIRCd with
// Atheme services, and ngIRCd) with a raw IRC client on the other side.

const waitFor = 10 * time.Second

// events records what an adapter delivers and lets tests wait for it.
type events struct {
	mu      sync.Mutex
	all     []transports.Event
	changed chan struct{}
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

func (r *events) Deliver(ev transports.Event) {
	r.mu.Lock()
	r.all = append(r.all, ev)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// expect waits for an event matching pred and returns it; events before it
// are kept for later expects only if they do not match.
func expect[T transports.Event](t *testing.T, r *events, pred func(T) bool) T {
	t.Helper()
	deadline := time.After(waitFor)
	seen := 0
	for {
		r.mu.Lock()
		for i := seen; i < len(r.all); i++ {
			if ev, ok := r.all[i].(T); ok && pred(ev) {
				r.all = append(r.all[:i:i], r.all[i+1:]...)
				r.mu.Unlock()
				return ev
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			var zero T
			r.mu.Lock()
			var b strings.Builder
			for _, ev := range r.all {
				fmt.Fprintf(&b, "  %T %+v\n", ev, ev)
			}
			r.mu.Unlock()
			t.Fatalf("no %T matching within %v; events:\n%s", zero, waitFor, b.String())
			return zero
		}
	}
}

// network returns an IRC network whose default server is srv (plaintext).
func network(name, addr string) *irc.Network {
	return irc.New(irc.Config{
		DefaultServer: name,
		Servers:       map[string]irc.Server{name: {Address: addr, Plaintext: true}},
		SendRate:      50, SendBurst: 50,
		Timeout: waitFor,
	})
}

func connect(t *testing.T, n *irc.Network, creds transports.Credentials) (transports.Adapter, *events) {
	t.Helper()
	ev := newEvents()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, err := n.Connect(ctx, transports.Account{User: "user@example.org", Credentials: creds, Reconnect: reporting(ev)}, ev)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a, ev
}

// reporting is the reconnect policy a supervisor would hand Connect, with
// short backoffs, reporting states to sink as the supervisor does.
func reporting(sink transports.Sink) *transports.Reconnect {
	return transports.NewReconnect(transports.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}, nil,
		func(st transports.Status) { sink.Deliver(&transports.StateEvent{Status: st}) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

func privmsg(target string) func(testenv.IRCLine) bool {
	return func(l testenv.IRCLine) bool { return l.Command == "PRIVMSG" && strings.EqualFold(l.Param(0), target) }
}

func TestInspIRCdChannel(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	bob := testenv.DialIRC(t, srv.Addr(), "bob", "message-tags", "server-time")
	bob.Join(t, "#room")
	bob.Send("TOPIC #room :The topic")
	bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "TOPIC" })

	a, ev := connect(t, n, nil) // anonymous: connections open on join
	rooms := a.(transports.Rooms)
	if err := rooms.JoinRoom(ctx(t), "#room", "alice"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	occ := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "bob" })
	if occ.Role != transports.RoleModerator || occ.Affiliation != transports.AffiliationAdmin {
		t.Errorf("bob (channel operator) is %v/%v, want moderator/admin", occ.Role, occ.Affiliation)
	}
	ready := expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#room" })
	if ready.Nick != "alice" {
		t.Errorf("ready nick = %q", ready.Nick)
	}
	subj := expect(t, ev, func(e *transports.SubjectEvent) bool { return e.Room == "#room" })
	if subj.Subject != "The topic" || subj.Nick != "bob" {
		t.Errorf("subject = %+v", subj)
	}

	// XMPP → IRC, reflected once the server echoed it.
	id, err := a.Send(ctx(t), transports.Message{To: "#room", Room: true, Body: "hello bob", ID: "x-1"})
	if err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return privmsg("#room")(l) && l.Param(1) == "hello bob" })
	own := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Own })
	if own.EchoOf != "x-1" || own.Body != "hello bob" || own.Nick != "alice" || string(own.RemoteID) != string(id) || id == "" {
		t.Errorf("own echo = %+v (send returned %q)", own, id)
	}

	// /me both ways.
	if _, err := a.Send(ctx(t), transports.Message{To: "#room", Room: true, Body: "/me waves", ID: "x-2"}); err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return privmsg("#room")(l) && l.Param(1) == "\x01ACTION waves\x01" })
	bob.Send("PRIVMSG #room :\x01ACTION nods\x01")
	act := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Nick == "bob" && e.Action })
	if act.Body != "nods" || !act.Room || act.Time.IsZero() {
		t.Errorf("action = %+v", act)
	}

	// IRC → XMPP: message with highlight, notice.
	bob.Send("PRIVMSG #room :alice: hi there")
	m := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Body == "alice: hi there" })
	if !m.Mention || m.Nick != "bob" || m.From != "#room" || m.RemoteID == "" {
		t.Errorf("message = %+v", m)
	}
	bob.Send("NOTICE #room :a notice")
	if n := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Body == "a notice" }); !n.Notice {
		t.Errorf("notice = %+v", n)
	}

	// Nick change, voice, topic, kick.
	bob.Send("NICK bobby")
	nc := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.NewNick != "" })
	if nc.Nick != "bob" || nc.NewNick != "bobby" {
		t.Errorf("nick change = %+v", nc)
	}
	carol := testenv.DialIRC(t, srv.Addr(), "carol")
	carol.Join(t, "#room")
	expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "carol" && !e.Left })
	bob.Send("MODE #room +v carol")
	v := expect(t, ev, func(e *transports.OccupantEvent) bool {
		return e.Nick == "carol" && e.Affiliation == transports.AffiliationMember
	})
	if v.Role != transports.RoleParticipant {
		t.Errorf("voiced carol = %+v", v)
	}
	bob.Send("KICK #room carol :behave")
	k := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "carol" && e.Left })
	if !k.Kicked || k.Reason != "behave" || k.By != "bobby" {
		t.Errorf("kick = %+v", k)
	}

	// Moderation without rights fails with the server's text.
	err = a.(transports.Moderator).Kick(ctx(t), "#room", "bobby", "no")
	if !errors.Is(err, transports.ErrForbidden) || !strings.Contains(err.Error(), "#room") {
		t.Errorf("kick without rights = %v, want ErrForbidden with the server's text", err)
	}

	// The user is kicked.
	bob.Send("KICK #room alice :bye")
	self := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Self && e.Left })
	if !self.Kicked || self.Reason != "bye" {
		t.Errorf("self kick = %+v", self)
	}
}

func TestInspIRCdJoinErrors(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	op := testenv.DialIRC(t, srv.Addr(), "op")
	op.Join(t, "#banned")
	op.Send("MODE #banned +b alice!*@*")
	op.Join(t, "#invite")
	op.Send("MODE #invite +i")
	op.Join(t, "#keyed")
	op.Send("MODE #keyed +k secret")
	op.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "MODE" && l.Param(0) == "#keyed" })

	a, _ := connect(t, n, nil)
	rooms := a.(transports.Rooms)
	for _, room := range []transports.ID{"#banned", "#invite", "#keyed"} {
		err := rooms.JoinRoom(ctx(t), room, "alice")
		if !errors.Is(err, transports.ErrForbidden) || !strings.Contains(err.Error(), string(room)) {
			t.Errorf("join %s = %v, want ErrForbidden with the server's text", room, err)
		}
	}
	// A nick in use on a new connection is a conflict.
	b, _ := connect(t, n, nil)
	if err := b.(transports.Rooms).JoinRoom(ctx(t), "#free", "op"); !errors.Is(err, transports.ErrConflict) {
		t.Errorf("join with a nick in use = %v, want ErrConflict", err)
	}
	// Errors for messages: no such nick.
	if err := rooms.JoinRoom(ctx(t), "#free", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx(t), transports.Message{To: "nobody", Body: "hi"}); !errors.Is(err, transports.ErrNotFound) {
		t.Errorf("message to a missing nick = %v, want ErrNotFound", err)
	}
}

func TestInspIRCdSafety(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#room")
	a, ev := connect(t, n, nil)
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#room", "alice"); err != nil {
		t.Fatal(err)
	}

	// Injection: every line of the body is text in the channel, nothing
	// else; the connection survives.
	body := "hi\r\nQUIT :pwned\rJOIN #evil\x00\nPRIVMSG #evil :x"
	if _, err := a.Send(ctx(t), transports.Message{To: "#room", Room: true, Body: body, ID: "i"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"hi", "QUIT :pwned", "JOIN #evil", "PRIVMSG #evil :x"}
	for _, w := range want {
		l := bob.Expect(t, waitFor, privmsg("#room"))
		if l.Param(1) != w {
			t.Errorf("bob got %q, want %q", l.Param(1), w)
		}
	}
	bob.ExpectNone(t, 500*time.Millisecond, func(l testenv.IRCLine) bool {
		return l.Command == "QUIT" || l.Command == "PRIVMSG" || l.Command == "JOIN" && l.Param(0) == "#evil"
	})
	bob.Send("MODE #room +o alice")
	expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Self && e.Role == transports.RoleModerator })
	if err := a.(transports.RoomSubject).SetSubject(ctx(t), "#room", "topic\r\nPRIVMSG #room :evil"); err != nil {
		t.Fatal(err)
	}
	l := bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "TOPIC" })
	if l.Param(1) != "topicPRIVMSG #room :evil" {
		t.Errorf("topic = %q", l.Param(1))
	}
	bob.ExpectNone(t, 500*time.Millisecond, privmsg("#room"))

	// A 2000-byte message arrives complete and in order.
	var long strings.Builder
	for i := 0; long.Len() < 2000; i++ {
		fmt.Fprintf(&long, "wörd%d ", i)
	}
	if _, err := a.Send(ctx(t), transports.Message{To: "#room", Room: true, Body: long.String(), ID: "l"}); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for got.Len() < len(strings.TrimSpace(long.String())) {
		l := bob.Expect(t, waitFor, privmsg("#room"))
		if len(l.Raw) > 512 {
			t.Errorf("line of %d bytes", len(l.Raw))
		}
		got.WriteString(l.Param(1))
	}
	if strings.TrimSpace(got.String()) != strings.TrimSpace(long.String()) {
		t.Errorf("long message arrived as\n%q\nwant\n%q", got.String(), long.String())
	}
}

func TestInspIRCdSASL(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{Services: true})
	srv.RegisterAccount(t, "alice", "correct-horse")
	n := network("irc.test", srv.Addr())

	err := n.Validate(ctx(t), transports.Credentials{"nick": "alice", "password": "wrong-horse"})
	if !errors.Is(err, transports.ErrBadCredentials) {
		t.Fatalf("Validate with a wrong password = %v, want ErrBadCredentials", err)
	}
	if strings.Contains(err.Error(), "wrong-horse") {
		t.Errorf("error echoes the password: %v", err)
	}
	if err := n.Validate(ctx(t), transports.Credentials{"nick": "alice", "password": "correct-horse"}); err != nil {
		t.Fatalf("Validate with the right password = %v", err)
	}
	a, ev := connect(t, n, transports.Credentials{"nick": "alice", "password": "correct-horse"})
	bob := testenv.DialIRC(t, srv.Addr(), "bob", "account-tag")
	bob.Send("WHOIS alice")
	l := bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "330" || l.Command == "318" })
	if l.Command != "330" || l.Param(2) != "alice" {
		t.Errorf("alice is not logged in to her account: %s", l.Raw)
	}
	// Private messages both ways.
	bob.Send("PRIVMSG alice :psst")
	m := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Body == "psst" })
	if m.From != "bob" || m.Room {
		t.Errorf("private message = %+v", m)
	}
	if _, err := a.Send(ctx(t), transports.Message{To: "bob", Body: "yes?"}); err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return privmsg("bob")(l) && l.Param(1) == "yes?" })
	// Away mirrors XMPP availability.
	if err := a.SetPresence(ctx(t), transports.Presence{Show: transports.ExtendedAway, Status: "gone"}); err != nil {
		t.Fatal(err)
	}
	// AWAY is written asynchronously: ask until the server shows it.
	for deadline := time.Now().Add(waitFor); ; {
		bob.Send("WHOIS alice")
		l := bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "301" || l.Command == "318" })
		if l.Command == "301" {
			if l.Param(2) != "gone" {
				t.Errorf("away text = %q", l.Param(2))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice never became away")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestInspIRCdReconnect(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	a, ev := connect(t, n, transports.Credentials{"nick": "alice"})
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#room", "alice"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	expect(t, ev, func(e *transports.StateEvent) bool { return e.Status.State == transports.StateTransientDisconnect })
	expect(t, ev, func(e *transports.NoticeEvent) bool { return e.About == "#room" && e.Error })
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	expect(t, ev, func(e *transports.StateEvent) bool { return e.Status.State == transports.StateConnected })
	expect(t, ev, func(e *transports.NoticeEvent) bool { return e.About == "#room" && !e.Error })
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#room")
	bob.Send("PRIVMSG #room :welcome back")
	expect(t, ev, func(e *transports.MessageEvent) bool { return e.Body == "welcome back" && e.Room })
}

// TestInspIRCdReconnectSupervised: run as the component runs it, under a
// supervisor, a session whose server restarts keeps its adapter: the
// connection redials under the supervisor's policy and rejoins, and the
// supervisor's state follows (disconnected while down, connected after).
func TestInspIRCdReconnectSupervised(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	ev := newEvents()
	sup := transports.NewSupervisor(n, func(string) transports.Sink { return ev },
		transports.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)
	const user = "user@example.org"
	sup.Start(transports.Account{User: user, Credentials: transports.Credentials{"nick": "alice"}})
	expect(t, ev, func(e *transports.StateEvent) bool { return e.Status.State == transports.StateConnected })
	a := sup.Adapter(user)
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#room", "alice"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	down := expect(t, ev, func(e *transports.StateEvent) bool { return e.Status.State == transports.StateTransientDisconnect })
	if down.Status.Retry.IsZero() || !strings.Contains(down.Status.Text, "irc.test") {
		t.Errorf("transient state %+v lacks the retry time or the server", down.Status)
	}
	if st := sup.Status(user).State; st != transports.StateTransientDisconnect {
		t.Errorf("supervisor Status while down = %v", st)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	expect(t, ev, func(e *transports.StateEvent) bool { return e.Status.State == transports.StateConnected })
	expect(t, ev, func(e *transports.NoticeEvent) bool { return e.About == "#room" && !e.Error })
	if st := sup.Status(user).State; st != transports.StateConnected {
		t.Errorf("supervisor Status after the restart = %v", st)
	}
	if sup.Adapter(user) != a {
		t.Error("the session was restarted: the connection should have redialled and rejoined in the same adapter")
	}
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#room")
	bob.Send("PRIVMSG #room :welcome back")
	expect(t, ev, func(e *transports.MessageEvent) bool { return e.Body == "welcome back" && e.Room })
}

func TestNgIRCd(t *testing.T) {
	srv := testenv.StartNgIRCd(t)
	n := network("ngircd.test", srv.Addr())
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#plain")
	a, ev := connect(t, n, nil)
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#plain", "alice"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#plain" })
	// Without echo-message the message is reflected after the server's
	// answer to a PING sent behind it.
	if _, err := a.Send(ctx(t), transports.Message{To: "#plain", Room: true, Body: "hello", ID: "n-1"}); err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return privmsg("#plain")(l) && l.Param(1) == "hello" })
	if own := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Own }); own.EchoOf != "n-1" {
		t.Errorf("own = %+v", own)
	}
	bob.Send("PRIVMSG #plain :caf\xe9") // Latin-1 from an old client
	if m := expect(t, ev, func(e *transports.MessageEvent) bool { return e.Nick == "bob" }); m.Body != "café" {
		t.Errorf("latin-1 body = %q", m.Body)
	}
	if _, err := a.Send(ctx(t), transports.Message{To: "nobody", Body: "hi"}); !errors.Is(err, transports.ErrNotFound) {
		t.Errorf("message to a missing nick = %v, want ErrNotFound", err)
	}
}

func TestInspIRCdTLS(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{TLS: true})
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(srv.CAPEM) {
		t.Fatal("bad CA PEM")
	}
	// "localhost" is in the test certificate; the server entry keeps TLS on.
	withCA := irc.New(irc.Config{
		DefaultServer: "localhost",
		Servers:       map[string]irc.Server{"localhost": {Address: srv.TLSAddr()}},
		RootCAs:       roots,
		Timeout:       waitFor,
	})
	if err := withCA.Validate(ctx(t), transports.Credentials{"nick": "alice"}); err != nil {
		t.Fatalf("TLS with the server's CA: %v", err)
	}
	// Without the CA the certificate is refused: no switch turns
	// verification off.
	without := irc.New(irc.Config{
		DefaultServer: "localhost",
		Servers:       map[string]irc.Server{"localhost": {Address: srv.TLSAddr()}},
		Timeout:       waitFor,
	})
	err := without.Validate(ctx(t), transports.Credentials{"nick": "alice"})
	if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS without the CA = %v, want a certificate error", err)
	}
	// A server not listed (and not allowed) is refused before any
	// connection attempt.
	bare := irc.New(irc.Config{Timeout: 2 * time.Second})
	if err := bare.Validate(ctx(t), transports.Credentials{"nick": "alice", "server": "irc.invalid"}); !errors.Is(err, transports.ErrPolicy) {
		t.Errorf("a server not allowed = %v, want ErrPolicy", err)
	}
}

// TestPacedNothingDropped: a connection's lines are paced, and what waits
// is sent in order, nothing dropped; a quit shows with its reason.
func TestPacedNothingDropped(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers:       map[string]irc.Server{"irc.test": {Address: srv.Addr(), Plaintext: true}},
		SendRate:      20, SendBurst: 1, // every line after the first waits its turn
		Timeout: waitFor,
	})
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#room")
	a, ev := connect(t, n, nil)
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#room", "alice"); err != nil {
		t.Fatal(err)
	}
	const count = 15
	lines := make([]string, count)
	for i := range count {
		lines[i] = fmt.Sprintf("line %02d", i)
	}
	if _, err := a.Send(ctx(t), transports.Message{To: "#room", Room: true, Body: strings.Join(lines, "\n"), ID: "multi"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range lines {
		l := bob.Expect(t, waitFor, privmsg("#room"))
		if l.Param(1) != want {
			t.Fatalf("got %q, want %q (order or loss)", l.Param(1), want)
		}
	}
	carol := testenv.DialIRC(t, srv.Addr(), "carol")
	carol.Join(t, "#room")
	expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "carol" && !e.Left })
	carol.Send("QUIT :gone fishing")
	q := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "carol" && e.Left })
	if q.Reason != "Quit: gone fishing" {
		t.Errorf("quit reason = %q", q.Reason)
	}
}

// TestMOTDOnce: the message of the day comes from the server JID once,
// not again at the next connection while it is unchanged.
func TestMOTDOnce(t *testing.T) {
	srv := testenv.StartNgIRCd(t)
	n := network("ngircd.test", srv.Addr())
	store := &transportstest.Store{}
	connectWith := func() (transports.Adapter, *events) {
		ev := newEvents()
		a, err := n.Connect(ctx(t), transports.Account{User: "u@example.org", Credentials: transports.Credentials{"nick": "alice"}, Store: store}, ev)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a, ev
	}
	a, ev := connectWith()
	m := expect(t, ev, func(e *transports.MessageEvent) bool { return e.From == "ngircd.test" })
	if !m.Notice || !strings.Contains(m.Body, "switchboard test server") {
		t.Errorf("MOTD = %+v", m)
	}
	a.Close()
	_, ev2 := connectWith() // returns once registered, after the MOTD
	ev2.mu.Lock()
	defer ev2.mu.Unlock()
	for _, e := range ev2.all {
		if m, ok := e.(*transports.MessageEvent); ok && m.From == "ngircd.test" {
			t.Errorf("MOTD shown again: %+v", m)
		}
	}
}
