package irc

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// fuzzConn is a registered connection in #c (with bob and carol), with
// no server behind it, for feeding events to the handler.
func fuzzConn() *conn {
	n := New(Config{DefaultServer: "irc.test", Servers: map[string]Server{"irc.test": {ServicesHost: "services.irc.test"}}})
	a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	c := newConn(a, "irc.test", "me", "pw")
	c.nick, c.registered, c.everUp = "me", true, true
	c.endRegWaitLocked()
	c.channels["#c"] = &channel{name: "#c", id: "#c", want: true}
	for _, l := range []string{":me!u@h JOIN #c", ":srv 353 me = #c :me bob carol", ":srv 366 me #c :End"} {
		c.handle(*girc.ParseEvent(l))
	}
	c.addAwait(c.nickServAnswer)
	return c
}

// FuzzHandleLine feeds lines parsed by girc's parser to the connection's
// event handling (and its CTCP answers): whatever a server sends, nothing
// panics and the state stays bounded.
func FuzzHandleLine(f *testing.F) {
	f.Add("PRIVMSG me :\x01VERSION\x01\nPRIVMSG #c :\x01PING 1\x01\nPRIVMSG me :\x01TIME\x01")
	f.Add(":bob!b@h PRIVMSG #c :\x01ACTION\x01\n:bob!b@h PRIVMSG me :\x01VERSION\x01")
	f.Add("PRIVMSG\nJOIN\n:x KICK\n:x MODE #c\n353\n:srv 353 me\n366\nTOPIC\nNICK\nAWAY\nPART\nQUIT\nBATCH\nTAGMSG\n005\n001")
	f.Add(":srv 353 me = #c :" + strings.Repeat("@a +b ~c ", 400) + "\n:srv 366 me #c :End")
	f.Add(":srv 005 me PREFIX=(qaohv)~&@%+ CHANMODES=b,k,l,imnpst CHANTYPES=#& CHATHISTORY=10 :are supported\n:bob!b@h MODE #c +ooo-v me bob")
	f.Add(":\xff\xfe PRIVMSG #c :\xc3\x28\xa0\xa1\n:bob!\xff@\xfe NICK :\xe2\x82")
	f.Add("@batch=x;time=bad :bob!b@h PRIVMSG #c :a\n:srv BATCH +x chathistory #c\n@batch=x :bob PRIVMSG #c :b\n:srv BATCH -x")
	f.Add(":NickServ!NickServ@evil NOTICE me :You are now identified\n:srv 401 me NickServ@services.irc.test :No such nick")
	f.Add(":me!u@h JOIN #forced\n:me!u@h KICK #c me :bye\n:srv 432 me x :bad\nERROR :closing")
	f.Add("@msgid=b1 :bob!b@h PRIVMSG #c :x\n:bob!b@h REDACT #c b1\n:carol!c@h REDACT #c b1 :\x02why\n:bob!b@h REDACT me p1\nREDACT\n:x REDACT #c\n:irc.test REDACT #c :")
	f.Add(":srv FAIL REDACT UNKNOWN_MSGID #c m1 :gone\nFAIL REDACT\n:srv FAIL REDACT INVALID_TARGET\n:srv 421 me REDACT :Unknown")
	f.Fuzz(func(t *testing.T, in string) {
		c := fuzzConn()
		for _, line := range strings.Split(in, "\n") {
			e := girc.ParseEvent(line)
			if e == nil {
				continue
			}
			c.handle(*e)
			if ctcp := girc.DecodeCTCP(e); ctcp != nil {
				c.onCTCP(*ctcp)
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.channels) > maxChannelsPerConn || len(c.out) > maxQueued || len(c.batches) > maxOpenBatches {
			t.Fatalf("state grew: %d channels, %d queued, %d batches", len(c.channels), len(c.out), len(c.batches))
		}
		for _, ch := range c.channels {
			if ch.sub != nil && len(ch.sub.members()) > maxMembers {
				t.Fatalf("%d members", len(ch.sub.members()))
			}
			if ch.sub != nil && ch.sub.v.authors.len() > maxAuthors {
				t.Fatalf("%d authors", ch.sub.v.authors.len())
			}
		}
	})
}

// FuzzReadLoop feeds random bytes to a connection's read loop, the entry
// of everything a server sends (line limit, filter, parser, handlers, the
// PONG answers): it returns once the server closed, no handler panicked
// (a recovered panic would be the connection's failure), and the state
// stays bounded.
func FuzzReadLoop(f *testing.F) {
	f.Add([]byte("PING :a\r\n:bob!b@h PRIVMSG #c :hi\r\n:a!b@c MODE #c +o-v x y\r\n:srv 353 me = #c :@a +b\r\nERROR :bye\r\n"))
	f.Add([]byte(":srv 004 me a b c d\n:srv 324 me #c +k\n:a!b@c JOIN #c\n:a!b@c NICK d\n:a!b@c QUIT\n:a!b@c KICK #c me\nPING x\n"))
	f.Add([]byte("352\n353\n354\nAWAY\nACCOUNT x\nCHGHOST a b\n@account=x PRIVMSG #c :x\nPRIVMSG me :\x01VERSION\x01\nPING\n"))
	f.Add([]byte(":bob!b@h PRIVMSG #c :" + strings.Repeat("\xe2\x82\xac", 4000) + "\r\nPING :after-a-cut-line\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := fuzzConn()
		defer c.stopWriter()
		srv, cli := net.Pipe()
		defer cli.Close()
		lc := newLineConn(cli, time.Second)
		c.mu.Lock()
		c.wire = lc
		c.mu.Unlock()
		go io.Copy(io.Discard, srv) // the answers
		go func() {
			srv.Write(in)
			srv.Close()
		}()
		if _, err := c.readLoop(&attempt{lc: lc, q: c.lineQueue(lc)}); err == nil {
			t.Fatal("readLoop returned no error")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.failErr != nil && strings.Contains(c.failErr.Error(), "internal error") {
			t.Fatalf("a handler panicked: %v", c.failErr)
		}
		if len(c.channels) > maxChannelsPerConn || len(c.out) > maxQueued || len(c.batches) > maxOpenBatches {
			t.Fatalf("state grew: %d channels, %d queued, %d batches", len(c.channels), len(c.out), len(c.batches))
		}
	})
}
