package component_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)

	items := c.IQ(t, `<iq type="get" to="localhost"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	found := false
	for _, it := range items.Find(qDiscoItems).ChildrenNamed("", "item") {
		found = found || it.Attr("jid") == gw
	}
	if !found {
		t.Errorf("the server's disco#items does not list %s: %s", gw, items)
	}

	info := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	id := info.Find(qDiscoInfo, "identity")
	if id == nil || id.Attr("category") != "gateway" || id.Attr("type") != "irc" || id.Attr("name") != "Fake IRC" {
		t.Errorf("identity = %v", id)
	}
	features := map[string]bool{}
	for _, f := range info.Find(qDiscoInfo).ChildrenNamed("", "feature") {
		features[f.Attr("var")] = true
	}
	for _, want := range []string{"jabber:iq:register", "jabber:iq:gateway", "http://jabber.org/protocol/commands",
		"http://jabber.org/protocol/disco#info", "urn:xmpp:ping", "jabber:iq:version"} {
		if !features[want] {
			t.Errorf("feature %s not advertised", want)
		}
	}
	for _, f := range []string{"http://jabber.org/protocol/muc", "urn:xmpp:reactions:0"} {
		if features[f] {
			t.Errorf("%s advertised by a network without rooms", f)
		}
	}

	res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info" node="nonsense"/></iq>`)
	wantError(t, res, "item-not-found", "")
	res = c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="urn:example:unknown"/></iq>`)
	wantError(t, res, "service-unavailable", "")
	res = c.IQ(t, `<iq type="get" to="`+gw+`"><ping xmlns="urn:xmpp:ping"/></iq>`)
	if res.Attr("type") != "result" {
		t.Errorf("ping: %s", res)
	}
	res = c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="jabber:iq:version"/></iq>`)
	if res.Find(qVersion, "name") == nil || res.Find(qVersion, "name").Text != "Switchboard" {
		t.Errorf("version: %s", res)
	}
	// XEP-0100 jabber:iq:gateway: the legacy address becomes a JID.
	res = c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:gateway"><prompt>bob@example.com</prompt></query></iq>`)
	if j := res.Find(qGateway, "jid"); j == nil || j.Text != `bob\40example.com@`+gw {
		t.Errorf("jabber:iq:gateway: %s", res)
	}
}

func TestRegistrationForm(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)
	res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="jabber:iq:register"/></iq>`)
	q := res.Find(qRegister)
	if q == nil || res.Attr("type") != "result" {
		t.Fatalf("register get: %s", res)
	}
	if q.Child("", "registered") != nil {
		t.Error("<registered/> before registering")
	}
	// XEP-0077 §3.1: the legacy fields are in jabber:iq:register (an
	// old client ignores a <username xmlns=""/>).
	for _, legacy := range []string{"username", "password", "instructions"} {
		if q.Child("jabber:iq:register", legacy) == nil {
			t.Errorf("legacy <%s/> missing: %s", legacy, res)
		}
	}
	x := q.Child("jabber:x:data", "x")
	if x == nil || x.Attr("type") != "form" {
		t.Fatalf("no data form: %s", res)
	}
	vars := map[string]string{}
	for _, f := range x.ChildrenNamed("", "field") {
		vars[f.Attr("var")] = f.Attr("type")
	}
	want := map[string]string{"FORM_TYPE": "hidden", "username": "text-single", "password": "text-private", "server": "text-single"}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("field %s has type %q, want %q", k, vars[k], v)
		}
	}

	e.register(t, c)
	res = c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="jabber:iq:register"/></iq>`)
	if res.Find(qRegister, "registered") == nil {
		t.Errorf("no <registered/> after registering: %s", res)
	}
	if strings.Contains(res.String(), legacyPW) {
		t.Errorf("the form echoes the password: %s", res)
	}
	if u := res.Find(qRegister, "username"); u == nil || u.Text != legacyUsr {
		t.Errorf("legacy username not pre-filled: %s", res)
	}
}

func TestRegisterConnectsAndStores(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)

	r, err := e.reg.Lookup(context.Background(), "alice@localhost", "fake")
	if err != nil || r.Credentials["password"] != legacyPW || r.Credentials["server"] != "fake.example" {
		t.Fatalf("stored registration = %+v, %v", r.Credentials["username"], err)
	}
	a := e.adapter(t, "alice@localhost")
	if a.Account().Credentials["username"] != legacyUsr {
		t.Errorf("adapter account = %v", a.Account().Credentials["username"])
	}
	c.Expect(t, "the gateway's presence saying connected", func(el *testenv.Element) bool {
		return isPresence(gw, "")(el) && el.Child("", "status") != nil && el.Child("", "status").Text == "Connected" &&
			el.Child("http://jabber.org/protocol/caps", "c") != nil
	})

	// A message to a legacy contact reaches the adapter; the echo comes
	// back from the contact's JID, with a receipt for the sent message.
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
		return r != nil && r.Attr("id") == "m1"
	})
	echo := c.Expect(t, "echo", isMessageFrom("echo@"+gw))
	if bodyOf(echo) != "hello legacy" || echo.Attr("type") != "chat" {
		t.Errorf("echo = %s", echo)
	}

	// A legacy error becomes an XMPP error with the server's text.
	c.Send(t, `<message type="chat" id="m2" to="nobody@`+gw+`"><body>hi</body></message>`)
	errMsg := c.Expect(t, "error for nobody", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "m2"
	})
	wantError(t, errMsg, "item-not-found", "No such nick")
}

func TestRegisterLegacyFields(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "bob", "pc", 0)
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><username>`+legacyUsr+`</username><password>`+legacyPW+`</password></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("legacy registration: %s", res)
	}
	if _, err := e.reg.Lookup(context.Background(), "bob@localhost", "fake"); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)
	form := func(fields string) string {
		return `<iq type="set" to="` + gw + `"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">` + fields + `</x></query></iq>`
	}
	field := func(name, value string) string {
		return `<field var="` + name + `"><value>` + value + `</value></field>`
	}
	tests := []struct {
		name, iq, cond, text string
	}{
		{"wrong password", form(field("username", legacyUsr) + field("password", "wrong")), "not-acceptable", "Invalid username or password"},
		{"missing required field", form(field("username", legacyUsr)), "not-acceptable", `"Password" is required`},
		{"oversize value", form(field("username", strings.Repeat("u", 65)) + field("password", "x")), "not-acceptable", "longer than 64"},
		{"control character", form(field("username", "a&#x9;b") + field("password", "x")), "not-acceptable", "single line"},
		{"malformed form type", `<iq type="set" to="` + gw + `"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="bogus"/></query></iq>`, "bad-request", "submit"},
		{"two payloads", `<iq type="set" to="` + gw + `"><query xmlns="jabber:iq:register"/><query xmlns="jabber:iq:register"/></iq>`, "bad-request", ""}, // Prosody itself refuses it; either way the sender gets bad-request
		{"unknown command", `<iq type="set" to="` + gw + `"><command xmlns="http://jabber.org/protocol/commands" node="nope" action="execute"/></iq>`, "item-not-found", "nope"},
		{"admin command for a user", `<iq type="set" to="` + gw + `"><command xmlns="http://jabber.org/protocol/commands" node="statistics" action="execute"/></iq>`, "forbidden", "administrators"},
		{"unregister when not registered", `<iq type="set" to="` + gw + `"><query xmlns="jabber:iq:register"><remove/></query></iq>`, "item-not-found", "not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.IQ(t, tt.iq), tt.cond, tt.text)
		})
	}
	if _, err := e.reg.Lookup(context.Background(), "alice@localhost", "fake"); !errors.Is(err, registry.ErrNotRegistered) {
		t.Errorf("a failed registration was stored: %v", err)
	}
	// Messages to legacy contacts need a registration.
	c.Send(t, `<message type="chat" id="u1" to="echo@`+gw+`"><body>hi</body></message>`)
	el := c.Expect(t, "registration-required", func(el *testenv.Element) bool { return el.Attr("id") == "u1" })
	wantError(t, el, "registration-required", "Register")
	// The stream survived all of it.
	if res := c.IQ(t, `<iq type="get" to="`+gw+`"><ping xmlns="urn:xmpp:ping"/></iq>`); res.Attr("type") != "result" {
		t.Fatalf("component no longer answers: %s", res)
	}
}

func TestDisallowedDomain(t *testing.T) {
	e := newEnv(t, envOptions{allowed: []string{"example.org"}})
	c := e.user(t, "alice", "pc", 0)
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><username>`+legacyUsr+`</username><password>`+legacyPW+`</password></query></iq>`)
	wantError(t, res, "forbidden", "only serves users of: example.org")
	// Discovery still works, so the user learns why.
	if res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`); res.Attr("type") != "result" {
		t.Errorf("disco#info refused: %s", res)
	}
}

func TestUnregister(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "alice@localhost")
	waitSubscription(t, c, gw, "both")

	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><remove/></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("unregister: %s", res)
	}
	if _, err := e.reg.Lookup(context.Background(), "alice@localhost", "fake"); !errors.Is(err, registry.ErrNotRegistered) {
		t.Errorf("registration still stored: %v", err)
	}
	if !a.Closed() {
		t.Error("adapter still open after unregistering")
	}
	// The gateway leaves the roster: after unsubscribe + unsubscribed the
	// server keeps no subscription either way.
	waitSubscription(t, c, gw, "none", "")
}

// waitSubscription waits until contact's subscription in c's roster is one
// of want ("" = no item).
func waitSubscription(t *testing.T, c *testenv.Client, contact string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sub := rosterSubscription(t, c, contact)
		for _, w := range want {
			if sub == w {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription to %s is %q, want one of %q", contact, sub, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rosterSubscription returns the subscription state of contact in c's
// roster, or "" when there is no item.
func rosterSubscription(t *testing.T, c *testenv.Client, contact string) string {
	t.Helper()
	res := c.IQ(t, `<iq type="get"><query xmlns="jabber:iq:roster"/></iq>`)
	for _, it := range res.Find(qRoster).ChildrenNamed("", "item") {
		if it.Attr("jid") == contact {
			return it.Attr("subscription")
		}
	}
	return ""
}

func TestResourcesAndPriorities(t *testing.T) {
	e := newEnv(t, envOptions{})
	j := e.p.CreateUser(t, "carol", "xmpp-pw")
	high := e.p.Login(t, j, "xmpp-pw", "desktop", 5)
	e.register(t, high)
	a := e.adapter(t, "carol@localhost")
	low := e.p.Login(t, j, "xmpp-pw", "phone", 1)

	// The status command lists both resources, highest priority first
	// (once the phone's presence reached the gateway).
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := high.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="status" action="execute"/></iq>`)
		note := res.Find(elCommand, "note")
		if note != nil && strings.Contains(note.Text, "desktop (priority 5)") && strings.Contains(note.Text, "phone (priority 1)") {
			if strings.Index(note.Text, "desktop") > strings.Index(note.Text, "phone") {
				t.Fatalf("resources not ordered by priority: %s", note.Text)
			}
			// Which account on which server, said once: in the note,
			// with no form beside it repeating the note.
			if !strings.HasPrefix(note.Text, "Fake IRC (Username "+legacyUsr+", Server fake.example): connected\n") || strings.Count(note.Text, legacyUsr) != 1 {
				t.Errorf("status note: %q", note.Text)
			}
			if x := res.Find(elCommand, xData); x != nil {
				t.Errorf("status repeats its note in a form: %s", res)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: %s", res)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A legacy message goes to the bare JID: the server hands it to the
	// highest-priority resource.
	a.Emit(&transports.MessageEvent{From: "dave", Body: "to the desktop"})
	high.Expect(t, "message at the high-priority resource", func(el *testenv.Element) bool {
		return isMessageFrom("dave@"+gw)(el) && bodyOf(el) == "to the desktop"
	})
	low.ExpectNone(t, 500*time.Millisecond, isMessageFrom("dave@"+gw))

	// The user's availability is mirrored on the legacy side.
	high.Send(t, `<presence><show>dnd</show><priority>5</priority><status>busy</status></presence>`)
	deadline = time.Now().Add(5 * time.Second)
	for {
		ps := a.Presences()
		if len(ps) > 0 && ps[len(ps)-1].Show == transports.DoNotDisturb && ps[len(ps)-1].Status == "busy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence not mirrored: %+v", ps)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// When the desktop goes, the phone gets the messages, and the
	// session stays up.
	high.Close()
	time.Sleep(300 * time.Millisecond)
	a.Emit(&transports.MessageEvent{From: "dave", Body: "to the phone"})
	low.Expect(t, "message at the remaining resource", func(el *testenv.Element) bool {
		return isMessageFrom("dave@"+gw)(el) && bodyOf(el) == "to the phone"
	})
	if a.Closed() {
		t.Fatal("session closed while a resource is still online")
	}

	// The last resource going offline ends the session (the default).
	low.Close()
	deadline = time.Now().Add(5 * time.Second)
	for !a.Closed() {
		if time.Now().After(deadline) {
			t.Fatal("session still open after the last resource left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOfflineDeliveryAndStayConnected(t *testing.T) {
	e := newEnv(t, envOptions{})
	j := e.p.CreateUser(t, "erin", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	e.adapter(t, "erin@localhost")

	// Keep the session while offline, through the settings command.
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" action="execute"/></iq>`)
	sid := res.Find(elCommand).Attr("sessionid")
	if res.Find(elCommand).Attr("status") != "executing" || sid == "" || res.Find(elCommand, xData) == nil {
		t.Fatalf("settings first step: %s", res)
	}
	res = c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" sessionid="`+sid+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="stay_connected"><value>1</value></field></x></command></iq>`)
	if res.Find(elCommand).Attr("status") != "completed" {
		t.Fatalf("settings second step: %s", res)
	}
	c.Close()
	time.Sleep(300 * time.Millisecond)
	a := e.net.Adapter("erin@localhost")
	if a == nil || a.Closed() {
		t.Fatal("session closed although stay_connected is on")
	}
	// A legacy message while offline is stored by the server and
	// delivered at the next login.
	a.Emit(&transports.MessageEvent{From: "frank", Body: "while you were away"})
	time.Sleep(300 * time.Millisecond)
	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	c2.Expect(t, "offline message", func(el *testenv.Element) bool {
		return isMessageFrom("frank@"+gw)(el) && bodyOf(el) == "while you were away"
	})
}

func TestAdHocCommands(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.user(t, "admin", "pc", 0)
	user := e.user(t, "gina", "pc", 0)

	list := func(c *testenv.Client) map[string]bool {
		res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands"/></iq>`)
		nodes := map[string]bool{}
		for _, it := range res.Find(qDiscoItems).ChildrenNamed("", "item") {
			nodes[it.Attr("node")] = true
		}
		return nodes
	}
	un := list(user)
	for _, n := range []string{"register", "unregister", "settings", "reconnect", "status"} {
		if !un[n] {
			t.Errorf("user command %s not listed: %v", n, un)
		}
	}
	if un["statistics"] || un["list-users"] || un["disconnect-user"] {
		t.Errorf("admin commands listed to a user: %v", un)
	}
	an := list(admin)
	for _, n := range []string{"statistics", "list-users", "disconnect-user"} {
		if !an[n] {
			t.Errorf("admin command %s not listed: %v", n, an)
		}
	}

	// Register through the command (the second door).
	res := user.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="register" action="execute"/></iq>`)
	sid := res.Find(elCommand).Attr("sessionid")
	if x := res.Find(elCommand, xData); x == nil || x.Attr("type") != "form" {
		t.Fatalf("register command has no form: %s", res)
	}
	res = user.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="register" sessionid="`+sid+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="username"><value>`+legacyUsr+`</value></field><field var="password"><value>`+legacyPW+`</value></field></x></command></iq>`)
	if res.Find(elCommand).Attr("status") != "completed" {
		t.Fatalf("register command: %s", res)
	}
	user.Expect(t, "subscription request", isPresence(gw, "subscribe"))
	user.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	a := e.adapter(t, "gina@localhost")

	// A reused or forged session ID is refused.
	res = user.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="register" sessionid="`+sid+`" action="complete"/></iq>`)
	wantError(t, res, "bad-request", "session")

	res = admin.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="list-users" action="execute"/></iq>`)
	if !strings.Contains(res.String(), "gina@localhost") {
		t.Errorf("list-users: %s", res)
	}
	res = admin.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="statistics" action="execute"/></iq>`)
	if !strings.Contains(res.String(), "registered-users") || res.Find(elCommand).Attr("status") != "completed" {
		t.Errorf("statistics: %s", res)
	}

	res = user.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="reconnect" action="execute"/></iq>`)
	if res.Find(elCommand).Attr("status") != "completed" {
		t.Fatalf("reconnect: %s", res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !a.Closed() || e.net.Adapter("gina@localhost") == a {
		if time.Now().After(deadline) {
			t.Fatal("reconnect did not replace the session")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a = e.adapter(t, "gina@localhost")

	res = admin.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="disconnect-user" action="execute"/></iq>`)
	sid = res.Find(elCommand).Attr("sessionid")
	res = admin.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="disconnect-user" sessionid="`+sid+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="user"><value>gina@localhost</value></field></x></command></iq>`)
	if res.Find(elCommand).Attr("status") != "completed" || !a.Closed() {
		t.Fatalf("disconnect-user: %s (closed=%v)", res, a.Closed())
	}
	user.Expect(t, "notice of the disconnection", func(el *testenv.Element) bool {
		return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "administrator disconnected you")
	})

	res = user.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" action="cancel" sessionid="x"/></iq>`)
	if res.Find(elCommand).Attr("status") != "canceled" {
		t.Errorf("cancel: %s", res)
	}
}

func TestChatInterface(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "hank", "pc", 0)
	say := func(text string) {
		c.Send(t, `<message type="chat" to="`+gw+`"><body>`+text+`</body></message>`)
	}
	expect := func(part string) *testenv.Element {
		t.Helper()
		return c.Expect(t, "gateway says "+part, func(el *testenv.Element) bool {
			return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), part)
		})
	}
	say("help")
	expect("unregister")
	say("status")
	expect("not registered")
	say("register")
	expect("Username")
	say(legacyUsr)
	expect("Password")
	say("wrong")
	expect("Server")
	say("-")
	if got := bodyOf(expect("Registration failed: ")); got != "Registration failed: Invalid username or password\nSend \"register\" to try again." {
		t.Errorf("failed registration says %q, want the legacy server's words once, after no sentinel text", got)
	}
	say("register")
	expect("Username")
	say(legacyUsr)
	expect("Password")
	say(legacyPW)
	expect("Server")
	say("-")
	expect("You are registered")
	if r, err := e.reg.Lookup(context.Background(), "hank@localhost", "fake"); err != nil || r.Credentials["server"] != "fake.example" {
		t.Fatalf("chat registration not stored: %v", err)
	}
	// The status names the legacy account and its server, once (the
	// server is the network's default: the user sent "-").
	say("status")
	st := bodyOf(expect("Fake IRC (Username " + legacyUsr + ", Server fake.example): "))
	if n := strings.Count(st, legacyUsr); n != 1 {
		t.Errorf("status names the account %d times: %q", n, st)
	}
	say("set stay_connected yes")
	expect("Set stay_connected")
	say("settings")
	expect("stay_connected = true")
	say("frobnicate")
	expect(`Unknown command "frobnicate"`)
	say("unregister")
	expect("You are unregistered")
}

func TestFailuresAreNeverSilent(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "ivan", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "ivan@localhost")

	// The legacy connection drops and the network is unreachable: the
	// user sees it as the gateway's presence and as a message.
	e.net.SetUnreachable(true)
	a.Drop(errors.New("connection reset by peer"))
	c.Expect(t, "failure message", func(el *testenv.Element) bool {
		return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "connection reset by peer") && strings.Contains(bodyOf(el), "Retrying at")
	})
	c.Expect(t, "away presence with the reason", func(el *testenv.Element) bool {
		st := el.Child("", "status")
		return isPresence(gw, "")(el) && st != nil && strings.Contains(st.Text, "Disconnected")
	})
	// Sending meanwhile gets an error, not silence.
	c.Send(t, `<message type="chat" id="x1" to="echo@`+gw+`"><body>anyone?</body></message>`)
	wantError(t, c.Expect(t, "error", func(el *testenv.Element) bool { return el.Attr("id") == "x1" }), "recipient-unavailable", "not connected")

	e.net.SetUnreachable(false)
	c.Expect(t, "back message", func(el *testenv.Element) bool {
		return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "Connected to Fake IRC again")
	})

	// Credentials that stop working: bad credentials state, with the text.
	e.net.SetPassword(legacyUsr, "changed-elsewhere")
	e.adapter(t, "ivan@localhost").Drop(errors.New("killed"))
	c.Expect(t, "bad credentials message", func(el *testenv.Element) bool {
		return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "refused the login: Invalid username or password\n")
	})
}

func TestReconnectAfterServerRestartLosesNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	j := e.p.CreateUser(t, "judy", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" action="execute"/></iq>`)
	sid := res.Find(elCommand).Attr("sessionid")
	c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="settings" sessionid="`+sid+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="stay_connected"><value>true</value></field></x></command></iq>`)
	a := e.adapter(t, "judy@localhost")

	e.p.Stop(t)
	// What the legacy side says while the XMPP server is down waits in
	// the outbox.
	for i := range 3 {
		a.Emit(&transports.MessageEvent{From: "ken", Body: "queued " + string(rune('A'+i))})
	}
	if st := e.comp.Stats(); st.OutboxPending != 3 {
		t.Errorf("outbox holds %d stanzas, want 3", st.OutboxPending)
	}
	e.p.Start(t)
	up := time.Now()
	// The time is measured and logged (the stream backoff caps retries at
	// 2 s); the bound is a liveness check, generous for a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for e.comp.Stats().StreamConnects < 2 {
		if ctx.Err() != nil {
			t.Fatalf("component not back within 30 s of the server being up\n%s", e.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("component reconnected %v after the server was up", time.Since(up).Round(time.Millisecond))

	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	for _, want := range []string{"queued A", "queued B", "queued C"} {
		c2.Expect(t, want, func(el *testenv.Element) bool { return isMessageFrom("ken@"+gw)(el) && bodyOf(el) == want })
	}
	e.waitOutboxEmpty(t)
}

func TestOutboxSurvivesRestart(t *testing.T) {
	// A message accepted from the legacy side while the stream is down is
	// delivered by the next process that opens the same database.
	e := newEnv(t, envOptions{})
	j := e.p.CreateUser(t, "kim", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "kim@localhost")
	c.Close()
	e.p.Stop(t)
	a.Emit(&transports.MessageEvent{From: "lee", Body: "survives a restart"})
	e.stop()

	e.p.Start(t)
	e.start(t, e.key, nil)
	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	c2.Expect(t, "message from before the restart", func(el *testenv.Element) bool {
		return isMessageFrom("lee@"+gw)(el) && bodyOf(el) == "survives a restart"
	})
}

func TestSecretsStayOutOfLogsAndStorage(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "liz", "pc", 0)
	// Wrong, then right, by every door.
	c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><username>`+legacyUsr+`</username><password>`+legacyPW+`-wrong</password></query></iq>`)
	e.register(t, c)
	e.adapter(t, "liz@localhost")
	c.Send(t, `<message type="chat" to="`+gw+`"><body>status</body></message>`)
	c.Expect(t, "status", isMessageFrom(gw))
	e.stop()

	if strings.Contains(e.logs.String(), legacyPW) {
		t.Errorf("the password appears in the log:\n%s", e.logs)
	}
	if !strings.Contains(e.logs.String(), "user registered") {
		t.Errorf("the log is not the component's (nothing logged?):\n%s", e.logs)
	}
	raw, err := os.ReadFile(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), legacyPW) {
		t.Error("the password is readable in the storage file")
	}
	if !strings.Contains(string(raw), "liz@localhost") {
		t.Error("the storage file holds no registration at all (test would pass vacuously)")
	}
}

// TestExactlyOnceAndNetworkCommands: a legacy message delivered again
// (a network replaying after a crash) reaches the user once; a contact's
// display name travels as XEP-0172 nick; the network's own ad-hoc
// command runs on the user's adapter and keeps state in its Store.
func TestExactlyOnceAndNetworkCommands(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "olga", "pc", 0)
	e.register(t, c)
	c.Send(t, `<presence/>`)
	a := e.adapter(t, "olga@localhost")

	for range 2 {
		a.Emit(&transports.MessageEvent{From: "mail-bob", Nick: "Bob B.", RemoteID: "7:42", Body: "only once"})
	}
	m := c.Expect(t, "the message", func(el *testenv.Element) bool { return bodyOf(el) == "only once" })
	if m.ChildText("http://jabber.org/protocol/nick", "nick") != "Bob B." {
		t.Errorf("nick: %s", m)
	}
	c.ExpectNone(t, time.Second, func(el *testenv.Element) bool { return bodyOf(el) == "only once" })

	run := func() string {
		res := c.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="count" action="execute"/></iq>`)
		if res.Attr("type") != "result" {
			t.Fatalf("command: %s", res)
		}
		return res.Find(elCommand, "note").Text
	}
	if got := run(); got != "runs: 1" {
		t.Errorf("first run: %q", got)
	}
	if got := run(); got != "runs: 2" {
		t.Errorf("second run: %q", got)
	}
}

// TestAttachments: a legacy file is uploaded to the user's server
// (XEP-0363) and linked (XEP-0066); one too large to fetch is named in the
// message with its size, never silently dropped.
func TestAttachments(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "nina", "pc", 0)
	e.register(t, c)
	c.Send(t, `<presence/>`)
	a := e.adapter(t, "nina@localhost")
	a.Emit(&transports.MessageEvent{From: "otto", Body: "two files", Attachments: []transports.Attachment{
		{Name: "notes.txt", Type: "text/plain", Size: 5, Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("hello")), nil
		}},
		{Name: "movie.iso", Type: "application/octet-stream", Size: 4 << 30},
	}})
	m := c.Expect(t, "message with files", func(el *testenv.Element) bool { return strings.HasPrefix(bodyOf(el), "two files") })
	oob := m.Child("jabber:x:oob", "x")
	if oob == nil || !strings.Contains(bodyOf(m), oob.ChildText("jabber:x:oob", "url")) {
		t.Fatalf("no link for the uploaded file: %s", m)
	}
	resp, err := http.Get(oob.ChildText("jabber:x:oob", "url"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "hello" {
		t.Errorf("downloaded %q", got)
	}
	if !strings.Contains(bodyOf(m), "movie.iso") || !strings.Contains(bodyOf(m), strconv.Itoa(4<<30)) {
		t.Errorf("the file not delivered is not named with its size: %q", bodyOf(m))
	}
}
