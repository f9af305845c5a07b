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

// twilioStack is Prosody + the component bridging to SMS in own mode
// (bring your own Twilio account) through the scripted Twilio, whose
// webhooks reach the component's handler as the app serves it
// (/hooks/sms/, body cap).
type twilioStack struct {
	*gateway
	f      *twiliotest.Server
	public string // the handler's public URL, ending in "/"
}

func newTwilioStack(t *testing.T) *twilioStack {
	t.Helper()
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{smsGW: secret}})
	s := &twilioStack{f: twiliotest.New(t)}
	s.f.AddAccount(twilioSID, twilioToken, aliceOwnNum)
	// Started once the component runs (its address is known before).
	hooks := httptest.NewUnstartedServer(http.StripPrefix("/hooks/sms", http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.comp.HTTPHandler().ServeHTTP(w, r)
	}), 1<<20)))
	s.public = "http://" + hooks.Listener.Addr().String() + "/hooks/sms/"
	s.f.SetIncomingURL(aliceOwnNum, s.public+"twilio/inbound")
	network := sms.New(sms.Config{Provider: sms.ProviderTwilio, Mode: sms.ModeOwn, DefaultCountry: "US",
		Twilio: sms.TwilioConfig{APIURL: s.f.URL}, Logger: debugLogger(logs)})
	s.gateway = startHookedGateway(t, p, smsGW, network, logs, s.public)
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
	s := newTwilioStack(t)
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
