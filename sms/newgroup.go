package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/switchboard-im/switchboard/transports"
)

// With [sms.twilio] group_texts = true, writing in a fan-out room starts
// a group text instead (Group MMS, a Twilio Conversation):
//
//	POST {conv}/v1/ConversationWithParticipants  (basic auth Sid:AuthToken)
//	     form FriendlyName, Participant (repeated JSON): each member
//	     {"messaging_binding": {"address": "+1…", "proxy_address": <number>}},
//	     the user {"identity": <bare JID>, "messaging_binding": {"projected_address": <number>}}
//	→ 201 {"sid": "CH…", …}
//
// The group is stored as one texted to the user (group/<CH…>), the
// fan-out room remembers it in the user's store (fanOutGroupKey), and
// the room tells the user the group's room address; the message, and
// every later one in either room, goes as one group text.

// fanOutGroupKey is the user's store key (+ fan-out room) of the group
// text started from that room.
const fanOutGroupKey = "fanout-group/"

// createGroup creates a group text of members with the user, whose
// number is from and whose participant has identity, and returns its
// SID. One attempt; the error is a *sendError as sendMessage's.
func (c *twilioClient) createGroup(ctx context.Context, from, identity string, members []string) (string, error) {
	form := url.Values{"FriendlyName": {"Group text"}}
	user, _ := json.Marshal(map[string]any{"identity": identity, "messaging_binding": map[string]string{"projected_address": from}})
	form.Add("Participant", string(user))
	for _, m := range members {
		p, _ := json.Marshal(map[string]any{"messaging_binding": map[string]string{"address": m, "proxy_address": from}})
		form.Add("Participant", string(p))
	}
	data, err := c.postForm(ctx, c.conv+"/v1/ConversationWithParticipants", form, "the group may have been created")
	if err != nil {
		return "", err
	}
	var conv struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(data, &conv); err != nil || !conversationSID.MatchString(canonicalSID(conv.SID)) {
		return "", &sendError{err: fmt.Errorf("%w: the provider created the group but gave no Conversation SID", transports.ErrUnavailable)}
	}
	return canonicalSID(conv.SID), nil
}

// startedGroup is the group text started from fan-out room (members),
// started now when there is none: stored, and the user told its room.
func (a *adapter) startedGroup(ctx context.Context, room transports.ID, members []string, from string) (string, error) {
	if a.store != nil {
		if v, err := a.store.Get(ctx, fanOutGroupKey+string(room)); err == nil {
			if g, err := a.net.group(ctx, string(v)); err == nil && g.User == a.user && g.Number == from {
				return string(v), nil
			}
		} else if !errors.Is(err, transports.ErrNotFound) {
			return "", &sendError{err: fmt.Errorf("%w: reading the room's group text: %w", transports.ErrUnavailable, err), notSent: true}
		}
	}
	var others []string
	for _, m := range members {
		if m != from {
			others = append(others, m)
		}
	}
	sid, err := a.tw.createGroup(ctx, from, a.user, others)
	if err != nil {
		return "", err
	}
	if err := a.net.putGroup(ctx, sid, groupRecord{User: a.user, Number: from, Author: a.user, Members: others}); err != nil {
		return "", &sendError{err: fmt.Errorf("%w: storing the new group text %s: %w", transports.ErrUnavailable, sid, err), notSent: true}
	}
	if a.store != nil {
		if err := a.store.Put(ctx, fanOutGroupKey+string(room), []byte(sid)); err != nil {
			a.net.log.Warn("noting a fan-out room's group text", "group", sid, "err", err)
		}
	}
	g := GroupRoom(sid)
	a.sink.Deliver(&transports.NoticeEvent{About: room, Invite: g,
		Text: "This is a group text now: everyone gets one text and sees the others' answers, and what you write here goes there too. Join its room to read them:"})
	return sid, nil
}
