package irc

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// scripted is the server side of a pipe the network dials: the test writes
// the server's lines and reads the client's. For behaviours no IRC server
// packaged for Debian 12 has.
type scripted struct {
	t     *testing.T
	conn  net.Conn
	lines chan string
	w     *bufio.Writer
}

func newScripted(t *testing.T) (*scripted, *Network) {
	return newScriptedWith(t, Server{Plaintext: true})
}

// newScriptedWith is newScripted with the server entry of irc.test.
func newScriptedWith(t *testing.T, entry Server) (*scripted, *Network) {
	srvConn, cliConn := net.Pipe()
	t.Cleanup(func() { srvConn.Close() })
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": entry},
		Timeout:       5 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return cliConn, nil
		},
	})
	return newScriptedOn(t, srvConn), n
}

// newScriptedOn scripts the server side srvConn of a pipe.
func newScriptedOn(t *testing.T, srvConn net.Conn) *scripted {
	s := &scripted{t: t, conn: srvConn, lines: make(chan string, 1000), w: bufio.NewWriter(srvConn)}
	go func() {
		sc := bufio.NewScanner(srvConn)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

func (s *scripted) send(l string) {
	s.w.WriteString(l + "\r\n")
	s.w.Flush()
}

// expect waits for a client line starting with prefix.
func (s *scripted) expect(prefix string) string {
	s.t.Helper()
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("client closed; wanted %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-time.After(5 * time.Second):
			s.t.Fatalf("client did not send %q", prefix)
		}
	}
}

// register answers the client's registration, offering caps.
func (s *scripted) register(caps string) {
	s.t.Helper()
	s.expect("CAP LS")
	s.send(":srv CAP * LS :" + caps)
	if caps != "" {
		req := s.expect("CAP REQ")
		s.send(":srv CAP * ACK :" + req[strings.Index(req, ":")+1:])
	}
	s.expect("CAP END")
	s.send(":srv 001 me :Welcome")
	s.send(":srv 005 me CHATHISTORY=100 CHANTYPES=# :are supported")
	s.send(":srv 422 me :No MOTD")
}

// Where a server has no SASL, the password goes after the registration
// to NickServ on the services host the admin configured, addressed as
// nick@server so that no other holder of the nick can read it.
func TestNickServFallback(t *testing.T) {
	s, n := newScriptedWith(t, Server{Plaintext: true, ServicesHost: "services.irc.test"})
	connected := make(chan error, 1)
	go func() {
		a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org",
			Credentials: transports.Credentials{"nick": "me", "password": "pw 1"}}, transports.SinkFunc(func(transports.Event) {}))
		if err == nil {
			t.Cleanup(func() { a.Close() })
		}
		connected <- err
	}()
	s.register("")
	if err := <-connected; err != nil {
		t.Fatal(err)
	}
	if l := s.expect("PRIVMSG NickServ"); l != "PRIVMSG NickServ@services.irc.test :IDENTIFY me pw 1" {
		t.Errorf("identify line = %q", l)
	}
}

// No IRC server packaged for Debian 12 implements draft/chathistory
// (InspIRCd 4 and Ergo do), so this test scripts the server's side of the
// exchange, as the IRCv3 specification shows it.
func TestChatHistory(t *testing.T) {
	srv, n := newScripted(t)
	live := make(chan transports.Event, 100)
	a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org"}, transports.SinkFunc(func(ev transports.Event) { live <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	send, expect := srv.send, srv.expect

	joined := make(chan error, 1)
	go func() {
		joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me")
	}()
	srv.register("batch server-time message-tags draft/chathistory")
	expect("JOIN #c")
	send(":me!u@h JOIN #c")
	send(":srv 353 me = #c :me bob")
	send(":srv 366 me #c :End")
	if err := <-joined; err != nil {
		t.Fatal(err)
	}

	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := make(chan []transports.MessageEvent, 1)
	go func() {
		msgs, err := a.(transports.History).History(context.Background(), "#c", since, 10)
		if err != nil {
			t.Error(err)
		}
		got <- msgs
	}()
	l := expect("CHATHISTORY")
	if l != "CHATHISTORY LATEST #c timestamp=2026-01-02T03:04:05.000Z 10" {
		t.Errorf("request = %q", l)
	}
	send(":srv BATCH +h1 chathistory #c")
	send("@batch=h1;time=2026-01-02T03:05:00.000Z;msgid=m1 :bob!b@h PRIVMSG #c :old one")
	send("@batch=h1;time=2026-01-02T03:06:00.000Z;msgid=m2 :me!u@h PRIVMSG #c :my old one")
	send(":srv BATCH -h1")
	send("@time=2026-01-02T04:00:00.000Z;msgid=m3 :bob!b@h PRIVMSG #c :live")

	msgs := <-got
	if len(msgs) != 2 || msgs[0].Body != "old one" || msgs[0].RemoteID != "m1" || msgs[0].Nick != "bob" ||
		!msgs[0].Time.Equal(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)) || !msgs[1].Own {
		t.Fatalf("history = %+v", msgs)
	}
	// Only the live message reaches the sink as a message.
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-live:
			m, ok := ev.(*transports.MessageEvent)
			if !ok {
				continue
			}
			if m.Body != "live" {
				t.Fatalf("history line delivered live: %+v", m)
			}
			return
		case <-deadline:
			t.Fatal("live message not delivered")
		}
	}
}

// Registration on a server without SASL is checked by NickServ's answer
// to IDENTIFY.
func TestValidateThroughNickServ(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		want   error
	}{
		{"right", ":NickServ!NickServ@services.irc.test NOTICE me :You are now identified for \x02me\x02.", nil},
		{"wrong", ":NickServ!NickServ@services.irc.test NOTICE me :Invalid password for \x02me\x02.", transports.ErrBadCredentials},
		{"no services", ":srv 401 me NickServ@services.irc.test :No such nick/channel", transports.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n := newScriptedWith(t, Server{Plaintext: true, ServicesHost: "services.irc.test"})
			done := make(chan error, 1)
			go func() {
				done <- n.Validate(context.Background(), transports.Credentials{"nick": "me", "password": "pw"})
			}()
			s.register("")
			s.send(":NickServ!NickServ@services.irc.test NOTICE me :This nickname is registered. Please choose a different nickname, or identify via /msg NickServ identify <password>.")
			s.expect("PRIVMSG NickServ@services.irc.test :IDENTIFY me pw")
			// Someone holding the nick NickServ elsewhere cannot confirm it.
			s.send(":NickServ!evil@users.example NOTICE me :You are now identified for \x02me\x02.")
			s.send(tt.answer)
			err := <-done
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

// On a server without SASL and without a services host configured for
// it, a password is never sent: registration is refused with a text that
// says why, and whoever holds the nick NickServ gets nothing (M4).
func TestPasswordWithoutSASLOrServices(t *testing.T) {
	s, n := newScripted(t)
	done := make(chan error, 1)
	go func() {
		done <- n.Validate(context.Background(), transports.Credentials{"nick": "me", "password": "secret-pw"})
	}()
	s.register("")
	s.send(":NickServ!NickServ@users.example NOTICE me :This nickname is registered; identify via /msg NickServ identify <password>.")
	err := <-done
	if !errors.Is(err, transports.ErrPolicy) || !strings.Contains(err.Error(), "offers no SASL") {
		t.Fatalf("Validate = %v, want ErrPolicy naming SASL", err)
	}
	// The client closed the connection: everything it sent is in s.lines.
	for l := range s.lines {
		if strings.Contains(l, "secret-pw") || strings.HasPrefix(l, "PRIVMSG") {
			t.Errorf("sent %q", l)
		}
	}
}
