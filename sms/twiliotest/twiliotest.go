// Package twiliotest is a scripted Twilio for tests: the REST API the
// sms network calls and the webhooks Twilio sends, in the wire format of
// Twilio's published OpenAPI description (twilio/twilio-oai, api_v2010)
// and its webhook documentation, so the unmodified production client can
// be pointed at it (sms's api_url) and its webhooks checked as Twilio's
// would be.
//
// The REST side (Server.URL is the api_url):
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json
//	     basic auth AccountSid:AuthToken; form To, From and/or MessagingServiceSid, Body,
//	     MediaUrl (repeated), StatusCallback
//	     → 201 {"sid": "SM<32 hex>", "account_sid", "to", "from", "messaging_service_sid", "body", "status", "num_segments", …}
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{MM…}/Media/{ME…}  (and HEAD) → the file
//	GET  /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json?PhoneNumber=
//	     → 200 {"incoming_phone_numbers": [{"sid": "PN…", "phone_number": …}], "page": 0, …}
//
// Errors are Twilio's JSON {"code", "message", "more_info", "status"}:
// 20003 for a bad login (401), 20404 for an unknown account (404), 21211
// for an invalid To, 21602 for neither Body nor MediaUrl, 21603 for
// neither From nor MessagingServiceSid, 21606 for a From that is not the
// account's, 21610 for an unsubscribed recipient, 21705 for a
// MessagingServiceSid that is not one (not MG…), 21701 for a service the
// account does not have (all 400). Push queues answers that override the
// next requests (a 429 with Retry-After, a 503, a hang).
//
// The webhook side: Receive posts an incoming text to the URL configured
// for the number (SetIncomingURL, Twilio's "A message comes in"), and
// ReportStatus a message's status to its StatusCallback, both as form
// POSTs signed in X-Twilio-Signature with the account's auth token
// (Sign). Post sends any form, signed or not, for the tests of forged
// and malformed requests.
//
// Group texts: the Conversations API and its webhooks, served at the same
// URL (conversations.go).
//
// The package uses only the standard library and knows nothing of the
// sms package, so sms's own tests use it too.
package twiliotest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a scripted Twilio. Its methods may be called from any
// goroutine.
type Server struct {
	// URL is the REST API's base (no trailing "/"), the api_url to
	// configure.
	URL string

	mu           sync.Mutex
	accounts     map[string]*account // by SID
	services     map[string]service  // by SID
	incoming     map[string]string   // number → its "A message comes in" URL
	unsubscribed map[string]bool
	script       []Answer
	requests     int // requests to Messages.json
	sent         chan Sent
	media        map[string][]byte // by path
	stop         chan struct{}     // closed at the end of the test: hung answers end
	conv         convState         // the Conversations API (conversations.go)
	mcs          mediaState        // the Media Content Service (media.go)
}

type account struct {
	token   string
	numbers []string
}

type service struct {
	account string
	numbers []string
}

// Sent is a message the fake accepted.
type Sent struct {
	SID, Account, To, From, Body, StatusCallback string
	// MessagingServiceSid is the service the message was sent with, ""
	// when none.
	MessagingServiceSid string
	Media               []string
}

// Answer overrides the answer to one request to Messages.json: an error
// of Twilio's with Status, Code and Message (and Retry-After when set),
// or no answer at all with Hang (until the client gives up).
type Answer struct {
	Status     int
	RetryAfter string
	Code       int
	Message    string
	Hang       bool
}

// New starts a fake Twilio, stopped when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{accounts: map[string]*account{}, services: map[string]service{}, incoming: map[string]string{},
		unsubscribed: map[string]bool{}, sent: make(chan Sent, 100), media: map[string][]byte{}, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.messages)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json", s.numbers)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}", s.serveMedia)
	s.conversationRoutes(mux)
	srv := httptest.NewServer(mux)
	s.URL = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(s.stop) })
	return s
}

// AddAccount creates account sid with auth token and phone numbers.
func (s *Server) AddAccount(sid, token string, numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[sid] = &account{token: token, numbers: numbers}
}

// AddMessagingService creates Messaging Service sid (MG…) of account
// with numbers as its sender pool (numbers of the account).
func (s *Server) AddMessagingService(accountSID, sid string, numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[sid] = service{account: accountSID, numbers: numbers}
}

// SetIncomingURL sets where number's incoming texts are posted (the
// number's "A message comes in" webhook).
func (s *Server) SetIncomingURL(number, rawURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incoming[number] = rawURL
}

// Unsubscribe makes number refuse texts (it answered STOP): sending to
// it fails with 21610.
func (s *Server) Unsubscribe(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsubscribed[number] = true
}

// Push queues answers for the next requests to Messages.json, in order.
func (s *Server) Push(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, answers...)
}

// MessageRequests is how many requests Messages.json got.
func (s *Server) MessageRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// NextSent waits up to timeout for the next message the fake accepted.
func (s *Server) NextSent(timeout time.Duration) (Sent, error) {
	select {
	case m := <-s.sent:
		return m, nil
	case <-time.After(timeout):
		return Sent{}, fmt.Errorf("twiliotest: no message sent within %v", timeout)
	}
}

// AddMedia stores an MMS file of account sid and returns its URL, which
// serves it to the account's credentials.
func (s *Server) AddMedia(sid string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := "/2010-04-01/Accounts/" + sid + "/Messages/MM" + randomHex(16) + "/Media/ME" + randomHex(16)
	s.media[p] = data
	return s.URL + p
}

// Incoming is a text to one of the fake's numbers.
type Incoming struct {
	From, To, Body string
	// SID is the message's SID; "" makes a new one.
	SID string
	// Media are the URLs of an MMS's files (AddMedia), with their
	// content types.
	Media, MediaTypes []string
}

// Receive posts in to the incoming URL of in.To as Twilio does, signed
// with the auth token of the account that has in.To, and returns the
// HTTP status of the answer and the SID it used.
func (s *Server) Receive(ctx context.Context, in Incoming) (status int, sid string, err error) {
	s.mu.Lock()
	target := s.incoming[in.To]
	acctSID, acct := s.owner(in.To)
	s.mu.Unlock()
	if target == "" || acct == nil {
		return 0, "", fmt.Errorf("twiliotest: %s is no account's number with an incoming URL", in.To)
	}
	sid = in.SID
	if sid == "" {
		sid = "SM" + randomHex(16)
	}
	p := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "AccountSid": {acctSID},
		"From": {in.From}, "To": {in.To}, "Body": {in.Body}, "NumMedia": {strconv.Itoa(len(in.Media))},
		"NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}}
	for i, u := range in.Media {
		p.Set("MediaUrl"+strconv.Itoa(i), u)
		if i < len(in.MediaTypes) {
			p.Set("MediaContentType"+strconv.Itoa(i), in.MediaTypes[i])
		}
	}
	status, _, err = Post(ctx, target, Sign(acct.token, target, p), p)
	return status, sid, err
}

// ReportStatus posts Twilio's status callback of m (status "sent",
// "delivered", "undelivered", "failed", …; errorCode "" or Twilio's
// code) to m.StatusCallback, signed with the account's auth token, and
// returns the HTTP status of the answer.
func (s *Server) ReportStatus(ctx context.Context, m Sent, status, errorCode string) (int, error) {
	if m.StatusCallback == "" {
		return 0, fmt.Errorf("twiliotest: message %s has no StatusCallback", m.SID)
	}
	s.mu.Lock()
	acct := s.accounts[m.Account]
	s.mu.Unlock()
	if acct == nil {
		return 0, fmt.Errorf("twiliotest: no account %s", m.Account)
	}
	p := url.Values{"MessageSid": {m.SID}, "SmsSid": {m.SID}, "AccountSid": {m.Account}, "From": {m.From}, "To": {m.To},
		"MessageStatus": {status}, "SmsStatus": {status}, "ApiVersion": {"2010-04-01"}}
	if m.MessagingServiceSid != "" {
		p.Set("MessagingServiceSid", m.MessagingServiceSid)
	}
	if errorCode != "" {
		p.Set("ErrorCode", errorCode)
	}
	code, _, err := Post(ctx, m.StatusCallback, Sign(acct.token, m.StatusCallback, p), p)
	return code, err
}

// owner is the account that has number; the caller holds mu.
func (s *Server) owner(number string) (string, *account) {
	for sid, a := range s.accounts {
		if slices.Contains(a.numbers, number) {
			return sid, a
		}
	}
	return "", nil
}

// Sign is Twilio's X-Twilio-Signature of a form POST to rawURL (the full
// URL Twilio requested, query included) with params: the base64
// HMAC-SHA1, keyed with the auth token, of the URL followed by each
// parameter's name and value, in the byte order of the names (every
// value of a repeated name, in order). It is written here apart from the
// sms package's, so each checks the other.
func Sign(authToken, rawURL string, params url.Values) string {
	var msg bytes.Buffer
	msg.WriteString(rawURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range params[k] {
			msg.WriteString(k)
			msg.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write(msg.Bytes())
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Post sends params to rawURL as Twilio sends its webhooks (a form POST,
// Twilio's User-Agent), with signature in X-Twilio-Signature ("" sends
// none), and returns the answer's status and body (at most 64 KiB).
func Post(ctx context.Context, rawURL, signature string, params url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(body), err
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

// auth checks the basic auth of a request for the account in its path.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) (account, bool) {
	sid := r.PathValue("sid")
	user, acct, ok := s.authenticate(w, r)
	if !ok {
		return account{}, false
	}
	if user != sid {
		writeError(w, http.StatusNotFound, 20404, "The requested resource /2010-04-01/Accounts/"+sid+" was not found")
		return account{}, false
	}
	return *acct, true
}

// authenticate checks a request's basic credentials (account SID and
// auth token) and returns the account, or answers 401 as Twilio does.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, *account, bool) {
	user, pass, ok := r.BasicAuth()
	s.mu.Lock()
	acct, known := s.accounts[user]
	s.mu.Unlock()
	if !ok || !known || acct.token != pass {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return "", nil, false
	}
	return user, acct, true
}

// parseForm reads a request's form body, or answers 415 or 400 as Twilio
// does when it is not one.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusUnsupportedMediaType, 20415, "Unsupported Media Type")
		return false
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Bad request")
		return false
	}
	return true
}

// e164 is a number the fake's network can reach: +, country code, at
// most 15 digits, at least 8.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// serviceSID is the pattern of a Messaging Service's SID.
var serviceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	var a *Answer
	if len(s.script) > 0 {
		a = &s.script[0]
		s.script = s.script[1:]
	}
	s.mu.Unlock()
	if a != nil {
		if a.Hang {
			io.Copy(io.Discard, r.Body) // so the server notices the client leaving
			select {
			case <-r.Context().Done():
			case <-s.stop:
			}
			return
		}
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		writeError(w, a.Status, a.Code, a.Message)
		return
	}
	acct, ok := s.auth(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	to, from, body, msid := f.Get("To"), f.Get("From"), f.Get("Body"), f.Get("MessagingServiceSid")
	var svc service
	if msid != "" {
		s.mu.Lock()
		svc, ok = s.services[msid]
		s.mu.Unlock()
		switch {
		case !serviceSID.MatchString(msid):
			writeError(w, http.StatusBadRequest, 21705, "The Messaging Service Sid "+msid+" is invalid.")
			return
		case !ok || svc.account != r.PathValue("sid"):
			writeError(w, http.StatusBadRequest, 21701, "The Messaging Service Sid "+msid+" does not exist.")
			return
		}
	}
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !e164.MatchString(to):
		writeError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	case from == "" && msid == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
		return
	case from != "" && !slices.Contains(acct.numbers, from):
		writeError(w, http.StatusBadRequest, 21606, fmt.Sprintf("The From phone number %s is not a valid, SMS-capable inbound phone number or short code for your account.", from))
		return
	case body == "" && len(f["MediaUrl"]) == 0:
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	s.mu.Lock()
	unsub := s.unsubscribed[to]
	s.mu.Unlock()
	if unsub {
		writeError(w, http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
		return
	}
	status := "queued"
	if msid != "" {
		// A service's message is "accepted"; without From, the service
		// picks a sender of its pool.
		status = "accepted"
		if from == "" && len(svc.numbers) > 0 {
			from = svc.numbers[0]
		}
	}
	m := Sent{SID: "SM" + randomHex(16), Account: r.PathValue("sid"), To: to, From: from, Body: body,
		StatusCallback: f.Get("StatusCallback"), MessagingServiceSid: msid, Media: f["MediaUrl"]}
	s.sent <- m
	var msidJSON any
	if msid != "" {
		msidJSON = msid
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"sid": m.SID, "account_sid": m.Account, "to": to, "from": from, "body": body, "status": status,
		"messaging_service_sid": msidJSON,
		"num_segments":          "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": time.Now().UTC().Format(time.RFC1123Z), "error_code": nil, "error_message": nil,
		"uri": "/2010-04-01/Accounts/" + m.Account + "/Messages/" + m.SID + ".json",
	})
}

// serveMedia serves a media file (GET and HEAD) to its account.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.auth(w, r); !ok {
		return
	}
	s.mu.Lock()
	data, ok := s.media[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func (s *Server) numbers(w http.ResponseWriter, r *http.Request) {
	acct, ok := s.auth(w, r)
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
