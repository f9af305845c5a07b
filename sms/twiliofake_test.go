package sms

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTwilio is a scripted Twilio REST API speaking the wire format of
// Twilio's published OpenAPI description (twilio/twilio-oai, api_v2010):
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json
//	     basic auth AccountSid:AuthToken; form To, From, Body, MediaUrl (repeated), StatusCallback
//	     → 201 {"sid": "SM<32 hex>", "account_sid", "to", "from", "body", "status": "queued", "num_segments", …}
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{MM…}/Media/{ME…}  (and HEAD) → the file
//	GET  /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json?PhoneNumber=
//	     → 200 {"incoming_phone_numbers": [{"sid": "PN…", "phone_number": …}], "page": 0, …}
//
// Errors are Twilio's JSON {"code", "message", "more_info", "status"}:
// 20003 for a bad login (401), 20404 for an unknown account (404), 21211
// for an invalid To, 21602 for neither Body nor MediaUrl, 21606 for a From that is not the account's, 21610
// for an unsubscribed recipient (all 400). Script queues answers that
// override the next requests (a 429 with Retry-After, a 503, a hang).
type fakeTwilio struct {
	t   *testing.T
	srv *httptest.Server

	mu           sync.Mutex
	accounts     map[string]fakeAccount // by SID
	unsubscribed map[string]bool
	script       []scripted
	requests     int // requests to Messages.json
	sent         chan fakeSent
	media        map[string][]byte // by path
	stop         chan struct{}     // closed at the end of the test: hung answers end
}

type fakeAccount struct {
	token   string
	numbers []string
}

// fakeSent is a message the fake accepted.
type fakeSent struct {
	SID, Account, To, From, Body, StatusCallback string
	Media                                        []string
}

// scripted overrides the answer to one request to Messages.json.
type scripted struct {
	status     int
	retryAfter string
	code       int
	message    string
	hang       bool // never answer (until the client gives up)
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	t.Helper()
	f := &fakeTwilio{t: t, accounts: map[string]fakeAccount{}, unsubscribed: map[string]bool{}, sent: make(chan fakeSent, 100),
		stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", f.messages)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json", f.numbers)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}", f.serveMedia)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.stop) })
	return f
}

func (f *fakeTwilio) addAccount(sid, token string, numbers ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[sid] = fakeAccount{token: token, numbers: numbers}
}

func (f *fakeTwilio) push(s ...scripted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, s...)
}

func (f *fakeTwilio) messageRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func twilioErr(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

// auth checks the basic auth of a request for account sid.
func (f *fakeTwilio) auth(w http.ResponseWriter, r *http.Request) (fakeAccount, bool) {
	sid := r.PathValue("sid")
	user, pass, ok := r.BasicAuth()
	f.mu.Lock()
	acct, known := f.accounts[user]
	f.mu.Unlock()
	if !ok || !known || acct.token != pass {
		twilioErr(w, http.StatusUnauthorized, 20003, "Authenticate")
		return acct, false
	}
	if user != sid {
		twilioErr(w, http.StatusNotFound, 20404, "The requested resource /2010-04-01/Accounts/"+sid+" was not found")
		return acct, false
	}
	return acct, true
}

func (f *fakeTwilio) messages(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	var s *scripted
	if len(f.script) > 0 {
		s = &f.script[0]
		f.script = f.script[1:]
	}
	f.mu.Unlock()
	if s != nil {
		if s.hang {
			io.Copy(io.Discard, r.Body) // so the server notices the client leaving
			select {
			case <-r.Context().Done():
			case <-f.stop:
			}
			return
		}
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		twilioErr(w, s.status, s.code, s.message)
		return
	}
	acct, ok := f.auth(w, r)
	if !ok {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		twilioErr(w, http.StatusUnsupportedMediaType, 20415, "Unsupported Media Type")
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioErr(w, http.StatusBadRequest, 20001, "Bad request")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		twilioErr(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !possible(to):
		twilioErr(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	case !contains(acct.numbers, from):
		twilioErr(w, http.StatusBadRequest, 21606, fmt.Sprintf("The From phone number %s is not a valid, SMS-capable inbound phone number or short code for your account.", from))
		return
	case body == "" && len(r.PostForm["MediaUrl"]) == 0:
		twilioErr(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	f.mu.Lock()
	unsub := f.unsubscribed[to]
	f.mu.Unlock()
	if unsub {
		twilioErr(w, http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
		return
	}
	sid := "SM" + randomHex(16)
	m := fakeSent{SID: sid, Account: r.PathValue("sid"), To: to, From: from, Body: body, StatusCallback: r.PostForm.Get("StatusCallback"),
		Media: r.PostForm["MediaUrl"]}
	f.sent <- m
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"sid": sid, "account_sid": m.Account, "to": to, "from": from, "body": body, "status": "queued",
		"num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": time.Now().UTC().Format(time.RFC1123Z), "error_code": nil, "error_message": nil,
		"uri": "/2010-04-01/Accounts/" + m.Account + "/Messages/" + sid + ".json",
	})
}

// addMedia stores an MMS file of account sid and returns its URL.
func (f *fakeTwilio) addMedia(sid string, data []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := "/2010-04-01/Accounts/" + sid + "/Messages/MM" + randomHex(16) + "/Media/ME" + randomHex(16)
	if f.media == nil {
		f.media = map[string][]byte{}
	}
	f.media[p] = data
	return f.srv.URL + p
}

// serveMedia serves a media file (GET and HEAD) to its account.
func (f *fakeTwilio) serveMedia(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.auth(w, r); !ok {
		return
	}
	f.mu.Lock()
	data, ok := f.media[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		twilioErr(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func (f *fakeTwilio) numbers(w http.ResponseWriter, r *http.Request) {
	acct, ok := f.auth(w, r)
	if !ok {
		return
	}
	list := []map[string]any{}
	for _, n := range acct.numbers {
		if q := r.URL.Query().Get("PhoneNumber"); q == "" || q == n {
			list = append(list, map[string]any{"sid": "PN" + randomHex(16), "phone_number": n, "capabilities": map[string]bool{"sms": true}})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"incoming_phone_numbers": list, "page": 0, "page_size": 50})
}

// nextSent waits for the next message the fake accepted.
func (f *fakeTwilio) nextSent(t *testing.T) fakeSent {
	t.Helper()
	select {
	case m := <-f.sent:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the fake Twilio got no message")
		return fakeSent{}
	}
}

// webhook posts params to rawURL as Twilio does: a form, signed with
// token over the URL and the sorted params in X-Twilio-Signature ("" =
// unsigned). It returns the status and body of the answer.
func webhook(t *testing.T, rawURL, token string, params url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", SignTwilio(token, rawURL, params))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// possible reports whether to is a number the fake's network could
// reach: E.164, of a possible length for its country.
func possible(to string) bool {
	id, err := Normalize(to, "")
	return err == nil && string(id) == to && e164.MatchString(to)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
