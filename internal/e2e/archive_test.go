package e2e_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
)

const nsMAM = "urn:xmpp:mam:2"

// newArchivingStack is newStack with a room archive (XEP-0313).
func newArchivingStack(t *testing.T) *stack {
	t.Helper()
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	ircd := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{Services: true})
	network := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers:       map[string]irc.Server{"irc.test": {Address: ircd.Addr(), Plaintext: true}},
		SendRate:      50, SendBurst: 50,
		Timeout: timeout,
		Logger:  debugLogger(logs),
	})
	g := &gateway{p: p, domain: gw, net: network, logs: logs, archive: &archive.Bounds{},
		dbPath: filepath.Join(t.TempDir(), "switchboard.db"), key: make([]byte, 32)}
	rand.Read(g.key)
	t.Cleanup(func() {
		if g.stop != nil {
			g.stop()
		}
		if t.Failed() {
			t.Logf("component log:\n%s", logs)
		}
	})
	g.start(t)
	return &stack{gateway: g, ircd: ircd}
}

// TestRoomArchiveAfterAway: a registered user's IRC session stays in the
// channel while their client is offline (bouncer mode); what is said
// there meanwhile is archived, and after rejoining the client catches up
// with a MAM query to the room, paged with RSM, through InspIRCd.
func TestRoomArchiveAfterAway(t *testing.T) {
	s := newArchivingStack(t)
	s.ircd.RegisterAccount(t, "alice", "irc-pw-5k2")
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="nick"><value>alice</value></field>`+
		`<field var="password"><value>irc-pw-5k2</value></field></x></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Expect(t, "subscription request", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribe" && el.Attr("from") == gw
	})
	c.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)

	room := "#archive@" + gw
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	bob.Join(t, "#archive")
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	// The room advertises the archive.
	info := c.IQ(t, `<iq type="get" to="`+room+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	var features []string
	if q := info.Child("http://jabber.org/protocol/disco#info", "query"); q != nil {
		for _, f := range q.ChildrenNamed("", "feature") {
			features = append(features, f.Attr("var"))
		}
	}
	if !slices.Contains(features, nsMAM) {
		t.Errorf("room features %v lack %s", features, nsMAM)
	}

	bob.Send("PRIVMSG #archive :said while you were here")
	c.Expect(t, "live message", isGroupchat(room+"/bob", "said while you were here"))
	c.Close()
	time.Sleep(3 * time.Second) // past the component's grace period for a client going offline
	const away = 12
	for i := range away {
		bob.Send(fmt.Sprintf("PRIVMSG #archive :away line %d", i))
	}
	bob.ExpectNone(t, time.Second, func(l testenv.IRCLine) bool {
		return (l.Command == "QUIT" || l.Command == "PART") && l.Source == "alice"
	})

	c = s.login(t, "alice", "pc")
	c.Send(t, `<presence/>`)
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"><history maxstanzas="0"/></x></presence>`)
	c.Expect(t, "own presence again", isPresenceFrom(room+"/alice", "110"))
	c.Expect(t, "subject", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == room && el.Child("", "subject") != nil
	})

	// Catch up backwards, five at a time, as Conversations does.
	var bodies []string
	before := ""
	for page := 0; ; page++ {
		if page == 10 {
			t.Fatalf("no complete page after 10 queries; got %q", bodies)
		}
		qid := fmt.Sprint("q", page)
		res := c.IQ(t, `<iq type="set" to="`+room+`"><query xmlns="`+nsMAM+`" queryid="`+qid+`">`+
			`<set xmlns="http://jabber.org/protocol/rsm"><max>5</max><before>`+before+`</before></set></query></iq>`)
		fin := res.Child(nsMAM, "fin")
		if res.Attr("type") != "result" || fin == nil {
			t.Fatalf("query: %s", res)
		}
		var pageBodies []string
		first := ""
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			el, err := c.Next(ctx, func(el *testenv.Element) bool {
				r := el.Child(nsMAM, "result")
				return el.Name.Local == "message" && r != nil && r.Attr("queryid") == qid
			})
			cancel()
			if err != nil {
				break
			}
			r := el.Child(nsMAM, "result")
			m := r.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
			if m.Attr("from") != room+"/bob" || r.Child("urn:xmpp:forward:0", "forwarded").Child("urn:xmpp:delay", "delay") == nil {
				t.Errorf("result %s", el)
			}
			if first == "" {
				first = r.Attr("id")
			}
			pageBodies = append(pageBodies, m.ChildText("jabber:client", "body"))
		}
		if set := fin.Child("http://jabber.org/protocol/rsm", "set"); set.ChildText("", "first") != first {
			t.Errorf("fin's first %q, want the first result %q", set.ChildText("", "first"), first)
		}
		bodies = append(pageBodies, bodies...)
		if fin.Attr("complete") == "true" {
			break
		}
		before = first
	}
	want := []string{"said while you were here"}
	for i := range away {
		want = append(want, fmt.Sprintf("away line %d", i))
	}
	if !slices.Equal(bodies, want) {
		t.Errorf("caught up with\n%s\nwant\n%s", strings.Join(bodies, "\n"), strings.Join(want, "\n"))
	}
}
