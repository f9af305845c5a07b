package twiliotest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
)

// TestSignVector: the signature of Twilio's published example
// (twilio.com/docs/usage/security, "Validating Requests are coming from
// Twilio").
func TestSignVector(t *testing.T) {
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"},
	}
	const want = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	if got := twiliotest.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

const (
	sid   = "AC00000000000000000000000000000001"
	token = "the-auth-token"
	num   = "+15550100001"
	svc   = "MG00000000000000000000000000000001"
)

// TestMessagesErrors: Messages.json answers as Twilio's API does, with
// its JSON error body.
func TestMessagesErrors(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(sid, token, num)
	f.AddAccount("AC00000000000000000000000000000002", "other", "+15550100002")
	f.AddMessagingService(sid, svc, num)
	f.Unsubscribe("+15557654321")
	tests := []struct {
		name       string
		user, pass string
		form       url.Values
		status     int
		code       int // 0: accepted
		from       string
	}{
		{"sent", sid, token, url.Values{"To": {"+15551234567"}, "From": {num}, "Body": {"hi"}}, 201, 0, num},
		{"wrong token", sid, "nope", url.Values{"To": {"+15551234567"}, "From": {num}, "Body": {"hi"}}, 401, 20003, ""},
		{"another account's path", "AC00000000000000000000000000000002", "other", url.Values{"To": {"+15551234567"}, "From": {num}, "Body": {"hi"}}, 404, 20404, ""},
		{"invalid To", sid, token, url.Values{"To": {"+1555"}, "From": {num}, "Body": {"hi"}}, 400, 21211, ""},
		{"no sender", sid, token, url.Values{"To": {"+15551234567"}, "Body": {"hi"}}, 400, 21603, ""},
		{"not the account's From", sid, token, url.Values{"To": {"+15551234567"}, "From": {"+15550100002"}, "Body": {"hi"}}, 400, 21606, ""},
		{"no body", sid, token, url.Values{"To": {"+15551234567"}, "From": {num}}, 400, 21602, ""},
		{"unsubscribed", sid, token, url.Values{"To": {"+15557654321"}, "From": {num}, "Body": {"hi"}}, 400, 21610, ""},
		{"service", sid, token, url.Values{"To": {"+15551234567"}, "MessagingServiceSid": {svc}, "Body": {"hi"}}, 201, 0, num},
		{"service not an MG SID", sid, token, url.Values{"To": {"+15551234567"}, "MessagingServiceSid": {"XX1"}, "Body": {"hi"}}, 400, 21705, ""},
		{"unknown service", sid, token, url.Values{"To": {"+15551234567"}, "MessagingServiceSid": {"MG" + strings.Repeat("1", 32)}, "Body": {"hi"}}, 400, 21701, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(tt.user, tt.pass)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct {
				Code     int     `json:"code"`
				MoreInfo string  `json:"more_info"`
				SID      string  `json:"sid"`
				From     *string `json:"from"`
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status || body.Code != tt.code {
				t.Fatalf("HTTP %d code %d, want %d code %d", res.StatusCode, body.Code, tt.status, tt.code)
			}
			if tt.code != 0 {
				if !strings.HasSuffix(body.MoreInfo, "/errors/"+strconv.Itoa(tt.code)) {
					t.Fatalf("more_info = %q", body.MoreInfo)
				}
				return
			}
			m, err := f.NextSent(time.Second)
			if err != nil || m.SID != body.SID || m.From != tt.from || body.From == nil || *body.From != tt.from {
				t.Fatalf("sent %+v (%v), answered %+v", m, err, body)
			}
		})
	}
}

// TestWebhooks: an incoming text and a status callback reach their URLs
// as signed forms, and Receive refuses a number without an incoming
// URL.
func TestWebhooks(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(sid, token, num)
	type got struct {
		path string
		form url.Values
		sig  string
	}
	reqs := make(chan got, 2)
	var hookURL string
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		reqs <- got{r.URL.Path, r.PostForm, r.Header.Get("X-Twilio-Signature")}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hooks.Close)
	hookURL = hooks.URL
	ctx := context.Background()
	if _, _, err := f.Receive(ctx, twiliotest.Incoming{From: "+15551234567", To: num, Body: "x"}); err == nil {
		t.Fatal("Receive without an incoming URL: no error")
	}
	f.SetIncomingURL(num, hookURL+"/in")
	status, msgSID, err := f.Receive(ctx, twiliotest.Incoming{From: "+15551234567", To: num, Body: "hello"})
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Receive: %d, %v", status, err)
	}
	in := <-reqs
	if in.path != "/in" || in.form.Get("MessageSid") != msgSID || in.form.Get("Body") != "hello" || in.form.Get("AccountSid") != sid ||
		in.sig != twiliotest.Sign(token, hookURL+"/in", in.form) {
		t.Fatalf("incoming webhook %+v", in)
	}
	m := twiliotest.Sent{SID: "SM1", Account: sid, To: "+15551234567", From: num, StatusCallback: hookURL + "/status"}
	if status, err := f.ReportStatus(ctx, m, "undelivered", "30003"); err != nil || status != http.StatusNoContent {
		t.Fatalf("ReportStatus: %d, %v", status, err)
	}
	st := <-reqs
	if st.path != "/status" || st.form.Get("MessageStatus") != "undelivered" || st.form.Get("ErrorCode") != "30003" ||
		st.form.Get("From") != num || st.sig != twiliotest.Sign(token, hookURL+"/status", st.form) {
		t.Fatalf("status callback %+v", st)
	}
}
