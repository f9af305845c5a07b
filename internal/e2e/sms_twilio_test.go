package e2e_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/sms"
	"github.com/switchboard-im/switchboard/sms/twiliotest"
)

const (
	twilioSID   = "AC0000000000000000000000000000e2e1"
	twilioToken = "alices-own-auth-token"
	aliceOwnNum = "+15550109999"
)

// twilioStack is Prosody + the component bridging to SMS through the
// scripted Twilio, whose webhooks reach the component's handler as the
// app serves it (/hooks/sms/, body cap): in own mode (bring your own
// account: alice's has aliceOwnNum) or in operator mode (the operator's
// account, the same SID, has the pool aliceNumber and poolNumber2).
type twilioStack struct {
	*gateway
	f      *twiliotest.Server
	public string // the handler's public URL, ending in "/"
}

const poolNumber2 = "+15550100002"

func newTwilioStack(t *testing.T, mode string, admins ...string) *twilioStack {
	t.Helper()
	return newTwilioStackWith(t, mode, nil, admins...)
}

// newTwilioStackWith is newTwilioStack with the SMS configuration
// changed by set (when not nil) before the gateway starts.
func newTwilioStackWith(t *testing.T, mode string, set func(*sms.Config), admins ...string) *twilioStack {
	t.Helper()
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{smsGW: secret}})
	s := &twilioStack{f: twiliotest.New(t)}
	cfg := sms.Config{Provider: sms.ProviderTwilio, Mode: mode, DefaultCountry: "US", Logger: debugLogger(logs),
		Twilio: sms.TwilioConfig{APIURL: s.f.URL}}
	numbers := []string{aliceOwnNum}
	if mode == sms.ModeOperator {
		numbers = []string{aliceNumber, poolNumber2}
		cfg.Numbers = numbers
		cfg.Twilio.AccountSID, cfg.Twilio.AuthToken = twilioSID, twilioToken
	}
	if set != nil {
		set(&cfg)
	}
	s.f.AddAccount(twilioSID, twilioToken, numbers...)
	// Started once the component runs (its address is known before).
	hooks := httptest.NewUnstartedServer(http.StripPrefix("/hooks/sms", http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.comp.HTTPHandler().ServeHTTP(w, r)
	}), 1<<20)))
	s.public = "http://" + hooks.Listener.Addr().String() + "/hooks/sms/"
	for _, n := range numbers {
		s.f.SetIncomingURL(n, s.public+"twilio/inbound")
	}
	s.gateway = newGateway(t, p, smsGW, sms.New(cfg), logs, s.public)
	s.admins = admins
	s.start(t)
	hooks.Start()
	t.Cleanup(hooks.Close)
	return s
}

// registerOwn submits the own-mode registration form (XEP-0077).
func registerOwn(t *testing.T, c *testenv.Client, sid, token, phone string) *testenv.Element {
	t.Helper()
	return c.IQ(t, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="account_sid"><value>`+sid+`</value></field>`+
		`<field var="auth_token"><value>`+token+`</value></field>`+
		`<field var="phone"><value>`+phone+`</value></field></x></query></iq>`)
}

// TestSMSTwilioOwnMode: alice registers her own Twilio account and
// number (checked by a real API call: a wrong token is refused); a text
// to her number arrives from the sender's E.164 JID; her answer goes out
// through her account from her number, and Twilio's status callback
// becomes the XEP-0184 receipt; a forged or unsigned webhook is refused
// with 403 and delivers nothing; once she is offline her session stops,
// and a text then is checked with the token of her registration and
// kept for her as an offline message.
func TestSMSTwilioOwnMode(t *testing.T) {
	s := newTwilioStack(t, sms.ModeOwn)
	ctx := context.Background()
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)

	res := registerOwn(t, c, twilioSID, "not-her-token", aliceOwnNum)
	if cond, text := stanzaError(res); res.Attr("type") != "error" || cond != "not-acceptable" || !strings.Contains(text, "Authenticate (error 20003)") {
		t.Fatalf("registration with a wrong token: %s", res)
	}
	if res := registerOwn(t, c, twilioSID, twilioToken, "(555) 010-9999"); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+smsGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)

	// In: a text to her number, as Twilio posts it.
	if code, _, err := s.f.Receive(ctx, twiliotest.Incoming{From: bobNumber, To: aliceOwnNum, Body: "Hi from Bob"}); err != nil || code != http.StatusOK {
		t.Fatalf("incoming webhook: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the text as chat", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && el.Attr("type") == "chat" && body(el) == "Hi from Bob"
	})

	// Out through her account, with a receipt once Twilio reports
	// delivery (not before: "sent" is on the way).
	c.Send(t, `<message type="chat" id="t1" to="`+bobJID+`"><body>Hi Bob, Alice here.</body><request xmlns="urn:xmpp:receipts"/></message>`)
	m, err := s.f.NextSent(timeout)
	if err != nil {
		t.Fatal(err)
	}
	if m.Account != twilioSID || m.From != aliceOwnNum || m.To != bobNumber || m.Body != "Hi Bob, Alice here." || m.StatusCallback != s.public+"twilio/status" {
		t.Fatalf("Twilio got %+v", m)
	}
	isReceipt := func(el *testenv.Element) bool {
		r := el.Child("urn:xmpp:receipts", "received")
		return el.Name.Local == "message" && el.Attr("from") == bobJID && r != nil && r.Attr("id") == "t1"
	}
	if code, err := s.f.ReportStatus(ctx, m, "sent", ""); err != nil || code != http.StatusNoContent {
		t.Fatalf("status sent: HTTP %d, %v", code, err)
	}
	c.ExpectNone(t, time.Second, isReceipt)
	if code, err := s.f.ReportStatus(ctx, m, "delivered", ""); err != nil || code != http.StatusNoContent {
		t.Fatalf("status delivered: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the receipt", isReceipt)

	// Forged and unsigned webhooks: 403, nothing delivered.
	forged := url.Values{"MessageSid": {"SMforged"}, "AccountSid": {twilioSID}, "From": {bobNumber}, "To": {aliceOwnNum}, "Body": {"forged text"}}
	inbound := s.public + "twilio/inbound"
	for name, sig := range map[string]string{
		"signed with another token": twiliotest.Sign("guessed-token", inbound, forged),
		"signed for another URL":    twiliotest.Sign(twilioToken, strings.Replace(inbound, "127.0.0.1", "localhost", 1), forged),
		"unsigned":                  "",
		"signature of another text": twiliotest.Sign(twilioToken, inbound, url.Values{"Body": {"x"}}),
	} {
		if code, _, err := twiliotest.Post(ctx, inbound, sig, forged); err != nil || code != http.StatusForbidden {
			t.Fatalf("%s: HTTP %d, %v; want 403", name, code, err)
		}
	}
	c.ExpectNone(t, time.Second, func(el *testenv.Element) bool { return body(el) == "forged text" })

	// Offline: her session stops; a text now is checked with her
	// registration's token and kept for her.
	c.Close()
	deadline := time.Now().Add(timeout)
	for s.comp.Stats().Sessions != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("her session still runs after she went offline (%d sessions)", s.comp.Stats().Sessions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, err := s.f.Receive(ctx, twiliotest.Incoming{From: bobNumber, To: aliceOwnNum, Body: "While you were offline"}); err != nil || code != http.StatusOK {
		t.Fatalf("incoming webhook while she is offline: HTTP %d, %v", code, err)
	}
	if code, _, err := twiliotest.Post(ctx, inbound, twiliotest.Sign("guessed-token", inbound, forged), forged); err != nil || code != http.StatusForbidden {
		t.Fatalf("forged while she is offline: HTTP %d, %v; want 403", code, err)
	}
	if n := s.comp.Stats().Sessions; n != 0 {
		t.Fatalf("the webhook started %d sessions", n)
	}
	c = s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	c.Send(t, `<presence/>`)
	c.Expect(t, "the offline text", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && el.Attr("type") == "chat" && body(el) == "While you were offline"
	})
	c.ExpectNone(t, 2*time.Second, func(el *testenv.Element) bool { return body(el) == "forged text" })
}

const nsCommands = "http://jabber.org/protocol/commands"

// TestSMSAdminAssignsNumber: in operator mode an administrator gives
// alice another number with the "Assign a number" command (XEP-0050),
// which only administrators see and may run; she is told, her texts go
// out from it, texts to it reach her, and her old number is nobody's.
func TestSMSAdminAssignsNumber(t *testing.T) {
	s := newTwilioStack(t, sms.ModeOperator, "admin@localhost")
	ctx := context.Background()
	s.p.CreateUser(t, "alice", "xmpp-pw")
	s.p.CreateUser(t, "admin", "admin-pw")
	alice := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	admin := s.p.Login(t, jid.MustParse("admin@localhost"), "admin-pw", "pc", 0)
	res := alice.IQ(t, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field></x></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	alice.Send(t, `<presence to="`+smsGW+`" type="subscribed"/>`)
	alice.Send(t, `<presence/>`)

	listed := func(c *testenv.Client) bool {
		res := c.IQ(t, `<iq type="get" to="`+smsGW+`"><query xmlns="http://jabber.org/protocol/disco#items" node="`+nsCommands+`"/></iq>`)
		for _, it := range res.Child("http://jabber.org/protocol/disco#items", "query").ChildrenNamed("http://jabber.org/protocol/disco#items", "item") {
			if it.Attr("node") == "assign-number" {
				return true
			}
		}
		return false
	}
	if !listed(admin) || listed(alice) {
		t.Fatalf("assign-number listed for the admin: %v, for alice: %v; want only the admin", listed(admin), listed(alice))
	}
	execute := `<iq type="set" to="` + smsGW + `"><command xmlns="` + nsCommands + `" node="assign-number" action="execute"/></iq>`
	if cond, _ := stanzaError(alice.IQ(t, execute)); cond != "forbidden" {
		t.Fatalf("alice running assign-number: %q, want forbidden", cond)
	}

	res = admin.IQ(t, execute)
	cmd := res.Child(nsCommands, "command")
	form := cmd.Child("jabber:x:data", "x")
	if cmd == nil || cmd.Attr("status") != "executing" || form == nil || len(form.ChildrenNamed("jabber:x:data", "field")) != 2 {
		t.Fatalf("the command's form: %s", res)
	}
	res = admin.IQ(t, `<iq type="set" to="`+smsGW+`"><command xmlns="`+nsCommands+`" node="assign-number" sessionid="`+cmd.Attr("sessionid")+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="user"><value>alice@localhost</value></field>`+
		`<field var="number"><value>(555) 010-0002</value></field></x></command></iq>`)
	cmd = res.Child(nsCommands, "command")
	if cmd == nil || cmd.Attr("status") != "completed" || cmd.ChildText(nsCommands, "note") != "alice@localhost has "+poolNumber2+"." {
		t.Fatalf("the command's result: %s", res)
	}
	alice.Expect(t, "the notice of her number", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == smsGW && strings.Contains(body(el), "gave you the number "+poolNumber2)
	})

	alice.Send(t, `<message type="chat" id="a1" to="`+bobJID+`"><body>New number, same Alice.</body></message>`)
	m, err := s.f.NextSent(timeout)
	if err != nil {
		t.Fatal(err)
	}
	if m.From != poolNumber2 || m.To != bobNumber || m.Body != "New number, same Alice." {
		t.Fatalf("Twilio got %+v", m)
	}
	if code, _, err := s.f.Receive(ctx, twiliotest.Incoming{From: bobNumber, To: poolNumber2, Body: "Got it"}); err != nil || code != http.StatusOK {
		t.Fatalf("a text to her new number: HTTP %d, %v", code, err)
	}
	alice.Expect(t, "the text to her new number", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && body(el) == "Got it"
	})
	if code, _, err := s.f.Receive(ctx, twiliotest.Incoming{From: bobNumber, To: aliceNumber, Body: "To the old one"}); err != nil || code != http.StatusNotFound {
		t.Fatalf("a text to her old number: HTTP %d, %v; want 404", code, err)
	}
	alice.ExpectNone(t, time.Second, func(el *testenv.Element) bool { return body(el) == "To the old one" })
}
