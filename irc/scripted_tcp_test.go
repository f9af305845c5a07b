package irc

import (
	"bytes"
	"net"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// newScriptedTCP is newScripted over loopback TCP, so that the
// connection parks as a real one does: each dial is accepted as a new
// scripted server, sent on the channel.
func newScriptedTCP(t *testing.T) (<-chan *scripted, *Network) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	servers := make(chan *scripted, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			servers <- newScriptedOn(t, c)
		}
	}()
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Address: l.Addr().String(), Plaintext: true}},
		Timeout:       5 * time.Second,
	})
	return servers, n
}

func nextServer(t *testing.T, servers <-chan *scripted) *scripted {
	t.Helper()
	select {
	case s := <-servers:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not connect")
	}
	return nil
}

// readingGoroutines counts the goroutines that read an IRC connection or
// stand in its chain of steps (conn.step), and returns all stacks.
func readingGoroutines(t *testing.T) (int, string) {
	t.Helper()
	return goroutinesIn(t, "irc.(*conn).readLoop(", "irc.(*conn).step(")
}

// goroutinesIn counts the goroutines whose stack has a frame of one of
// funcs (as the goroutine profile writes them, with their "("), and
// returns all stacks.
func goroutinesIn(t *testing.T, funcs ...string) (int, string) {
	t.Helper()
	var stacks bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&stacks, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(stacks.String(), "\n\n") {
		for _, f := range funcs {
			if strings.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n, stacks.String()
}
