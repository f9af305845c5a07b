package twiliotest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Twilio's Conversations API, where group texts (Group MMS) live, in the
// wire format of twilio/twilio-oai's twilio_conversations_v1
// description (served at Server.URL, the conversations_url):
//
//	GET  /v1/Conversations/{CH…}/Participants  (basic auth; PageSize, Page)
//	     → 200 {"participants": [{"sid": "MB…", "account_sid", "conversation_sid", "identity",
//	            "messaging_binding": {"type": "sms", "address", "proxy_address"} | {"type": "sms",
//	            "projected_address"}, …}], "meta": {"page", "page_size", "next_page_url", "key": "participants", …}}
//	POST /v1/Conversations/{CH…}/Messages  form Author, Body, MediaSid
//	     → 201 {"sid": "IM…", "conversation_sid", "author", "body", "index", "media", …}
//
// A Conversation of another account, or none, is 404 with code 20404;
// a message with neither Body nor MediaSid is 400 (code 50511 here: the
// OpenAPI description lists no codes), a MediaSid that is not ME… 400
// with 20001.
//
// The webhooks: the account's Conversations service posts its post-event
// webhook (SetConversationsURL) as form POSTs signed with the account's
// auth token, as the Messages webhooks are: ConversationAdded posts
// onConversationAdded, ReceiveGroup onMessageAdded.

// convState is the fake's Conversations, guarded by its own mutex.
type convState struct {
	mu            sync.Mutex
	conversations map[string]*conversation // by SID
	webhooks      map[string]string        // account SID → post-event URL
	sent          chan ConversationMessage
	created       []string // Conversations created through the API (newgroup.go)
}

type conversation struct {
	account      string
	service      string // ChatServiceSid (IS…)
	participants []participant
	messages     int
}

type participant struct {
	sid, identity                     string
	address, proxy, projected, origin string
}

// ConversationMessage is a message the fake's Conversations API took.
type ConversationMessage struct {
	SID, Conversation, Author, Body, MediaSid string
}

func (s *Server) conversationRoutes(mux *http.ServeMux) {
	s.conv.conversations = map[string]*conversation{}
	s.conv.webhooks = map[string]string{}
	s.conv.sent = make(chan ConversationMessage, 100)
	mux.HandleFunc("GET /v1/Conversations/{ch}/Participants", s.participants)
	mux.HandleFunc("POST /v1/Conversations/{ch}/Messages", s.conversationMessage)
	s.mediaRoutes(mux)
	mux.HandleFunc("POST /v1/ConversationWithParticipants", s.createConversation)
}

// AddGroup creates a group text of account: a Conversation whose SMS
// participants are members (each with number as its proxy address) and
// whose user participant has identity and number as its projected
// address, as a Group MMS has. It returns the Conversation's SID.
func (s *Server) AddGroup(accountSID, number, identity string, members ...string) string {
	c := &conversation{account: accountSID, service: "IS" + randomHex(16)}
	c.participants = append(c.participants, participant{sid: "MB" + randomHex(16), identity: identity, projected: number})
	for _, m := range members {
		c.participants = append(c.participants, participant{sid: "MB" + randomHex(16), address: m, proxy: number})
	}
	sid := "CH" + randomHex(16)
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	s.conv.conversations[sid] = c
	return sid
}

// SetConversationsURL sets the post-event webhook URL of account's
// Conversations service.
func (s *Server) SetConversationsURL(accountSID, rawURL string) {
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	s.conv.webhooks[accountSID] = rawURL
}

// NextConversationMessage waits up to timeout for the next message the
// Conversations API took.
func (s *Server) NextConversationMessage(timeout time.Duration) (ConversationMessage, error) {
	select {
	case m := <-s.conv.sent:
		return m, nil
	case <-time.After(timeout):
		return ConversationMessage{}, fmt.Errorf("twiliotest: no Conversations message within %v", timeout)
	}
}

// ConversationAdded posts onConversationAdded of group sid (AddGroup), as
// Twilio does when a group text reaches one of the account's numbers:
// started by author (one of its members). It returns the HTTP status of
// the answer.
func (s *Server) ConversationAdded(ctx context.Context, sid, author string) (int, error) {
	target, token, c, err := s.groupHook(sid)
	if err != nil {
		return 0, err
	}
	p := url.Values{"EventType": {"onConversationAdded"}, "AccountSid": {c.account}, "ConversationSid": {sid},
		"ChatServiceSid": {c.service}, "State": {"active"}, "Attributes": {"{}"},
		"DateCreated": {time.Now().UTC().Format(time.RFC3339)}, "Source": {"SMS"}, "RetryCount": {"0"}, "WebhookType": {"webhook"},
		"MessagingBinding.AuthorAddress": {author}}
	for _, pt := range c.participants {
		if pt.projected != "" {
			p.Set("MessagingBinding.ProjectedAddress", pt.projected)
		}
	}
	code, _, err := Post(ctx, target, Sign(token, target, p), p)
	return code, err
}

// GroupIncoming is a text a member sends to a group.
type GroupIncoming struct {
	Conversation, Author, Body string
	// SID is the message's SID; "" makes a new one (IM…).
	SID string
	// Files are kept in the Media Content Service and named in the
	// webhook's Media.
	Files []GroupFile
}

// ReceiveGroup posts onMessageAdded of in, as Twilio does when a member
// texts the group, signed with the account's auth token, and returns
// the HTTP status of the answer and the message's SID.
func (s *Server) ReceiveGroup(ctx context.Context, in GroupIncoming) (status int, sid string, err error) {
	target, token, c, err := s.groupHook(in.Conversation)
	if err != nil {
		return 0, "", err
	}
	s.conv.mu.Lock()
	s.conv.conversations[in.Conversation].messages++
	s.conv.mu.Unlock()
	sid = in.SID
	if sid == "" {
		sid = "IM" + randomHex(16)
	}
	var author participant
	for _, pt := range c.participants {
		if pt.address == in.Author {
			author = pt
		}
	}
	p := url.Values{"EventType": {"onMessageAdded"}, "AccountSid": {c.account}, "ConversationSid": {in.Conversation}, "ChatServiceSid": {c.service},
		"MessageSid": {sid}, "Index": {strconv.Itoa(c.messages)}, "Author": {in.Author}, "Body": {in.Body},
		"ParticipantSid": {author.sid}, "Source": {"SMS"}, "Attributes": {"{}"},
		"DateCreated": {time.Now().UTC().Format(time.RFC3339)}, "RetryCount": {"0"}, "WebhookType": {"webhook"}}
	if len(in.Files) > 0 {
		p.Set("Media", s.keepMedia(c, in.Files))
	}
	status, _, err = Post(ctx, target, Sign(token, target, p), p)
	return status, sid, err
}

// groupHook is the webhook URL and auth token of group sid's account.
func (s *Server) groupHook(sid string) (target, token string, c conversation, err error) {
	s.conv.mu.Lock()
	cp, ok := s.conv.conversations[sid]
	if ok {
		c = *cp
		target = s.conv.webhooks[c.account]
	}
	s.conv.mu.Unlock()
	if !ok || target == "" {
		return "", "", c, fmt.Errorf("twiliotest: no group %s with a Conversations webhook", sid)
	}
	s.mu.Lock()
	acct := s.accounts[c.account]
	s.mu.Unlock()
	if acct == nil {
		return "", "", c, fmt.Errorf("twiliotest: no account %s", c.account)
	}
	return target, acct.token, c, nil
}

// conversationOf authenticates a Conversations request and returns its
// Conversation, or answers with Twilio's error.
func (s *Server) conversationOf(w http.ResponseWriter, r *http.Request) (string, *conversation, bool) {
	user, _, ok := s.authenticate(w, r)
	if !ok {
		return "", nil, false
	}
	sid := r.PathValue("ch")
	s.conv.mu.Lock()
	c, ok := s.conv.conversations[sid]
	s.conv.mu.Unlock()
	if !ok || c.account != user {
		writeError(w, http.StatusNotFound, 20404, "The requested resource /Conversations/"+sid+" was not found")
		return "", nil, false
	}
	return sid, c, true
}

func (s *Server) participants(w http.ResponseWriter, r *http.Request) {
	sid, c, ok := s.conversationOf(w, r)
	if !ok {
		return
	}
	s.conv.mu.Lock()
	list := []map[string]any{}
	for _, p := range c.participants {
		binding := map[string]any{"type": "sms"}
		if p.projected != "" {
			binding["projected_address"] = p.projected
		} else {
			binding["address"], binding["proxy_address"] = p.address, p.proxy
		}
		var identity any
		if p.identity != "" {
			identity = p.identity
		}
		list = append(list, map[string]any{"sid": p.sid, "account_sid": c.account, "conversation_sid": sid,
			"identity": identity, "attributes": "{}", "messaging_binding": binding,
			"url": s.URL + "/v1/Conversations/" + sid + "/Participants/" + p.sid})
	}
	s.conv.mu.Unlock()
	page := s.URL + "/v1/Conversations/" + sid + "/Participants?PageSize=50&Page=0"
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"participants": list, "meta": map[string]any{
		"page": 0, "page_size": 50, "first_page_url": page, "previous_page_url": nil, "url": page,
		"next_page_url": nil, "key": "participants"}})
}

func (s *Server) conversationMessage(w http.ResponseWriter, r *http.Request) {
	sid, c, ok := s.conversationOf(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	m := ConversationMessage{SID: "IM" + randomHex(16), Conversation: sid, Author: f.Get("Author"), Body: f.Get("Body"), MediaSid: f.Get("MediaSid")}
	switch {
	case m.MediaSid != "" && !mediaSID(m.MediaSid):
		writeError(w, http.StatusBadRequest, 20001, "Invalid MediaSid")
		return
	case m.Body == "" && m.MediaSid == "":
		writeError(w, http.StatusBadRequest, 50511, "Message body or media is required")
		return
	}
	if m.Author == "" {
		m.Author = "system"
	}
	s.conv.mu.Lock()
	index := c.messages
	c.messages++
	s.conv.mu.Unlock()
	s.conv.sent <- m
	var body any
	if m.Body != "" {
		body = m.Body
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": m.SID, "account_sid": c.account, "conversation_sid": sid,
		"body": body, "media": nil, "author": m.Author, "attributes": "{}", "index": index,
		"date_created": time.Now().UTC().Format(time.RFC3339), "date_updated": time.Now().UTC().Format(time.RFC3339),
		"delivery": nil, "content_sid": nil,
		"url": s.URL + "/v1/Conversations/" + sid + "/Messages/" + m.SID})
}

// mediaSID reports whether sid is a Media SID (ME and 32 hex digits).
func mediaSID(sid string) bool {
	if len(sid) != 34 || sid[:2] != "ME" {
		return false
	}
	for _, c := range sid[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
