package irc

import (
	"strings"
	"testing"

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
	ch := &channel{name: "#c", id: "#c", want: true, joined: true, synced: true, members: map[string]*member{}}
	for _, nick := range []string{"me", "bob", "carol"} {
		ch.members[FoldName(nick)] = &member{nick: nick}
	}
	c.channels["#c"] = ch
	c.addAwait(c.nickServAnswer)
	return c, girc.New(girc.Config{Server: "irc.test", Nick: "me", User: "me"})
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
			if len(ch.members) > maxMembers {
				t.Fatalf("%d members", len(ch.members))
			}
		}
	})
}
