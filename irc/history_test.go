package irc

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// No IRC server packaged for Debian 12 implements draft/chathistory
// (InspIRCd 4 and Ergo do), so this test scripts the server's side of the
// exchange, as the IRCv3 specification shows it, over a pipe.
func TestChatHistory(t *testing.T) {
	srvConn, cliConn := net.Pipe()
	t.Cleanup(func() { srvConn.Close() })
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       5 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return cliConn, nil
		},
	})
	live := make(chan transports.Event, 100)
	a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org"}, transports.SinkFunc(func(ev transports.Event) { live <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(srvConn)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	w := bufio.NewWriter(srvConn)
	send := func(l string) {
		w.WriteString(l + "\r\n")
		w.Flush()
	}
	expect := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("client closed; wanted %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("client did not send %q", prefix)
			}
		}
	}
	joined := make(chan error, 1)
	go func() {
		joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me")
	}()
	expect("CAP LS")
	send(":srv CAP * LS :batch server-time message-tags draft/chathistory")
	req := expect("CAP REQ")
	if !strings.Contains(req, "draft/chathistory") {
		t.Fatalf("chathistory not requested: %s", req)
	}
	send(":srv CAP * ACK :" + req[strings.Index(req, ":")+1:])
	expect("CAP END")
	send(":srv 001 me :Welcome")
	send(":srv 005 me CHATHISTORY=100 CHANTYPES=# :are supported")
	send(":srv 422 me :No MOTD")
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
