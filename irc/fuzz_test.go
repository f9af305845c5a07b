package irc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// fuzzConn is a registered connection in #c (with bob and carol), with
// no server behind it, for feeding events to the handler.
func fuzzConn() (*conn, *girc.Client) {
	n := New(Config{DefaultServer: "irc.test", Servers: map[string]Server{"irc.test": {ServicesHost: "services.irc.test"}}})
	a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	c := newConn(a, "irc.test", "me", "pw")
	c.nick, c.registered, c.everUp = "me", true, true
	close(c.regWait)
	cl := girc.New(girc.Config{Server: "irc.test", Nick: "me", User: "me"})
	c.channels["#c"] = &channel{name: "#c", id: "#c", want: true}
	for _, l := range []string{":me!u@h JOIN #c", ":srv 353 me = #c :me bob carol", ":srv 366 me #c :End"} {
		c.handle(cl, *girc.ParseEvent(l))
	}
	c.addAwait(c.nickServAnswer)
	return c, cl
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
	f.Fuzz(func(t *testing.T, in string) {
		c, cl := fuzzConn()
		for _, line := range strings.Split(in, "\n") {
			e := girc.ParseEvent(line)
			if e == nil {
				continue
			}
			c.handle(cl, *e)
			if ctcp := girc.DecodeCTCP(e); ctcp != nil {
				c.onCTCP(cl, *ctcp)
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
		}
	})
}

// FuzzGircBuiltins feeds what filterLine keeps of random lines to girc's
// own (built-in) handlers: none may panic, and girc's state must not stay
// locked, since a panic under its lock would hang the connection.
func FuzzGircBuiltins(f *testing.F) {
	f.Add(":a!b@c MODE #c +o-v x y\n:srv 353 me = #c :@a +b\n:srv 005 me PREFIX=(ov)@+ :x\n:a!b@c TOPIC #c :x\n:srv 352 me #c u h s n H :0 r")
	f.Add(":srv 004 me a b c d\n:srv 324 me #c +k\n:a!b@c JOIN #c\n:a!b@c NICK d\n:a!b@c QUIT\n:a!b@c KICK #c me")
	f.Add("352\n353\n354\nAWAY\nACCOUNT x\nCHGHOST a b\n@account=x PRIVMSG #c :x\nPRIVMSG me :\x01VERSION\x01")
	f.Fuzz(func(t *testing.T, in string) {
		var panicked string
		cl := girc.New(girc.Config{Server: "irc.test", Nick: "me", User: "me",
			RecoverFunc: func(_ *girc.Client, e *girc.HandlerError) { panicked = fmt.Sprint(e.Panic) }})
		for _, line := range strings.Split(in, "\n") {
			out, ok := filterLine([]byte(line), false)
			if !ok {
				continue
			}
			cl.RunHandlers(girc.ParseEvent(string(out)))
			if panicked != "" {
				t.Fatalf("girc panicked on %q: %s", line, panicked)
			}
			unlocked := make(chan struct{})
			go func() {
				cl.GetNick()
				cl.ChannelList()
				close(unlocked)
			}()
			select {
			case <-unlocked:
			case <-time.After(5 * time.Second):
				t.Fatalf("girc's state stayed locked after %q", line)
			}
		}
	})
}
