package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Twilio's Conversations API, where group texts (Group MMS) live, as far
// as this network uses it (the wire format of twilio/twilio-oai's
// twilio_conversations_v1 description):
//
//	POST {conv}/v1/Conversations/{CH…}/Messages  (basic auth Sid:AuthToken)
//	     form Author, Body → 201 {"sid": "IM…", "conversation_sid", "author", "body", "index", …}
//	GET  {conv}/v1/Conversations/{CH…}/Participants?PageSize=100
//	     → 200 {"participants": [{"sid": "MB…", "identity", "messaging_binding":
//	            {"type": "sms", "address", "proxy_address"} or {"projected_address"}}, …],
//	            "meta": {"next_page_url", …}}
//
// A message takes no media URL (only a MediaSid uploaded to Twilio's
// Media Content Service beforehand), so files shared in a group go as
// links in the text. Errors are those of the REST API (twilioFailure).

// sendConversation posts body to Conversation sid as author and returns
// the message's SID (IM…). One attempt; the error is a *sendError as
// sendMessage's.
func (c *twilioClient) sendConversation(ctx context.Context, sid, author, body string) (string, error) {
	form := url.Values{"Author": {author}, "Body": {body}}
	data, err := c.postForm(ctx, c.conversationURL(sid, "Messages"), form, "the text may have been sent")
	if err != nil {
		return "", err
	}
	var m struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.SID == "" {
		return "", &sendError{err: fmt.Errorf("%w: the provider accepted the text but gave no message ID", transports.ErrUnavailable)}
	}
	return m.SID, nil
}

// maxParticipantPages bounds the pages of participants read: a group
// text has ten participants at most.
const maxParticipantPages = 3

// phoneMembers returns the phone numbers (SMS participants' addresses)
// of Conversation sid, but not self (the gateway user's number, which
// takes part as a participant with self as its projected address), and
// the identity of that participant ("" when there is none), the Author
// of what the user says. It may do I/O and block until ctx ends; nobody
// retries.
func (c *twilioClient) phoneMembers(ctx context.Context, sid, self string) (members []string, author string, err error) {
	next := c.conversationURL(sid, "Participants") + "?PageSize=100"
	for range maxParticipantPages {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", transports.ErrUnavailable, err)
		}
		res, err := c.do(req)
		if err != nil {
			return nil, "", err
		}
		data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%w: reading the provider's answer: %w", transports.ErrUnavailable, err)
		}
		if res.StatusCode != http.StatusOK {
			if res.StatusCode == http.StatusNotFound {
				return nil, "", fmt.Errorf("%w: the provider has no group text %s", transports.ErrNotFound, sid)
			}
			return nil, "", twilioFailure(res, data)
		}
		var page struct {
			Participants []struct {
				Identity string `json:"identity"`
				Binding  *struct {
					Type      string `json:"type"`
					Address   string `json:"address"`
					Projected string `json:"projected_address"`
				} `json:"messaging_binding"`
			} `json:"participants"`
			Meta struct {
				Next string `json:"next_page_url"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, "", fmt.Errorf("%w: the provider's list of participants is not JSON", transports.ErrUnavailable)
		}
		for _, p := range page.Participants {
			switch {
			case p.Binding == nil:
			case p.Binding.Projected == self && p.Identity != "":
				author = p.Identity
			case e164.MatchString(p.Binding.Address) && p.Binding.Address != self:
				members = append(members, p.Binding.Address)
			}
		}
		// The next page only where this API is: a URL the answer names
		// elsewhere would take the credentials with it.
		if page.Meta.Next == "" || !strings.HasPrefix(page.Meta.Next, c.conv+"/") {
			return members, author, nil
		}
		next = page.Meta.Next
	}
	return members, author, nil
}

func (c *twilioClient) conversationURL(sid, resource string) string {
	return c.conv + "/v1/Conversations/" + url.PathEscape(sid) + "/" + resource
}
