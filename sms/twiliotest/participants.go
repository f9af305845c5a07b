package twiliotest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Membership changes of a group text: AddParticipant and
// RemoveParticipant change a Conversation's SMS participants (as the
// Participants API or a member's phone would) and post the post-event
// webhook Twilio sends then, onParticipantAdded or onParticipantRemoved,
// signed with the account's auth token. The form's names follow
// Twilio's Conversations webhook documentation and its Event Streams
// schema (ParticipantSid, Identity, MessagingBinding.Address,
// MessagingBinding.ProxyAddress); the flattened MessagingBinding.*
// names of the form POST are unconfirmed by a captured request.

// AddParticipant adds member (an SMS participant texting through the
// group's number) to group sid and posts onParticipantAdded. It returns
// the HTTP status of the answer.
func (s *Server) AddParticipant(ctx context.Context, sid, member string) (int, error) {
	s.conv.mu.Lock()
	c, ok := s.conv.conversations[sid]
	var p participant
	if ok {
		p = participant{sid: "MB" + randomHex(16), address: member, proxy: groupNumber(c)}
		c.participants = append(c.participants, p)
	}
	s.conv.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("twiliotest: no group %s", sid)
	}
	return s.participantHook(ctx, sid, "onParticipantAdded", p)
}

// RemoveParticipant removes member from group sid and posts
// onParticipantRemoved. It returns the HTTP status of the answer.
func (s *Server) RemoveParticipant(ctx context.Context, sid, member string) (int, error) {
	s.conv.mu.Lock()
	c, ok := s.conv.conversations[sid]
	var p participant
	if ok {
		i := slices.IndexFunc(c.participants, func(p participant) bool { return p.address == member })
		if i < 0 {
			ok = false
		} else {
			p = c.participants[i]
			c.participants = slices.Delete(c.participants, i, i+1)
		}
	}
	s.conv.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("twiliotest: no member %s in group %s", member, sid)
	}
	return s.participantHook(ctx, sid, "onParticipantRemoved", p)
}

// participantHook posts event about participant p of group sid.
func (s *Server) participantHook(ctx context.Context, sid, event string, p participant) (int, error) {
	target, token, c, err := s.groupHook(sid)
	if err != nil {
		return 0, err
	}
	form := url.Values{"EventType": {event}, "AccountSid": {c.account}, "ConversationSid": {sid},
		"ParticipantSid": {p.sid}, "Source": {"SMS"}, "Attributes": {"{}"},
		"MessagingBinding.Type": {"sms"}, "MessagingBinding.Address": {p.address},
		"MessagingBinding.ProxyAddress": {p.proxy},
		"DateCreated":                   {time.Now().UTC().Format(time.RFC3339)}, "RetryCount": {"0"}, "WebhookType": {"webhook"}}
	code, _, err := Post(ctx, target, Sign(token, target, form), form)
	return code, err
}

// groupNumber is the number c texts its members from: the projected
// address of its user participant.
func groupNumber(c *conversation) string {
	for _, p := range c.participants {
		if p.projected != "" {
			return p.projected
		}
	}
	return ""
}
