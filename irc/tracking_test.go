package irc

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// The connection is the transport's own: it keeps the members, negotiates
// the capabilities, answers the server's PING, and runs on one goroutine
// (reading) while it idles, with no girc client behind it.
func TestConnectionIsOneGoroutine(t *testing.T) {
	srv, n := newScripted(t)
	a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	joined := make(chan error, 1)
	go func() { joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me") }()
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

	c := a.(*adapter).conns["irc.test"]
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
	var stacks bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&stacks, 2); err != nil {
		t.Fatal(err)
	}
	var readers, gircs int
	for _, g := range strings.Split(stacks.String(), "\n\n") {
		if strings.Contains(g, "irc.(*conn).readLoop(") {
			readers++
			// The reader was started for the attempt (conn.step): the
			// dial and the frames around it are not under its Read.
			if strings.Contains(g, "irc.(*conn).dial(") || strings.Contains(g, "irc.(*conn).open(") || strings.Contains(g, "irc.(*conn).run(") {
				t.Errorf("the reader waits under the dial's frames:\n%s", g)
			}
		}
		if strings.Contains(g, "lrstanley/girc") {
			gircs++
		}
	}
	if readers != 1 || gircs != 0 {
		t.Errorf("%d goroutines read the connection and %d run girc, want 1 and 0:\n%s", readers, gircs, stacks.String())
	}
	// The lines were handled on a goroutine of their own (lineQueue),
	// which ends once none waits: an idle connection is its reader alone.
	deadline := time.Now().Add(10 * time.Second)
	for handlingGoroutines(t) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection's handling goroutine still runs with no line waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
