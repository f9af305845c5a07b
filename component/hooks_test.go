package component_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// hookEnv is the component over a real Prosody bridging to the fake
// push-based network, with the network's webhook handler served as the
// app mounts it (/hooks/fake/, prefix stripped).
type hookEnv struct {
	*env
	hn     *transportstest.HookNetwork
	public string // the handler's public URL
}

func newHookEnv(t *testing.T, pool ...string) *hookEnv {
	t.Helper()
	hn := transportstest.NewHooks(map[string]string{legacyUsr: legacyPW}, pool...)
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String() + "/hooks/fake/"
	e := newEnv(t, envOptions{tune: func(c *component.Config) {
		c.Network = hn
		c.HookURL = public
	}})
	h := e.comp.HTTPHandler()
	if h == nil {
		t.Fatal("the component has no handler for a network that claims Webhooks")
	}
	srv.Config.Handler = http.StripPrefix("/hooks/fake", h)
	srv.Start()
	t.Cleanup(srv.Close)
	if got := hn.Hooks().PublicURL; got != public {
		t.Fatalf("the network was attached with PublicURL %q, want %q", got, public)
	}
	return &hookEnv{env: e, hn: hn, public: public}
}

// post sends a signed webhook request and returns its status code.
func (h *hookEnv) post(t *testing.T, path string, form url.Values) int {
	t.Helper()
	body := form.Encode()
	req, err := http.NewRequest("POST", h.public+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Fake-Signature", transportstest.Sign(h.hn.Secret, h.public+path, []byte(body)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (h *hookEnv) number(t *testing.T, user string) string {
	t.Helper()
	r, err := h.reg.Lookup(context.Background(), user, "fake")
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	return r.Credentials["number"]
}

// TestRegistrarAssignsAndReleases: every registration door stores the
// credentials as the network amended them (a number from the pool, held
// in the network's store), a full pool refuses with the network's words,
// and unregistering releases the number for the next user.
func TestRegistrarAssignsAndReleases(t *testing.T) {
	h := newHookEnv(t, "+15550001", "+15550002")
	ctx := context.Background()
	store := h.hn.Hooks().Store

	alice := h.user(t, "alice", "pc", 0)
	h.register(t, alice) // XEP-0077
	if got := h.number(t, "alice@localhost"); got != "+15550001" {
		t.Fatalf("alice's number = %q, want +15550001", got)
	}

	bob := h.user(t, "bob", "pc", 0)
	say := func(c *testenv.Client, text string) {
		c.Send(t, `<message type="chat" to="`+gw+`"><body>`+text+`</body></message>`)
	}
	expect := func(c *testenv.Client, part string) *testenv.Element {
		t.Helper()
		return c.Expect(t, "gateway says "+part, func(el *testenv.Element) bool {
			return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), part)
		})
	}
	for _, line := range []string{"register", legacyUsr, legacyPW, "-"} { // chat
		say(bob, line)
	}
	expect(bob, "You are registered")
	if got := h.number(t, "bob@localhost"); got != "+15550002" {
		t.Fatalf("bob's number = %q, want +15550002", got)
	}

	// The pool is empty: the ad-hoc door says so, nothing is stored.
	carol := h.user(t, "carol", "pc", 0)
	adhoc := func() *testenv.Element {
		res := carol.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="register" action="execute"/></iq>`)
		sid := res.Find(elCommand).Attr("sessionid")
		return carol.IQ(t, `<iq type="set" to="`+gw+`"><command xmlns="http://jabber.org/protocol/commands" node="register" sessionid="`+sid+`" action="complete">`+
			`<x xmlns="jabber:x:data" type="submit"><field var="username"><value>`+legacyUsr+`</value></field><field var="password"><value>`+legacyPW+`</value></field></x></command></iq>`)
	}
	wantError(t, adhoc(), "policy-violation", "no free number left")
	if _, err := h.reg.Lookup(ctx, "carol@localhost", "fake"); err == nil {
		t.Fatal("a refused registration was stored")
	}

	// Alice leaves: her number is free again, and carol gets it.
	res := alice.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><remove/></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("unregister: %s", res)
	}
	if v, err := store.Get(ctx, "number/+15550001"); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("after alice unregistered, number/+15550001 = %q, %v; want it released", v, err)
	}
	if res := adhoc(); res.Find(elCommand) == nil || res.Find(elCommand).Attr("status") != "completed" {
		t.Fatalf("carol's registration with a free number: %s", res)
	}
	if got := h.number(t, "carol@localhost"); got != "+15550001" {
		t.Fatalf("carol's number = %q, want the released +15550001", got)
	}
	if v, err := store.Get(ctx, "number/+15550001"); err != nil || string(v) != "carol@localhost" {
		t.Fatalf("number/+15550001 = %q, %v; want carol@localhost", v, err)
	}
	// The session is connected with the amended credentials.
	carol.Expect(t, "subscription request", isPresence(gw, "subscribe"))
	carol.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	a, err := h.hn.WaitAdapter(ctxTimeout(t), "carol@localhost")
	if err != nil {
		t.Fatal(err)
	}
	if a.Account().Credentials["number"] != "+15550001" {
		t.Errorf("carol's session got credentials without her number: %v", a.Account().Credentials)
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestGatewayPromptNormalized: the XEP-0100 prompt goes through the
// network's Normalizer; what it refuses is jid-malformed with its reason.
func TestGatewayPromptNormalized(t *testing.T) {
	h := newHookEnv(t)
	c := h.user(t, "dora", "pc", 0)
	tests := []struct{ prompt, jid, errText string }{
		{" +1 (555) 123-4567 ", "+15551234567@" + gw, ""},
		{"0044 20 7946 0000", "+442079460000@" + gw, ""},
		{"hello", "", "not an international phone number"},
	}
	for _, tt := range tests {
		res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:gateway"><prompt>`+tt.prompt+`</prompt></query></iq>`)
		if tt.errText != "" {
			wantError(t, res, "jid-malformed", tt.errText)
			continue
		}
		q := res.Find(qGateway)
		if res.Attr("type") != "result" || q == nil || q.ChildText("jabber:iq:gateway", "jid") != tt.jid {
			t.Errorf("prompt %q: %s, want jid %s", tt.prompt, res, tt.jid)
		}
	}
}

// TestDeferredReceipts: with a network whose Send is not delivery, the
// XEP-0184 receipt waits for the network's report, names the stanza id
// (also when the message had an origin-id), and a failed delivery comes
// back as an error with the message's id and the network's reason.
func TestDeferredReceipts(t *testing.T) {
	h := newHookEnv(t, "+15550001")
	c := h.user(t, "erin", "pc", 0)
	h.register(t, c)
	if _, err := h.hn.WaitAdapter(ctxTimeout(t), "erin@localhost"); err != nil {
		t.Fatal(err)
	}
	contact := "+15557654321@" + gw
	isReceipt := func(id string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool {
			r := el.Child("urn:xmpp:receipts", "received")
			return isStanza(el, "message") && r != nil && r.Attr("id") == id
		}
	}
	// send sends a message asking for a receipt and returns the
	// RemoteID the network gave it, once the user's lane is past it.
	send := func(id, extra string) transports.RemoteID {
		t.Helper()
		c.Send(t, `<message type="chat" id="`+id+`" to="`+contact+`"><body>hi `+id+`</body>`+
			`<request xmlns="urn:xmpp:receipts"/>`+extra+`</message>`)
		var sent transportstest.SentMessage
		select {
		case sent = <-h.hn.Sent():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was not sent", id)
		}
		if sent.Message.Body != "hi "+id {
			t.Fatalf("sent %+v, want the body of %s", sent, id)
		}
		// The lane runs the user's stanzas in order: once "status" is
		// answered, the message's work is done, and a receipt sent then
		// would have come first.
		c.Send(t, `<message type="chat" to="`+gw+`"><body>status</body></message>`)
		c.Expect(t, "status", func(el *testenv.Element) bool {
			return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "connected")
		})
		for _, el := range c.Pending() {
			if isReceipt(id)(el) {
				t.Fatalf("receipt for %s before the network reported delivery: %s", id, el)
			}
		}
		return sent.ID
	}

	rid := send("s1", `<origin-id xmlns="urn:xmpp:sid:0" id="o1"/>`)
	if code := h.post(t, "status", url.Values{"to": {"+15550001"}, "contact": {"+15557654321"}, "id": {string(rid)}, "status": {"delivered"}}); code != 204 {
		t.Fatalf("status webhook: %d", code)
	}
	r := c.Expect(t, "receipt for s1", isReceipt("s1"))
	if bareOf(r.Attr("from")) != contact {
		t.Errorf("receipt from %s, want %s", r.Attr("from"), contact)
	}

	rid = send("s2", "")
	if code := h.post(t, "status", url.Values{"to": {"+15550001"}, "contact": {"+15557654321"}, "id": {string(rid)}, "status": {"failed"}, "error": {"carrier said no"}}); code != 204 {
		t.Fatalf("status webhook: %d", code)
	}
	el := c.Expect(t, "error for s2", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "s2"
	})
	wantError(t, el, "recipient-unavailable", "carrier said no")
	if bareOf(el.Attr("from")) != contact {
		t.Errorf("error from %s, want %s", el.Attr("from"), contact)
	}
	if code := h.post(t, "status", url.Values{"to": {"+15550001"}, "contact": {"+15557654321"}, "id": {"never-sent"}, "status": {"delivered"}}); code != 204 {
		t.Fatalf("status webhook for an unknown message: %d", code)
	}
	c.ExpectNone(t, 300*time.Millisecond, func(el *testenv.Element) bool { return el.Child("urn:xmpp:receipts", "received") != nil })

	// A network that reports delivery before Send returned its ID: the
	// report waits for the ID, and the receipt still names the stanza.
	c.Send(t, `<message type="chat" id="s4" to="`+string(transportstest.InstantContact)+`@`+gw+`"><body>hi s4</body>`+
		`<request xmlns="urn:xmpp:receipts"/><origin-id xmlns="urn:xmpp:sid:0" id="o4"/></message>`)
	r = c.Expect(t, "receipt for s4, reported during Send", isReceipt("s4"))
	if bareOf(r.Attr("from")) != string(transportstest.InstantContact)+"@"+gw {
		t.Errorf("receipt from %s", r.Attr("from"))
	}
	<-h.hn.Sent()

	// After a restart the pending receipts in memory are gone; the
	// durable copy answers as before: the stanza id, not the origin-id
	// the message-ID map pairs, to the resource that sent the message,
	// and a failure as an error with the stanza id.
	rid = send("s3", `<origin-id xmlns="urn:xmpp:sid:0" id="o3"/>`)
	rid5 := send("s5", `<origin-id xmlns="urn:xmpp:sid:0" id="o5"/>`)
	h.stop()
	h.start(t, h.key, nil)
	err := h.comp.Deliver(context.Background(), "erin@localhost", &transports.ReceiptEvent{To: "+15557654321", Remote: rid, Delivered: true})
	if err != nil {
		t.Fatalf("Deliver after the restart: %v", err)
	}
	r = c.Expect(t, "receipt for s3 after a restart", isReceipt("s3"))
	if bareOf(r.Attr("from")) != contact || r.Attr("to") != "erin@localhost/pc" {
		t.Errorf("receipt from %s to %s, want from %s to erin@localhost/pc", r.Attr("from"), r.Attr("to"), contact)
	}
	err = h.comp.Deliver(context.Background(), "erin@localhost", &transports.ReceiptEvent{To: "+15557654321", Remote: rid5, Error: "carrier said no"})
	if err != nil {
		t.Fatalf("Deliver after the restart: %v", err)
	}
	el = c.Expect(t, "error for s5 after a restart", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "s5"
	})
	wantError(t, el, "recipient-unavailable", "carrier said no")
	if bareOf(el.Attr("from")) != contact || el.Attr("to") != "erin@localhost/pc" {
		t.Errorf("error from %s to %s, want from %s to erin@localhost/pc", el.Attr("from"), el.Attr("to"), contact)
	}
	// Answered once: the same report again finds nothing.
	if err := h.comp.Deliver(context.Background(), "erin@localhost", &transports.ReceiptEvent{To: "+15557654321", Remote: rid, Delivered: true}); err != nil {
		t.Fatalf("Deliver again: %v", err)
	}
	c.ExpectNone(t, 300*time.Millisecond, func(el *testenv.Element) bool { return el.Child("urn:xmpp:receipts", "received") != nil })
}

// TestDeliverWithoutSession: a webhook delivers to a registered user
// whose legacy session is not running (they never told the gateway they
// are online), durably, and refuses a user who is not registered.
func TestDeliverWithoutSession(t *testing.T) {
	h := newHookEnv(t, "+15550001")
	ctx := context.Background()
	// Registered, but the client never subscribed to the gateway: no
	// presence reaches it, so no session starts.
	creds, err := h.hn.Register(ctx, "fred@localhost", transports.Credentials{"username": legacyUsr, "password": legacyPW})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Register(ctx, "fred@localhost", "fake", creds); err != nil {
		t.Fatal(err)
	}
	c := h.user(t, "fred", "pc", 0)
	if code := h.post(t, "message", url.Values{"to": {"+15550001"}, "from": {"+15557654321"}, "body": {"your code is 1234"}, "id": {"sms-1"}}); code != 204 {
		t.Fatalf("message webhook: %d\n%s", code, h.logs)
	}
	m := c.Expect(t, "the SMS", isMessageFrom("+15557654321@"+gw))
	if bodyOf(m) != "your code is 1234" || m.Attr("type") != "chat" {
		t.Errorf("got %s", m)
	}
	if h.hn.Connects() != 0 {
		t.Errorf("delivering connected %d sessions, want none", h.hn.Connects())
	}
	// The same provider message again (a retry) is not shown twice.
	if code := h.post(t, "message", url.Values{"to": {"+15550001"}, "from": {"+15557654321"}, "body": {"your code is 1234"}, "id": {"sms-1"}}); code != 204 {
		t.Fatalf("repeated webhook: %d", code)
	}
	c.ExpectNone(t, 300*time.Millisecond, isMessageFrom("+15557654321@"+gw))

	// Not registered: nothing delivered, and the network hears why.
	err = h.comp.Deliver(ctx, "nobody@localhost", &transports.MessageEvent{From: "+1555", Body: "x"})
	if !errors.Is(err, transports.ErrNotFound) {
		t.Errorf("Deliver to an unregistered user: err = %v, want ErrNotFound", err)
	}
	if err := h.comp.Deliver(ctx, "fred@localhost", &transports.StateEvent{}); !errors.Is(err, transports.ErrInvalidInput) {
		t.Errorf("Deliver of a StateEvent: err = %v, want ErrInvalidInput", err)
	}

	// Without his session, the network reads the credentials he
	// registered with (as it amended them), opened; nobody's are not
	// found.
	cr := h.hn.Hooks().Credentials
	if cr == nil {
		t.Fatal("the network was attached without a CredentialReader")
	}
	got, err := cr.Credentials(ctx, "fred@localhost")
	if err != nil || got["number"] != "+15550001" || got["password"] != legacyPW {
		t.Errorf("fred's credentials: %v, %v; want his number and password", got, err)
	}
	if _, err := cr.Credentials(ctx, "nobody@localhost"); !errors.Is(err, transports.ErrNotFound) {
		t.Errorf("an unregistered user's credentials: err = %v, want ErrNotFound", err)
	}
}

// TestHooksCapabilityGates: a network that attaches hooks but does not
// claim Webhooks gets its store and deliverer, and no handler is served.
func TestHooksCapabilityGates(t *testing.T) {
	hn := transportstest.NewHooks(map[string]string{legacyUsr: legacyPW})
	hn.Caps.Webhooks = false
	e := newEnv(t, envOptions{tune: func(c *component.Config) { c.Network = hn }})
	if e.comp.HTTPHandler() != nil {
		t.Error("a handler is served for a network that does not claim Webhooks")
	}
	if h := hn.Hooks(); h.Store == nil || h.Deliver == nil {
		t.Errorf("the network was not attached: %+v", h)
	}
}
