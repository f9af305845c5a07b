package sms

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// FuzzKannelText: whatever bytes, coding and charset Kannel's get-url
// carries, the text decodes to UTF-8 or is refused with 400.
func FuzzKannelText(f *testing.F) {
	f.Add("hi", "0", "UTF-8")
	f.Add("\x04\x3f\x04\x40", "2", "UTF-16BE")
	f.Add("\xd8\x3d", "2", "UTF-16BE") // a lone surrogate
	f.Add("caf\xe9", "0", "ISO-8859-1")
	f.Add("caf\xe9", "0", "UTF-8")
	f.Add("x", "1", "BINARY")
	f.Fuzz(func(t *testing.T, raw, coding, charset string) {
		s, err := kannelText(raw, coding, charset)
		if err != nil {
			if he, ok := err.(*hookError); !ok || he.status != http.StatusBadRequest {
				t.Fatalf("kannelText: %v, want a 400", err)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("kannelText(%q, %q, %q) = %q, not UTF-8", raw, coding, charset, s)
		}
	})
}

// FuzzTwilioInbound: a correctly signed inbound webhook with any
// parameters is answered with one of the documented statuses, and
// anything it delivers is a text from an address this network takes.
func FuzzTwilioInbound(f *testing.F) {
	f.Add("SM1", contact, numA, "hello", "0", "")
	f.Add("", "alice", numA, "caf\xe9", "3", "https://x/y")
	f.Add("SM2", "12345", "+1", "", "-1", "ftp://x")
	hook := newFuzzHook(f)
	f.Fuzz(func(t *testing.T, sid, from, to, body, numMedia, mediaURL string) {
		p := url.Values{"MessageSid": {sid}, "From": {from}, "To": {to}, "Body": {body}, "NumMedia": {numMedia}, "MediaUrl0": {mediaURL}}
		for _, d := range hook.post(t, "twilio/inbound", p) {
			ev := d.ev.(*transports.MessageEvent)
			if !IsAddress(string(ev.From)) || !utf8.ValidString(ev.Body) {
				t.Fatalf("delivered %+v", ev)
			}
		}
	})
}

// FuzzTwilioConversations: a correctly signed Conversations webhook with
// any event, group, author and body is answered with one of the
// documented statuses, and what it delivers is a notice about a group's
// room or a room message from a number, in UTF-8.
func FuzzTwilioConversations(f *testing.F) {
	const ch = "CH0123456789abcdef0123456789abcdef"
	f.Add("onConversationAdded", ch, numA, "+15551112222", "IM1", "hi", "")
	f.Add("onMessageAdded", ch, numA, "+15551112222", "IM1", "hi", `[{"Filename":"a.png"}]`)
	f.Add("onMessageAdded", "ch0123456789ABCDEF0123456789abcdef", "", "alice", "", "caf\xe9", "[")
	f.Add("onParticipantAdded", "CH1", "+1", numA, "IM2", "", "{}")
	hook := newFuzzHook(f)
	f.Fuzz(func(t *testing.T, event, sid, proxy, author, msgSID, body, media string) {
		p := url.Values{"EventType": {event}, "ConversationSid": {sid}, "MessagingBinding.ProxyAddress": {proxy},
			"MessagingBinding.AuthorAddress": {author}, "Author": {author}, "MessageSid": {msgSID}, "Body": {body}, "Media": {media}}
		for _, d := range hook.post(t, "twilio/conversations", p) {
			switch ev := d.ev.(type) {
			case *transports.NoticeEvent:
				if _, err := ParseRoom(ev.About); err != nil || !utf8.ValidString(ev.Text) {
					t.Fatalf("delivered %+v", ev)
				}
			case *transports.MessageEvent:
				if _, err := ParseRoom(ev.From); err != nil || !ev.Room || !IsAddress(ev.OccupantID) || !utf8.ValidString(ev.Body) {
					t.Fatalf("delivered %+v", ev)
				}
			default:
				t.Fatalf("delivered %#v", ev)
			}
		}
	})
}

// fuzzHook is an operator-mode Twilio network with alice registered,
// its webhook handler and what it delivered, for the webhook fuzz tests.
type fuzzHook struct {
	rec *recorder
	h   http.Handler
}

// fuzzPublic is the handler's public URL in the fuzz tests.
const fuzzPublic = "https://gw.example.org/hooks/sms/"

func newFuzzHook(f *testing.F) *fuzzHook {
	f.Helper()
	rec := newRecorder()
	rec.notify = make(chan struct{}, 1<<20)
	n := New(Config{Provider: ProviderTwilio, Numbers: []string{numA}, Logger: discard(),
		Twilio: TwilioConfig{APIURL: "http://127.0.0.1:1", AccountSID: opSID, AuthToken: opToken}})
	h := n.Attach(transports.Hooks{Deliver: rec, Store: &transportstest.NetStore{}, PublicURL: fuzzPublic})
	if _, err := n.Register(f.Context(), "alice@example.org", nil); err != nil {
		f.Fatal(err)
	}
	return &fuzzHook{rec: rec, h: h}
}

// post posts p, signed with the operator's token, to the webhook at
// path; the answer must be one of the documented statuses, and a
// refusal must deliver nothing. It returns what the post delivered.
func (fh *fuzzHook) post(t *testing.T, path string, p url.Values) []delivered {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+path, strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", SignTwilio(opToken, fuzzPublic+path, p))
	before := len(fh.rec.events())
	w := httptest.NewRecorder()
	fh.h.ServeHTTP(w, req)
	switch w.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
	default:
		t.Fatalf("HTTP %d for %v", w.Code, p)
	}
	got := fh.rec.events()[before:]
	if w.Code != http.StatusOK && len(got) != 0 {
		t.Fatalf("HTTP %d but delivered %+v", w.Code, got)
	}
	return got
}
