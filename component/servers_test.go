package component_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestOnEveryXMPPServer runs the component's paths through each XMPP
// server the README names (Prosody and ejabberd): what a server routes
// differently (a component's handshake, presence probes and
// subscriptions, IQs a component addresses to itself, errors) shows here.
// One server of each kind serves every case; each case runs its own
// component and its own users.
func TestOnEveryXMPPServer(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, srv testenv.XMPPServer)
	}{
		{"discovery", serverDiscovery},
		{"registration", serverRegistration},
		{"chat", serverChat},
		{"presence", serverPresence},
		{"rooms", serverRooms},
		{"commands", serverCommands},
		{"reconnect", serverReconnect},
		{"files", serverFiles},
	}
	testenv.ForEachXMPPServer(t, map[string]string{gw: secret}, func(t *testing.T, srv testenv.XMPPServer) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, srv) })
		}
	})
}

// serverDiscovery: the server lists the gateway; the gateway's disco#info
// and disco#items reach a client through it.
func serverDiscovery(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	c := e.user(t, "dina", "pc", 0)

	items := c.IQ(t, `<iq type="get" to="localhost"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	found := false
	for _, it := range items.Find(qDiscoItems).ChildrenNamed("", "item") {
		found = found || it.Attr("jid") == gw
	}
	if !found {
		t.Errorf("the server's disco#items does not list %s: %s", gw, items)
	}
	info := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	if id := info.Find(qDiscoInfo, "identity"); id == nil || id.Attr("category") != "gateway" || id.Attr("type") != "irc" {
		t.Errorf("identity: %s", info)
	}
	features := map[string]bool{}
	for _, f := range info.Find(qDiscoInfo).ChildrenNamed("", "feature") {
		features[f.Attr("var")] = true
	}
	for _, want := range []string{"jabber:iq:register", "jabber:iq:gateway", "http://jabber.org/protocol/commands"} {
		if !features[want] {
			t.Errorf("feature %s not advertised: %s", want, info)
		}
	}
	if res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`); res.Attr("type") != "result" || res.Find(qDiscoItems) == nil {
		t.Errorf("the gateway's disco#items: %s", res)
	}
	// An error the gateway answers reaches the client as that error.
	res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="urn:example:unknown"/></iq>`)
	wantError(t, res, "service-unavailable", "")
}

// serverRegistration: the XEP-0077 form through the server, a submission,
// and <registered/> afterwards.
func serverRegistration(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	c := e.user(t, "rita", "pc", 0)
	res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="jabber:iq:register"/></iq>`)
	x := res.Find(qRegister, xData)
	if res.Attr("type") != "result" || x == nil || x.Attr("type") != "form" {
		t.Fatalf("register get: %s", res)
	}
	vars := map[string]string{}
	for _, f := range x.ChildrenNamed("", "field") {
		vars[f.Attr("var")] = f.Attr("type")
	}
	if vars["username"] != "text-single" || vars["password"] != "text-private" {
		t.Errorf("form fields: %v", vars)
	}
	// A refused submission is an error with the network's text.
	res = c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="username"><value>`+legacyUsr+`</value></field><field var="password"><value>wrong</value></field></x></query></iq>`)
	wantError(t, res, "not-acceptable", "Invalid username or password")
	e.register(t, c)
	if res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="jabber:iq:register"/></iq>`); res.Find(qRegister, "registered") == nil {
		t.Errorf("no <registered/> after registering: %s", res)
	}
	e.adapter(t, "rita@localhost")
}

// serverChat: a 1:1 message both ways with its receipt, and the outbox's
// check (an IQ result the component addresses to itself) routed back by
// the server, so the stanzas are acknowledged, not written off by the
// check's timeout.
func serverChat(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	c := e.user(t, "carl", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "carl@localhost")

	c.Send(t, `<message type="chat" id="m1" to="echo@`+gw+`"><body>hello legacy</body><request xmlns="urn:xmpp:receipts"/></message>`)
	select {
	case m := <-a.Sent():
		if m.To != "echo" || m.Body != "hello legacy" {
			t.Errorf("adapter got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("message never reached the adapter")
	}
	c.Expect(t, "receipt", func(el *testenv.Element) bool {
		r := el.Child("urn:xmpp:receipts", "received")
		return isStanza(el, "message") && bareOf(el.Attr("from")) == "echo@"+gw && r != nil && r.Attr("id") == "m1"
	})
	c.Expect(t, "echo", func(el *testenv.Element) bool {
		return isMessageFrom("echo@"+gw)(el) && bodyOf(el) == "hello legacy" && el.Attr("type") == "chat"
	})

	start := time.Now()
	a.Emit(&transports.MessageEvent{From: "ken", Body: "hi carl"})
	c.Expect(t, "ken's message", func(el *testenv.Element) bool { return isMessageFrom("ken@"+gw)(el) && bodyOf(el) == "hi carl" })
	// The outbox is acknowledged within the check's timeout only if the
	// server routed the check back.
	e.waitOutboxEmpty(t)
	t.Logf("outbox acknowledged %v after the legacy message", time.Since(start).Round(time.Millisecond))
	if strings.Contains(e.logs.String(), "did not route back the outbox's check") {
		t.Errorf("%s did not route the outbox's check back:\n%s", srv.Name(), e.logs)
	}

	// A legacy error becomes an XMPP error stanza the client gets.
	c.Send(t, `<message type="chat" id="m2" to="nobody@`+gw+`"><body>hi</body></message>`)
	errMsg := c.Expect(t, "error for nobody", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "m2"
	})
	wantError(t, errMsg, "item-not-found", "No such nick")
}

// serverPresence: subscribing to a legacy contact, the contact's presence
// mirrored, a second resource seeing the gateway's presence, and the
// server answering the probes of a restarted component.
func serverPresence(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	c := e.user(t, "pia", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "pia@localhost")

	bob := "bob@" + gw
	c.Send(t, `<presence to="`+bob+`" type="subscribe"/>`)
	// The contact's approval reaches the roster (Prosody pushes the
	// roster item without the presence; ejabberd sends both), and its own
	// request reaches the client.
	c.Expect(t, "bob's subscription request", isPresence(bob, "subscribe"))
	c.Send(t, `<presence to="`+bob+`" type="subscribed"/>`)
	waitFor(t, "a roster item for "+bob+" with subscription both", func() bool {
		roster := c.IQ(t, `<iq type="get"><query xmlns="jabber:iq:roster"/></iq>`)
		for _, it := range roster.Find(qRoster).ChildrenNamed("", "item") {
			if it.Attr("jid") == bob {
				return it.Attr("subscription") == "both"
			}
		}
		return false
	})

	a.Emit(&transports.PresenceEvent{From: "bob", Presence: transports.Presence{Show: transports.Away, Status: "lunch"}})
	p := c.Expect(t, "bob's presence", isPresence(bob, ""))
	if p.ChildText("", "show") != "away" || p.ChildText("", "status") != "lunch" {
		t.Errorf("bob's presence: %s", p)
	}

	// A second resource's initial presence reaches the gateway, and the
	// gateway's presence reaches that resource.
	j := c.JID.Bare()
	phone := srv.Login(t, j, "xmpp-pw", "phone", 0)
	phone.Expect(t, "the gateway's presence", func(el *testenv.Element) bool {
		return isPresence(gw, "")(el) && el.ChildText("", "status") == "Connected"
	})

	// The component restarts: on its new stream it probes its registered
	// users, and only the server's answer (pia is online) can start her
	// legacy session again — she sends nothing, and stay_connected is off.
	before := e.net.Connects()
	e.stop()
	e.start(t, e.key, nil)
	waitFor(t, "pia's session started from the server's answer to the component's probe", func() bool {
		return e.net.Connects() > before
	})
}

// serverRooms: a MUC join through the server, the occupants and subject,
// and groupchat both ways with the fake network's room.
func serverRooms(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv, rooms: true})
	e.net.SeedRoom("#test", transportstest.RoomSeed{
		Occupants: []transports.OccupantEvent{{Nick: "alice", Role: transports.RoleModerator, Affiliation: transports.AffiliationAdmin}},
		Topic:     "Welcome", TopicBy: "alice",
	})
	c, a := roomUser(t, e, "mona")
	join(t, c, testRoom, "mona", "")
	alice := c.Expect(t, "alice's presence", func(el *testenv.Element) bool {
		return isStanza(el, "presence") && el.Attr("from") == testRoom+"/alice"
	})
	if it := alice.Find(xMUCUser, "item"); it == nil || it.Attr("role") != "moderator" {
		t.Errorf("alice's presence: %s", alice)
	}
	c.Expect(t, "self-presence", isSelfPresence(testRoom+"/mona"))
	if s := c.Expect(t, "subject", isSubject(testRoom)); s.ChildText("", "subject") != "Welcome" {
		t.Errorf("subject: %s", s)
	}

	c.Send(t, `<message type="groupchat" id="g1" to="`+testRoom+`"><body>hello room</body></message>`)
	select {
	case m := <-a.Sent():
		if m.To != "#test" || m.Body != "hello room" {
			t.Errorf("adapter got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("groupchat never reached the adapter")
	}
	if r := c.Expect(t, "reflection", isGroupchat(testRoom+"/mona", "hello room")); r.Attr("id") != "g1" {
		t.Errorf("reflection: %s", r)
	}
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "alice", Body: "hello mona", RemoteID: "r1"})
	c.Expect(t, "alice's message", isGroupchat(testRoom+"/alice", "hello mona"))

	c.Send(t, `<presence type="unavailable" to="`+testRoom+`/mona"/>`)
	c.Expect(t, "own unavailable presence", func(el *testenv.Element) bool {
		return isStanza(el, "presence") && el.Attr("from") == testRoom+"/mona" && el.Attr("type") == "unavailable" && hasCodes(el, 110)
	})
	waitFor(t, "the legacy room left", func() bool { return !a.Joined("#test") })
}

// serverCommands: the ad-hoc command list and a command run through its
// form to completion.
func serverCommands(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	c := e.user(t, "olga", "pc", 0)
	e.register(t, c)
	res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands"/></iq>`)
	nodes := map[string]bool{}
	for _, it := range res.Find(qDiscoItems).ChildrenNamed("", "item") {
		nodes[it.Attr("node")] = true
	}
	for _, n := range []string{"settings", "reconnect", "status", "unregister"} {
		if !nodes[n] {
			t.Errorf("command %s not listed: %s", n, res)
		}
	}
	if nodes["statistics"] {
		t.Errorf("an admin command listed to a user: %s", res)
	}
	res = c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" action="execute"/></iq>`)
	cmd := res.Find(elCommand)
	if cmd == nil || cmd.Child("jabber:x:data", "x") == nil {
		t.Fatalf("settings: %s", res)
	}
	res = c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" sessionid="`+cmd.Attr("sessionid")+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="stay_connected"><value>true</value></field></x></command></iq>`)
	if st := res.Find(elCommand); st == nil || st.Attr("status") != "completed" {
		t.Fatalf("settings complete: %s", res)
	}
	if s, err := e.reg.Settings(context.Background(), "olga@localhost", "fake"); err != nil || s["stay_connected"] != "true" {
		t.Errorf("setting not stored: %v %v", s, err)
	}
}

// serverReconnect: the server restarts; the component's stream comes back,
// and what the legacy side said meanwhile is taken by the server (the
// outbox acknowledged) and reaches the user at their next login.
func serverReconnect(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	j := srv.CreateUser(t, "rex", "xmpp-pw")
	c := srv.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" action="execute"/></iq>`)
	sid := res.Find(elCommand).Attr("sessionid")
	c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" sessionid="`+sid+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="stay_connected"><value>true</value></field></x></command></iq>`)
	a := e.adapter(t, "rex@localhost")

	srv.Stop(t)
	a.Emit(&transports.MessageEvent{From: "ken", Body: "while the server was down"})
	if n := e.comp.Stats().OutboxPending; n != 1 {
		t.Errorf("outbox holds %d stanzas while the server is down, want 1", n)
	}
	srv.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for e.comp.Stats().StreamConnects < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("component not back within 30 s of the server being up\n%s", e.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The server took the message (its check came back), with the user
	// offline: it keeps it for the user's next login. (The login waits
	// for that: ejabberd 23.01 stores a message that arrives in the
	// moment the user's first resource sends its initial presence, and
	// delivers it only at the next login — seen with its debug log.)
	e.waitOutboxEmpty(t)
	c2 := srv.Login(t, j, "xmpp-pw", "pc", 0)
	c2.Expect(t, "the message queued while the server was down", func(el *testenv.Element) bool {
		return isMessageFrom("ken@"+gw)(el) && bodyOf(el) == "while the server was down"
	})
}

// serverFiles: a legacy file is streamed into the user's upload slot on
// the server's own HTTP upload service (Prosody's mod_http_file_share,
// ejabberd's mod_http_upload) and reaches the client as a link whose
// content is the file's, byte for byte.
func serverFiles(t *testing.T, srv testenv.XMPPServer) {
	e := newEnv(t, envOptions{prosody: srv})
	c := e.user(t, "fay", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "fay@localhost")

	const size = 300 << 10
	want := mustRead(t, io.LimitReader(&counter{}, size))
	a.Emit(&transports.MessageEvent{From: "otto", Body: "a file", RemoteID: "f1", Attachments: []transports.Attachment{{
		Name: "data.bin", Type: "application/octet-stream", Size: size,
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.LimitReader(&counter{}, size)), nil
		},
	}}})
	m := c.Expect(t, "message with the file", func(el *testenv.Element) bool { return strings.HasPrefix(bodyOf(el), "a file") })
	links := m.ChildrenNamed("jabber:x:oob", "x")
	if len(links) != 1 {
		t.Fatalf("want one link: %s\n%s", m, e.logs)
	}
	if got := download(t, links[0].ChildText("jabber:x:oob", "url")); !bytes.Equal(got, want) {
		t.Errorf("downloaded %d bytes, not the %d streamed", len(got), len(want))
	}
}
