package irc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// The connection is the transport's own: it keeps the members, negotiates
// the capabilities, answers the server's PING, and, while it idles, has no
// goroutine at all (park.go: on Linux, a plaintext connection parks with
// the Network's poller; elsewhere one goroutine reads it, at a shallow
// frame), with no girc client behind it.
func TestIdleConnectionHasNoGoroutine(t *testing.T) {
	servers, n := newScriptedTCP(t)
	a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	joined := make(chan error, 1)
	go func() { joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me") }()
	srv := nextServer(t, servers)
	srv.register("message-tags server-time")
	srv.expect("JOIN #c")
	srv.send(":me!u@h JOIN #c")
	srv.send(":srv 353 me = #c :me @bob +carol")
	srv.send(":srv 366 me #c :End")
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	srv.send(":dave!d@h JOIN #c")
	srv.send(":bob!b@h MODE #c +v dave")
	srv.send(":carol!c@h NICK carla")
	srv.send("PING :check")
	if l := srv.expect("PONG"); l != "PONG :check" && l != "PONG check" {
		t.Fatalf("the PING was answered %q", l)
	}

	c := a.(*adapter).conns.get("irc.test")
	c.mu.Lock()
	var members []string
	for _, m := range c.channels["#c"].sub.members() {
		members = append(members, m.nick+"/"+m.prefixes)
	}
	c.mu.Unlock()
	if len(members) != 4 {
		t.Fatalf("the transport's members = %v, want me, bob, carla, dave", members)
	}
	if !c.hasCap("message-tags") || !c.hasCap("server-time") || c.hasCap("echo-message") {
		t.Errorf("accepted capabilities = %v, want message-tags and server-time (offered and acknowledged)", c.caps)
	}
	// The lines were handled on a goroutine of their own (lineQueue),
	// which ends once none waits.
	deadline := time.Now().Add(10 * time.Second)
	for handlingGoroutines(t) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection's handling goroutine still runs with no line waiting")
		}
		time.Sleep(time.Millisecond)
	}
	// Nothing reads the idle connection: it is parked, and no goroutine
	// of its chain of steps (conn.step) stays; girc runs nowhere.
	want := 0
	if !parkSupported {
		want = 1 // the reader, blocked in Read
	}
	readers, stacks := readingGoroutines(t)
	for readers != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines read the idle connection, want %d:\n%s", readers, want, stacks)
		}
		time.Sleep(time.Millisecond)
		readers, stacks = readingGoroutines(t)
	}
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "lrstanley/girc") {
			t.Errorf("a goroutine runs girc:\n%s", g)
		}
		if strings.Contains(g, "irc.(*conn).readLoop(") && (strings.Contains(g, "irc.(*conn).dial(") || strings.Contains(g, "irc.(*conn).open(") || strings.Contains(g, "irc.(*conn).run(")) {
			t.Errorf("the reader waits under the dial's frames:\n%s", g)
		}
	}
	// The parked connection is read again when the server speaks.
	srv.send("PING :again")
	if l := srv.expect("PONG"); l != "PONG :again" && l != "PONG again" {
		t.Fatalf("the PING after the idle time was answered %q", l)
	}
}
