package sms

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const (
	opSID   = "AC00000000000000000000000000000001"
	opToken = "operator-auth-token"
	numA    = "+15550100001"
	numB    = "+15550100002"
	contact = "+15551234567"
)

// TestSignTwilioVector: the signature of Twilio's published example
// (twilio.com/docs/usage/security, "Validating Requests are coming from
// Twilio"; the same vector is in twilio-go's tests).
func TestSignTwilioVector(t *testing.T) {
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"},
	}
	const want = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	if got := SignTwilio("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params); got != want {
		t.Fatalf("SignTwilio = %q, want %q", got, want)
	}
	if !verifyTwilio("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params, want) {
		t.Fatal("verifyTwilio refuses the published vector")
	}
	params.Set("Digits", "1235")
	if verifyTwilio("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params, want) {
		t.Fatal("verifyTwilio accepts a changed parameter")
	}
}

func twilioOperator(t *testing.T) (*twiliotest.Server, *hookServer) {
	t.Helper()
	f := twiliotest.New(t)
	f.AddAccount(opSID, opToken, numA, numB)
	h := newHookServer(t, Config{Provider: ProviderTwilio, DefaultCountry: "US", Numbers: []string{numA, numB},
		Twilio: TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken}, RetryWait: time.Millisecond,
		Timeout: 2 * time.Second})
	return f, h
}

func TestConformance(t *testing.T) {
	configs := map[string]Config{
		"twilio operator": {Provider: ProviderTwilio, Numbers: []string{numA}, Twilio: TwilioConfig{AccountSID: opSID, AuthToken: opToken}},
		"twilio own":      {Provider: ProviderTwilio, Mode: ModeOwn},
		"kannel": {Provider: ProviderKannel, Numbers: []string{numA},
			Kannel: KannelConfig{SendSMSURL: "http://127.0.0.1:1/cgi-bin/sendsms", Username: "u", Password: "p", Token: kannelToken}},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			h := newHookServer(t, cfg)
			creds := transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": ownNum}
			creds, err := h.net.Register(context.Background(), "alice@example.org", creds)
			if err != nil {
				t.Fatal(err)
			}
			transportstest.Conformance(t, h.net, func(t *testing.T) transports.Adapter { return h.connect(t, "alice@example.org", creds) })
		})
	}
}

// TestTwilioSendAndReceipts: a text goes out from the user's number with
// a status callback; only "delivered" becomes a receipt, and
// "undelivered" a failed one naming the error.
func TestTwilioSendAndReceipts(t *testing.T) {
	f, h := twilioOperator(t)
	creds := h.register(t, "alice@example.org", nil)
	if creds["number"] != numA {
		t.Fatalf("alice's number = %q, want %s", creds["number"], numA)
	}
	a := h.connect(t, "alice@example.org", creds)
	id, err := a.Send(context.Background(), transports.Message{To: contact, Body: "hello there"})
	if err != nil {
		t.Fatal(err)
	}
	m := nextSent(t, f)
	if m.To != contact || m.From != numA || m.Body != "hello there" || m.Account != opSID {
		t.Fatalf("the provider got %+v", m)
	}
	if string(id) != m.SID {
		t.Fatalf("Send returned %q, the provider's ID is %q", id, m.SID)
	}
	if m.StatusCallback != h.public+"twilio/status" {
		t.Fatalf("StatusCallback = %q, want %q", m.StatusCallback, h.public+"twilio/status")
	}
	status := func(m twiliotest.Sent, st, code string) int {
		p := url.Values{"MessageSid": {m.SID}, "SmsSid": {m.SID}, "AccountSid": {opSID}, "From": {numA}, "To": {m.To},
			"MessageStatus": {st}, "SmsStatus": {st}, "ApiVersion": {"2010-04-01"}}
		if code != "" {
			p.Set("ErrorCode", code)
		}
		code2, _ := webhook(t, m.StatusCallback, opToken, p)
		return code2
	}
	for _, st := range []string{"queued", "sent"} {
		if got := status(m, st, ""); got != http.StatusNoContent {
			t.Fatalf("status %s: HTTP %d", st, got)
		}
	}
	if got := h.rec.events(); len(got) != 0 {
		t.Fatalf("a status on the way became %+v", got)
	}
	for range 2 { // the second is a retry, or a replay: not delivered again
		if got := status(m, "delivered", ""); got != http.StatusNoContent {
			t.Fatalf("status delivered: HTTP %d", got)
		}
	}
	id2, err := a.Send(context.Background(), transports.Message{To: "+15557654321", Body: "and you?"})
	if err != nil {
		t.Fatal(err)
	}
	if got := status(nextSent(t, f), "undelivered", "30003"); got != http.StatusNoContent {
		t.Fatalf("status undelivered: HTTP %d", got)
	}
	got := h.rec.wait(t, 2)
	want := []transports.ReceiptEvent{
		{To: contact, Remote: id, Delivered: true},
		{To: "+15557654321", Remote: id2, Error: "the text was undelivered (error 30003)"},
	}
	if len(got) != len(want) {
		t.Fatalf("delivered %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		ev, ok := got[i].ev.(*transports.ReceiptEvent)
		if !ok || *ev != w || got[i].user != "alice@example.org" {
			t.Errorf("event %d = %s %#v, want %#v", i, got[i].user, got[i].ev, w)
		}
	}
}

// TestTwilioSendFailures: only what provably did not reach the provider
// is sent again; a refusal comes back with the provider's words.
func TestTwilioSendFailures(t *testing.T) {
	tests := []struct {
		name     string
		script   []twiliotest.Answer
		to       string
		wantErr  error  // nil: sent
		wantText string // part of the error
		requests int    // requests the provider saw
	}{
		{"429 with Retry-After, then accepted", []twiliotest.Answer{{Status: 429, RetryAfter: "1", Code: 20429, Message: "Too Many Requests"}}, contact, nil, "", 2},
		{"503, then accepted", []twiliotest.Answer{{Status: 503, Code: 20503, Message: "Service Unavailable"}}, contact, nil, "", 2},
		{"always 429", []twiliotest.Answer{{Status: 429, Code: 20429, Message: "Too Many Requests"}, {Status: 429, Code: 20429, Message: "Too Many Requests"}, {Status: 429, Code: 20429, Message: "Too Many Requests"}},
			contact, transports.ErrBusy, "rate limiting", 3},
		{"500 is ambiguous: not retried", []twiliotest.Answer{{Status: 500, Code: 20500, Message: "Internal Server Error"}}, contact, transports.ErrUnavailable, "may have been sent", 1},
		{"no answer is ambiguous: not retried", []twiliotest.Answer{{Hang: true}}, contact, transports.ErrUnavailable, "may or may not have been sent", 1},
		{"invalid number", nil, "+1555", transports.ErrInvalidInput, "is not a valid phone number. (error 21211)", 1},
		{"unsubscribed", nil, "+15557654321", transports.ErrForbidden, "unsubscribed recipient (error 21610)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, h := twilioOperator(t)
			f.Unsubscribe("+15557654321")
			f.Push(tt.script...)
			a := h.connect(t, "alice@example.org", h.register(t, "alice@example.org", nil))
			_, err := a.Send(context.Background(), transports.Message{To: transports.ID(tt.to), Body: "hi"})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				nextSent(t, f)
			} else if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Send: %v; want %v saying %q", err, tt.wantErr, tt.wantText)
			}
			if got := f.MessageRequests(); got != tt.requests {
				t.Fatalf("the provider saw %d requests, want %d", got, tt.requests)
			}
		})
	}
}

// TestTwilioUnreachable: a provider that cannot be dialled is tried
// sendAttempts times, and the error says it was not reached.
func TestTwilioUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := newHookServer(t, Config{Provider: ProviderTwilio, Numbers: []string{numA}, RetryWait: time.Millisecond,
		Twilio: TwilioConfig{APIURL: "http://" + addr, AccountSID: opSID, AuthToken: opToken}})
	a := h.connect(t, "alice@example.org", h.register(t, "alice@example.org", nil))
	_, err = a.Send(context.Background(), transports.Message{To: contact, Body: "hi"})
	if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "could not be reached") {
		t.Fatalf("Send: %v; want ErrUnavailable saying it could not be reached", err)
	}
}

func TestSendRefusedBeforeTheProvider(t *testing.T) {
	f, h := twilioOperator(t)
	a := h.connect(t, "alice@example.org", h.register(t, "alice@example.org", nil))
	tests := []struct {
		name string
		msg  transports.Message
		want error
		text string
	}{
		{"a room", transports.Message{To: contact, Room: true, Body: "x"}, transports.ErrInvalidInput, "group"},
		{"not a number", transports.Message{To: "alice", Body: "x"}, transports.ErrInvalidInput, "not a phone number"},
		{"empty", transports.Message{To: contact, Body: "  "}, transports.ErrInvalidInput, "empty"},
		{"too many segments", transports.Message{To: contact, Body: strings.Repeat("ж", 700)}, transports.ErrLimit, "11 SMS"},
		{"too long", transports.Message{To: contact, Body: strings.Repeat("a", 1601)}, transports.ErrLimit, "1601 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Send(context.Background(), tt.msg); !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Send: %v; want %v saying %q", err, tt.want, tt.text)
			}
		})
	}
	if n := f.MessageRequests(); n != 0 {
		t.Fatalf("the provider saw %d requests", n)
	}
}

// TestTwilioInbound: a signed text is delivered to the number's owner
// before the webhook answers, once per MessageSid; everything else is
// refused with its status and delivers nothing.
func TestTwilioInbound(t *testing.T) {
	_, h := twilioOperator(t)
	h.register(t, "alice@example.org", nil)
	inboundURL := h.public + "twilio/inbound"
	text := func(sid, from, to, body string) url.Values {
		return url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "AccountSid": {opSID},
			"From": {from}, "To": {to}, "Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"}, "ApiVersion": {"2010-04-01"}}
	}
	code, body := webhook(t, inboundURL, opToken, text("SM1", contact, numA, "hi alice"))
	if code != http.StatusOK || !strings.Contains(body, "<Response>") {
		t.Fatalf("inbound: HTTP %d %q", code, body)
	}
	// The provider sends it again (it did not see the answer).
	if code, _ := webhook(t, inboundURL, opToken, text("SM1", contact, numA, "hi alice")); code != http.StatusOK {
		t.Fatalf("inbound again: HTTP %d", code)
	}
	// Delivering fails: 503, and the provider's retry delivers it.
	h.rec.failNext(transports.ErrUnavailable)
	if code, _ := webhook(t, inboundURL, opToken, text("SM2", contact, numA, "second")); code != http.StatusServiceUnavailable {
		t.Fatalf("inbound with a failing delivery: HTTP %d, want 503", code)
	}
	if code, _ := webhook(t, inboundURL, opToken, text("SM2", contact, numA, "second")); code != http.StatusOK {
		t.Fatalf("inbound retried: HTTP %d", code)
	}

	huge := text("SM3", contact, numA, strings.Repeat("a", 1<<20))
	forgedURL := strings.Replace(inboundURL, "127.0.0.1", "localhost", 1)
	bad := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"unsigned", func() *http.Request { return post(t, inboundURL, "", text("SM4", contact, numA, "x")) }, 403},
		{"forged", func() *http.Request {
			r := post(t, inboundURL, "", text("SM4", contact, numA, "x"))
			r.Header.Set("X-Twilio-Signature", SignTwilio("not-the-token", inboundURL, text("SM4", contact, numA, "x")))
			return r
		}, 403},
		{"signed for another URL", func() *http.Request {
			return post(t, inboundURL, SignTwilio(opToken, forgedURL, text("SM4", contact, numA, "x")), text("SM4", contact, numA, "x"))
		}, 403},
		{"signed, then changed", func() *http.Request {
			return post(t, inboundURL, SignTwilio(opToken, inboundURL, text("SM4", contact, numA, "x")), text("SM4", contact, numA, "y"))
		}, 403},
		{"1 MB body", func() *http.Request { return post(t, inboundURL, SignTwilio(opToken, inboundURL, huge), huge) }, 413},
		{"not a form", func() *http.Request {
			r := post(t, inboundURL, "sig", text("SM4", contact, numA, "x"))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415},
		{"sender not a number", func() *http.Request {
			p := text("SM4", "alice", numA, "x")
			return post(t, inboundURL, SignTwilio(opToken, inboundURL, p), p)
		}, 400},
		{"not UTF-8", func() *http.Request {
			p := text("SM4", contact, numA, "caf\xe9")
			return post(t, inboundURL, SignTwilio(opToken, inboundURL, p), p)
		}, 400},
		{"nobody has the number", func() *http.Request {
			p := text("SM4", contact, numB, "x")
			return post(t, inboundURL, SignTwilio(opToken, inboundURL, p), p)
		}, 404},
		{"GET", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, inboundURL, nil)
			return r
		}, 405},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if code, _ := do(t, b.req()); code != b.status {
				t.Fatalf("HTTP %d, want %d", code, b.status)
			}
		})
	}
	got := h.rec.events()
	want := []transports.MessageEvent{
		{From: contact, Body: "hi alice", RemoteID: "SM1"},
		{From: contact, Body: "second", RemoteID: "SM2"},
	}
	if len(got) != len(want) {
		t.Fatalf("delivered %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		ev, ok := got[i].ev.(*transports.MessageEvent)
		if !ok || ev.From != w.From || ev.Body != w.Body || ev.RemoteID != w.RemoteID || got[i].user != "alice@example.org" {
			t.Errorf("event %d = %s %#v, want %#v", i, got[i].user, got[i].ev, w)
		}
	}
}

// post is a form POST to rawURL with signature ("" = none).
func post(t *testing.T, rawURL, signature string, params url.Values) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		r.Header.Set("X-Twilio-Signature", signature)
	}
	return r
}

// TestPublicURLBehindProxy: signatures are checked against the public
// URL configured, not the address the request reached.
func TestPublicURLBehindProxy(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(opSID, opToken, numA)
	h := newHookServer(t, Config{Provider: ProviderTwilio, Numbers: []string{numA},
		Twilio: TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken}})
	local := h.public
	public := "https://gw.example.org/switchboard/hooks/sms/"
	h.net.Attach(transports.Hooks{Deliver: h.rec, Store: h.store, PublicURL: public})
	h.register(t, "alice@example.org", nil)
	p := url.Values{"MessageSid": {"SM9"}, "From": {contact}, "To": {numA}, "Body": {"via the proxy"}}
	if code, _ := do(t, post(t, local+"twilio/inbound", SignTwilio(opToken, local+"twilio/inbound", p), p)); code != http.StatusForbidden {
		t.Fatalf("signed for the local address: HTTP %d, want 403", code)
	}
	if code, _ := do(t, post(t, local+"twilio/inbound", SignTwilio(opToken, public+"twilio/inbound", p), p)); code != http.StatusOK {
		t.Fatalf("signed for the public URL: HTTP %d, want 200", code)
	}
	if got := h.rec.wait(t, 1); got[0].ev.(*transports.MessageEvent).Body != "via the proxy" {
		t.Fatalf("delivered %+v", got)
	}
}

// TestTwilioMMSOut: files the user shares go as the MMS's media URLs
// (the provider fetches them from the user's upload service), with the
// text or alone.
func TestTwilioMMSOut(t *testing.T) {
	f, h := twilioOperator(t)
	if !h.net.Capabilities().SendFiles {
		t.Fatal("the Twilio network does not claim SendFiles")
	}
	a := h.connect(t, "alice@example.org", h.register(t, "alice@example.org", nil)).(transports.FileSender)
	files := []transports.File{
		{URL: "https://upload.example.org/a/cat.jpg", Name: "cat.jpg", Type: "image/jpeg"},
		{URL: "https://upload.example.org/b/dog.png", Name: "dog.png", Type: "image/png"},
	}
	tests := []struct {
		name, body string
	}{{"with text", "look at these"}, {"alone", ""}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.SendFiles(context.Background(), transports.Message{To: contact, Body: tt.body, Files: files}); err != nil {
				t.Fatal(err)
			}
			m := nextSent(t, f)
			if m.Body != tt.body || len(m.Media) != 2 || m.Media[0] != files[0].URL || m.Media[1] != files[1].URL {
				t.Fatalf("the provider got %+v", m)
			}
		})
	}
	if _, err := a.SendFiles(context.Background(), transports.Message{To: contact, Files: make([]transports.File, 11)}); !errors.Is(err, transports.ErrLimit) {
		t.Fatalf("11 files: %v, want ErrLimit", err)
	}
}

// TestTwilioMMSIn: an MMS's files on the provider's API become
// attachments the component uploads (exact size, content read with the
// account's credentials); a media URL elsewhere stays a link.
func TestTwilioMMSIn(t *testing.T) {
	f, h := twilioOperator(t)
	h.register(t, "alice@example.org", nil)
	photo := []byte("\xff\xd8\xff\xe0 not really a JPEG, but bytes all the same")
	p := url.Values{"MessageSid": {"MMabc"}, "AccountSid": {opSID}, "From": {contact}, "To": {numA}, "Body": {"a photo"},
		"NumMedia": {"2"}, "MediaUrl0": {f.AddMedia(opSID, photo)}, "MediaContentType0": {"image/jpeg"},
		"MediaUrl1": {"https://elsewhere.example.net/x.png"}, "MediaContentType1": {"image/png"}}
	if code, _ := webhook(t, h.public+"twilio/inbound", opToken, p); code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	ev := h.rec.wait(t, 1)[0].ev.(*transports.MessageEvent)
	if ev.Body != "a photo\nhttps://elsewhere.example.net/x.png" || len(ev.Attachments) != 1 {
		t.Fatalf("delivered %+v", ev)
	}
	att := ev.Attachments[0]
	if att.Type != "image/jpeg" || att.Size != int64(len(photo)) || !strings.HasPrefix(att.Name, "ME") || !strings.HasSuffix(att.Name, ".jpg") || att.Open == nil {
		t.Fatalf("attachment %+v", att)
	}
	rc, err := att.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != string(photo) {
		t.Fatalf("the file reads %q", got)
	}
}

// TestSegmentsNotice: a text that goes as more SMS than warn_segments
// is sent, and the user is told how many.
func TestSegmentsNotice(t *testing.T) {
	f, h := twilioOperator(t)
	var notices []string
	var mu sync.Mutex
	a := h.connectTo(t, "alice@example.org", h.register(t, "alice@example.org", nil), transports.SinkFunc(func(ev transports.Event) {
		if n, ok := ev.(*transports.NoticeEvent); ok && n.About == contact {
			mu.Lock()
			notices = append(notices, n.Text)
			mu.Unlock()
		}
	}))
	tests := []struct {
		body   string
		notice string // "" = none
	}{
		{strings.Repeat("a", 459), ""}, // 3 GSM-7 parts
		{strings.Repeat("a", 460), "went as 4 SMS (160 characters each)"},
		{strings.Repeat("ж", 201), ""}, // 3 UCS-2 parts
		{strings.Repeat("ж", 202), "went as 4 SMS (Unicode, 70 characters each)"},
	}
	for _, tt := range tests {
		mu.Lock()
		notices = nil
		mu.Unlock()
		if _, err := a.Send(context.Background(), transports.Message{To: contact, Body: tt.body}); err != nil {
			t.Fatal(err)
		}
		nextSent(t, f)
		mu.Lock()
		got := notices
		mu.Unlock()
		if (tt.notice == "") != (len(got) == 0) || (tt.notice != "" && (len(got) != 1 || !strings.Contains(got[0], tt.notice))) {
			t.Errorf("%d characters: notices %q, want %q", len([]rune(tt.body)), got, tt.notice)
		}
	}
}

func TestPortVariants(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"https://gw.example.org/hooks/sms/twilio/inbound", []string{"https://gw.example.org/hooks/sms/twilio/inbound", "https://gw.example.org:443/hooks/sms/twilio/inbound"}},
		{"https://gw.example.org:443/x?a=1", []string{"https://gw.example.org:443/x?a=1", "https://gw.example.org/x?a=1"}},
		{"http://[::1]:80/x", []string{"http://[::1]:80/x", "http://[::1]/x"}},
		{"http://127.0.0.1:8480/x", []string{"http://127.0.0.1:8480/x"}},
	}
	for _, tt := range tests {
		if got := portVariants(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("portVariants(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSignatureWithDefaultPort: Twilio may sign the public URL with its
// default port written out; that signature is accepted too.
func TestSignatureWithDefaultPort(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(opSID, opToken, numA)
	h := newHookServer(t, Config{Provider: ProviderTwilio, Numbers: []string{numA},
		Twilio: TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken}})
	h.net.Attach(transports.Hooks{Deliver: h.rec, Store: h.store, PublicURL: "https://gw.example.org/hooks/sms/"})
	h.register(t, "alice@example.org", nil)
	p := url.Values{"MessageSid": {"SMport"}, "From": {contact}, "To": {numA}, "Body": {"port"}}
	sig := SignTwilio(opToken, "https://gw.example.org:443/hooks/sms/twilio/inbound", p)
	if code, _ := do(t, post(t, h.public+"twilio/inbound", sig, p)); code != http.StatusOK {
		t.Fatalf("signed with :443: HTTP %d, want 200", code)
	}
	sig = SignTwilio(opToken, "https://gw.example.org:8443/hooks/sms/twilio/inbound", p)
	if code, _ := do(t, post(t, h.public+"twilio/inbound", sig, p)); code != http.StatusForbidden {
		t.Fatalf("signed with :8443: HTTP %d, want 403", code)
	}
}

// TestTwilioMessagingService: with messaging_service_sid every text is
// sent with the service and from the user's own number (the service's
// pool holds it); a service the account does not have is the provider's
// refusal, with its words.
func TestTwilioMessagingService(t *testing.T) {
	const service = "MG0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		service string
		err     error
		text    string
	}{
		{"the account's service", service, nil, ""},
		{"another service", "MGffffffffffffffffffffffffffffffff", transports.ErrInvalidInput, "does not exist. (error 21701)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := twiliotest.New(t)
			f.AddAccount(opSID, opToken, numA, numB)
			f.AddMessagingService(opSID, service, numB, numA)
			cfg := Config{Provider: ProviderTwilio, Numbers: []string{numA},
				Twilio: TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken, MessagingServiceSID: tt.service}}
			var problems []string
			cfg.Check(func(key, msg string) { problems = append(problems, key+": "+msg) })
			if len(problems) > 0 {
				t.Fatalf("config problems %v", problems)
			}
			h := newHookServer(t, cfg)
			a := h.connect(t, "alice@example.org", h.register(t, "alice@example.org", nil))
			id, err := a.Send(context.Background(), transports.Message{To: contact, Body: "via the service"})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.text) {
					t.Fatalf("Send: %v; want %v saying %q", err, tt.err, tt.text)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := nextSent(t, f)
			if m.MessagingServiceSid != service || m.From != numA || m.To != contact || string(id) != m.SID {
				t.Fatalf("the provider got %+v (Send returned %q)", m, id)
			}
		})
	}
}
