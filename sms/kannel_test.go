package sms

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

const kannelToken = "kannel-secret-token-0123"

// kannelEnv is the network on a real Kannel (bearerbox, smsbox, fakesmsc),
// its webhooks served where Kannel's get-url and dlr-url point.
type kannelEnv struct {
	*hookServer
	k *testenv.Kannel
}

// KannelMOURL is the get-url an admin configures in kannel.conf's
// sms-service for the network's webhooks served at public.
func kannelMOURL(public, token string) string {
	return public + "kannel/" + token + "/inbound?from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"
}

func newKannelEnv(t *testing.T) *kannelEnv {
	t.Helper()
	h := startHookServer(t)
	k := testenv.StartKannel(t, testenv.KannelOptions{MOURL: kannelMOURL(h.public, kannelToken)})
	h.attach(t, Config{Provider: ProviderKannel, DefaultCountry: "US", Numbers: []string{numA, numB}, RetryWait: 10 * time.Millisecond,
		Kannel: KannelConfig{SendSMSURL: k.SendSMSURL, Username: k.Username, Password: k.Password, Token: kannelToken}})
	return &kannelEnv{hookServer: h, k: k}
}

// receipt waits for the next delivered event and checks it is a receipt.
func (e *kannelEnv) nextEvent(t *testing.T, n int) transports.Event {
	t.Helper()
	got := e.rec.wait(t, n)
	return got[n-1].ev
}

// TestKannelSendAndReceipt: a text reaches the SMS centre from the
// user's number; fakesmsc's reports (accepted by the SMSC, then
// delivered) become one receipt.
func TestKannelSendAndReceipt(t *testing.T) {
	e := newKannelEnv(t)
	creds := e.register(t, "alice@example.org", nil)
	a := e.connect(t, "alice@example.org", creds)
	id, err := a.Send(context.Background(), transports.Message{To: contact, Body: "hello through Kannel"})
	if err != nil {
		t.Fatal(err)
	}
	mt, err := e.k.NextMT(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if mt != (testenv.MT{From: numA, To: contact, Kind: "text", Text: "hello through Kannel"}) {
		t.Fatalf("the SMS centre got %+v", mt)
	}
	want := transports.ReceiptEvent{To: contact, Remote: id, Delivered: true}
	if ev, ok := e.nextEvent(t, 1).(*transports.ReceiptEvent); !ok || *ev != want {
		t.Fatalf("delivered %#v, want %#v", e.rec.events(), want)
	}
	if got := e.rec.events(); len(got) != 1 || got[0].user != "alice@example.org" {
		t.Fatalf("delivered %+v; want the one receipt for alice (the SMSC's acceptance is no receipt)", got)
	}
}

// TestKannelLongUnicode: a text of three UCS-2 segments reaches the SMS
// centre as three concatenated parts.
func TestKannelLongUnicode(t *testing.T) {
	e := newKannelEnv(t)
	a := e.connect(t, "alice@example.org", e.register(t, "alice@example.org", nil))
	body := strings.Repeat("Привет, мир! ", 12) // 156 UCS-2 units: 3 parts of 67
	if c, n := Segments(body); c != UCS2 || n != 3 {
		t.Fatalf("Segments = %v, %d; the test wants 3 UCS-2 parts", c, n)
	}
	if _, err := a.Send(context.Background(), transports.Message{To: contact, Body: body}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mt, err := e.k.NextMT(20 * time.Second)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		if mt.From != numA || mt.To != contact || mt.Kind != "udh" {
			t.Fatalf("part %d: %+v, want a udh part from %s to %s", i+1, mt, numA, contact)
		}
	}
	if mt, err := e.k.NextMT(2 * time.Second); err == nil {
		t.Fatalf("a fourth part: %+v", mt)
	}
}

// TestKannelInbound: texts the SMS centre delivers (GSM and UCS-2) reach
// the number's owner through smsbox's get-url, once each; requests
// without the token or for a number nobody has deliver nothing.
func TestKannelInbound(t *testing.T) {
	e := newKannelEnv(t)
	e.register(t, "alice@example.org", nil)
	if err := e.k.Receive(contact, numA, "hi alice", false); err != nil {
		t.Fatal(err)
	}
	if err := e.k.Receive(contact, numA, "Grüße  😀 and ж", true); err != nil {
		t.Fatal(err)
	}
	got := e.rec.wait(t, 2)
	for i, want := range []string{"hi alice", "Grüße  😀 and ж"} {
		ev, ok := got[i].ev.(*transports.MessageEvent)
		if !ok || ev.From != contact || ev.Body != want || ev.RemoteID == "" || got[i].user != "alice@example.org" {
			t.Fatalf("event %d = %s %#v, want %q from %s", i, got[i].user, got[i].ev, want, contact)
		}
	}

	// Kannel calls again with the same message ID: not delivered twice.
	again := url.Values{"from": {contact}, "to": {numA}, "text": {"hi alice"}, "coding": {"0"}, "charset": {"UTF-8"},
		"id": {strings.TrimPrefix(string(got[0].ev.(*transports.MessageEvent).RemoteID), "kannel/")}}
	if code, _ := get(t, e.public+"kannel/"+kannelToken+"/inbound?"+again.Encode()); code != http.StatusOK {
		t.Fatalf("the same text again: HTTP %d", code)
	}
	bad := []struct {
		name, url string
		status    int
	}{
		{"no token", e.public + "kannel/inbound?" + again.Encode(), http.StatusNotFound},
		{"wrong token", e.public + "kannel/kannel-secret-token-0124/inbound?" + again.Encode(), http.StatusForbidden},
		{"nobody has the number", e.public + "kannel/" + kannelToken + "/inbound?" + with(again, "to", numB, "id", "x1").Encode(), http.StatusNotFound},
		{"sender not a number", e.public + "kannel/" + kannelToken + "/inbound?" + with(again, "from", "alice", "id", "x2").Encode(), http.StatusBadRequest},
		{"not UTF-8", e.public + "kannel/" + kannelToken + "/inbound?" + with(again, "text", "caf\xe9", "id", "x3").Encode(), http.StatusBadRequest},
		{"odd UCS-2", e.public + "kannel/" + kannelToken + "/inbound?" + with(again, "coding", "2", "text", "abc", "id", "x4").Encode(), http.StatusBadRequest},
		{"a forged delivery report", e.public + "kannel/wrong-token-0000000000/dlr/abc/" + numA + "/" + contact + "?type=1", http.StatusForbidden},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if code, _ := get(t, b.url); code != b.status {
				t.Fatalf("HTTP %d, want %d", code, b.status)
			}
		})
	}
	if got := e.rec.events(); len(got) != 2 {
		t.Fatalf("delivered %d events, want 2: %+v", len(got), got)
	}
}

// TestKannelRetriesAFailedDelivery: when delivering fails the get-url
// answers 503, smsbox calls it again (http-request-retry), and the text
// is delivered once.
func TestKannelRetriesAFailedDelivery(t *testing.T) {
	e := newKannelEnv(t)
	e.register(t, "alice@example.org", nil)
	e.rec.failNext(transports.ErrUnavailable)
	if err := e.k.Receive(contact, numA, "try again", false); err != nil {
		t.Fatal(err)
	}
	got := e.rec.wait(t, 1)
	if ev, ok := got[0].ev.(*transports.MessageEvent); !ok || ev.Body != "try again" {
		t.Fatalf("delivered %+v", got)
	}
	time.Sleep(2 * time.Second) // a second call, if smsbox made one, would be delivered by now
	if got := e.rec.events(); len(got) != 1 {
		t.Fatalf("delivered %d events, want 1", len(got))
	}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func get(t *testing.T, rawURL string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}
