package twiliotest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Starting a group text through the Conversations API, in the wire
// format of twilio/twilio-oai's twilio_conversations_v1 description:
//
//	POST /v1/ConversationWithParticipants  (basic auth) form FriendlyName,
//	     Participant (repeated, each a JSON object: {"messaging_binding":
//	     {"address", "proxy_address"}} for an SMS member, {"identity",
//	     "messaging_binding": {"projected_address"}} for the account's user)
//	     → 201 {"sid": "CH…", "account_sid", "chat_service_sid", "friendly_name", "state", …}
//
// A participant that is not such JSON is 400 (code 50200 here: the
// OpenAPI description lists no codes).

type newParticipant struct {
	Identity string `json:"identity"`
	Binding  struct {
		Address   string `json:"address"`
		Proxy     string `json:"proxy_address"`
		Projected string `json:"projected_address"`
	} `json:"messaging_binding"`
}

func (s *Server) createConversation(w http.ResponseWriter, r *http.Request) {
	user, _, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	c := &conversation{account: user, service: "IS" + randomHex(16)}
	for _, raw := range r.PostForm["Participant"] {
		var p newParticipant
		if err := json.Unmarshal([]byte(raw), &p); err != nil ||
			(p.Binding.Projected == "") == (p.Binding.Address == "") {
			writeError(w, http.StatusBadRequest, 50200, "Invalid Participant")
			return
		}
		c.participants = append(c.participants, participant{sid: "MB" + randomHex(16), identity: p.Identity,
			address: p.Binding.Address, proxy: p.Binding.Proxy, projected: p.Binding.Projected})
	}
	if len(c.participants) == 0 {
		writeError(w, http.StatusBadRequest, 50200, "Participant is required")
		return
	}
	sid := "CH" + randomHex(16)
	s.conv.mu.Lock()
	s.conv.conversations[sid] = c
	s.conv.created = append(s.conv.created, sid)
	s.conv.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": sid, "account_sid": user, "chat_service_sid": c.service,
		"friendly_name": r.PostForm.Get("FriendlyName"), "state": "active", "attributes": "{}",
		"date_created": now, "date_updated": now, "url": s.URL + "/v1/Conversations/" + sid})
}

// CreatedGroups are the SIDs of the Conversations created through the
// API, in order.
func (s *Server) CreatedGroups() []string {
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	return append([]string(nil), s.conv.created...)
}

// GroupParticipants describes group sid's participants: the projected
// address and identity of its user participant, and its SMS members'
// addresses with the proxy address each texts through.
func (s *Server) GroupParticipants(sid string) (number, identity string, members, proxies []string) {
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	c := s.conv.conversations[sid]
	if c == nil {
		return "", "", nil, nil
	}
	for _, p := range c.participants {
		if p.projected != "" {
			number, identity = p.projected, p.identity
		} else {
			members, proxies = append(members, p.address), append(proxies, p.proxy)
		}
	}
	return number, identity, members, proxies
}
