package irc

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// The lines that open a connection: the capability negotiation first, so
// the server holds the registration until CAP END, then NICK and USER
// (ident from the nick, the real name sanitised, as girc's client wrote
// them).
func TestRegistrationLines(t *testing.T) {
	for _, tt := range []struct {
		nick, realName string
		want           []string
	}{
		{"me", "Switchboard user", []string{"CAP LS 302", "NICK me", "USER me * * :Switchboard user"}},
		{"Bob_[away]", "Bob's gateway", []string{"CAP LS 302", "NICK Bob_[away]", "USER bobaway * * :Bob's gateway"}},
		{"x", "a\r\nQUIT :b", []string{"CAP LS 302", "NICK x", "USER x * * :aQUIT :b"}},
		{"x", "", []string{"CAP LS 302", "NICK x", "USER x * * :x"}},
	} {
		if got := registrationLines(tt.nick, tt.realName); !slices.Equal(got, tt.want) {
			t.Errorf("registrationLines(%q, %q) = %q, want %q", tt.nick, tt.realName, got, tt.want)
		}
	}
}

// A server that pings before the registration (a cookie check) is
// answered at once, and the registration goes on; the session's QUIT is
// the last line the connection writes.
func TestPingBeforeRegistrationAndQuit(t *testing.T) {
	s, n := newScripted(t)
	done := make(chan error, 1)
	var a transports.Adapter
	go func() {
		var err error
		a, err = n.Connect(context.Background(), transports.Account{User: "u@example.org",
			Credentials: transports.Credentials{"nick": "me"}}, transports.SinkFunc(func(transports.Event) {}))
		done <- err
	}()
	s.expect("CAP LS")
	s.expect("NICK me")
	s.expect("USER me")
	s.send("PING :cookie-1")
	if l := s.expect("PONG"); l != "PONG :cookie-1" {
		t.Fatalf("answer %q, want PONG :cookie-1", l)
	}
	s.send(":srv CAP * LS :")
	s.expect("CAP END")
	s.send(":srv 001 me :Welcome")
	s.send(":srv 422 me :No MOTD")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	if l := s.expect("QUIT"); l != "QUIT :Switchboard: session closed" {
		t.Errorf("quit line %q", l)
	}
	s.conn.Close() // the server closes after QUIT
	select {
	case err := <-closed:
		if err != nil && !errors.Is(err, transports.ErrNotConnected) {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return once the server closed")
	}
}

// The adapter's Close says QUIT on an attempt whose dial it raced: the
// attempt that comes up after Close saw no current one says it itself;
// and a server that ignores the QUIT is closed on 3 s later.
func TestCloseDuringDialQuits(t *testing.T) {
	srvConn, cliConn := net.Pipe()
	t.Cleanup(func() { srvConn.Close() })
	dialing, dial := make(chan struct{}), make(chan struct{})
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       5 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			close(dialing)
			<-dial // held until Close ended the context
			return cliConn, nil
		},
	})
	s := newScriptedOn(t, srvConn)
	a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	a.newConn("irc.test", "me", "")
	<-dialing
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	<-a.ctx.Done()
	close(dial)
	s.expect("USER me")
	if l := s.expect("QUIT"); l != "QUIT :Switchboard: session closed" {
		t.Errorf("quit line %q", l)
	}
	select { // the server ignores the QUIT: the connection closes itself
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after a QUIT the server ignored")
	}
}
