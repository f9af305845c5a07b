package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/sms"
)

const (
	smsGW       = "sms.localhost"
	smsToken    = "e2e-kannel-token-0123456789"
	aliceNumber = "+15550100001"
	bobNumber   = "+15551234567"
	bobJID      = bobNumber + "@" + smsGW
)

// smsStack is Prosody + the component bridging to SMS through a real
// Kannel (bearerbox, smsbox, fakesmsc), its webhooks served as the app
// serves them (/hooks/sms/, body cap).
type smsStack struct {
	mu sync.Mutex // guards gateway, and its comp across restarts
	*gateway
	k *testenv.Kannel
}

func newSMSStack(t *testing.T) *smsStack {
	t.Helper()
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{smsGW: secret}})
	s := &smsStack{}
	hooks := httptest.NewServer(http.StripPrefix("/hooks/sms", http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := s.handler()
		if h == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}), 1<<20)))
	t.Cleanup(hooks.Close)
	public := hooks.URL + "/hooks/sms/"
	s.k = testenv.StartKannel(t, testenv.KannelOptions{
		MOURL: public + "kannel/" + smsToken + "/inbound?from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"})
	network := sms.New(sms.Config{Provider: sms.ProviderKannel, DefaultCountry: "US", Numbers: []string{aliceNumber},
		Kannel: sms.KannelConfig{SendSMSURL: s.k.SendSMSURL, Username: s.k.Username, Password: s.k.Password, Token: smsToken},
		Logger: debugLogger(logs)})
	g := startHookedGateway(t, p, smsGW, network, logs, public)
	s.mu.Lock()
	s.gateway = g
	s.mu.Unlock()
	return s
}

// handler is the component's webhook handler, nil while none runs.
func (s *smsStack) handler() http.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gateway == nil || s.comp == nil {
		return nil
	}
	return s.comp.HTTPHandler()
}

// TestSMSEndToEnd: registration hands alice a number of the pool; a
// text to that number arrives as chat from the sender's E.164 JID; her
// answer reaches the SMS centre from her number, and its delivery report
// becomes an XEP-0184 receipt; a long Unicode text goes in parts; XEP-0100
// turns a typed number into a JID; texts while she is offline, and while
// the gateway restarts, arrive once each.
func TestSMSEndToEnd(t *testing.T) {
	s := newSMSStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	res := c.IQ(t, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field></x></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+smsGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)

	// XEP-0100: what she types becomes the contact's JID.
	res = c.IQ(t, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:gateway"><prompt>(555) 123-4567</prompt></query></iq>`)
	if got := res.Child("jabber:iq:gateway", "query").ChildText("jabber:iq:gateway", "jid"); got != bobJID {
		t.Fatalf("XEP-0100: %s, want %s", res, bobJID)
	}
	res = c.IQ(t, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:gateway"><prompt>+1 555</prompt></query></iq>`)
	if cond, text := stanzaError(res); cond != "jid-malformed" || !strings.Contains(text, "too short") {
		t.Fatalf("XEP-0100 of a short number: %s", res)
	}

	// In: a text to her number.
	if err := s.k.Receive(bobNumber, aliceNumber, "Are you there?", false); err != nil {
		t.Fatal(err)
	}
	c.Expect(t, "the text as chat", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && el.Attr("type") == "chat" && body(el) == "Are you there?"
	})

	// Out, with a receipt once Kannel reports delivery.
	c.Send(t, `<message type="chat" id="m1" to="`+bobJID+`"><body>Yes, here.</body><request xmlns="urn:xmpp:receipts"/></message>`)
	mt, err := s.k.NextMT(timeout)
	if err != nil {
		t.Fatal(err)
	}
	if mt != (testenv.MT{From: aliceNumber, To: bobNumber, Kind: "text", Text: "Yes, here."}) {
		t.Fatalf("the SMS centre got %+v", mt)
	}
	c.Expect(t, "the receipt", func(el *testenv.Element) bool {
		r := el.Child("urn:xmpp:receipts", "received")
		return el.Name.Local == "message" && el.Attr("from") == bobJID && r != nil && r.Attr("id") == "m1"
	})

	// A long Unicode text: three parts.
	long := strings.Repeat("Привет, мир! ", 12)
	c.Send(t, `<message type="chat" id="m2" to="`+bobJID+`"><body>`+long+`</body></message>`)
	for i := range 3 {
		mt, err := s.k.NextMT(timeout)
		if err != nil || mt.Kind != "udh" || mt.From != aliceNumber {
			t.Fatalf("part %d: %+v, %v", i+1, mt, err)
		}
	}
	if err := s.k.Receive(bobNumber, aliceNumber, "Ça va? Всё хорошо 😀", true); err != nil {
		t.Fatal(err)
	}
	c.Expect(t, "a UCS-2 text", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && body(el) == "Ça va? Всё хорошо 😀"
	})

	// Offline, then a restart with a text arriving while the gateway is
	// down (smsbox retries its get-url).
	c.Close()
	time.Sleep(500 * time.Millisecond)
	if err := s.k.Receive(bobNumber, aliceNumber, "While you were away", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	s.mu.Lock()
	s.stop()
	s.stop = nil
	s.mu.Unlock()
	if err := s.k.Receive(bobNumber, aliceNumber, "During the restart", false); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.start(t)
	s.mu.Unlock()
	c = s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	c.Send(t, `<presence/>`)
	for _, want := range []string{"While you were away", "During the restart"} {
		c.Expect(t, want, func(el *testenv.Element) bool {
			return el.Name.Local == "message" && el.Attr("from") == bobJID && body(el) == want
		})
	}
	c.ExpectNone(t, 3*time.Second, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && body(el) != ""
	})
}
