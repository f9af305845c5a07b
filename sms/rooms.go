package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

var _ transports.Rooms = (*adapter)(nil)

// keyGroup + a Conversation's SID (CH…) → its groupRecord: whose group
// text it is, so that a webhook finds the user without a session.
const keyGroup = "group/"

// groupRecord is what the network's store keeps of a Twilio group text.
type groupRecord struct {
	// User is the bare JID of the gateway user in the group, Number
	// their number (the proxy address Twilio texts the group from).
	User   string `json:"user"`
	Number string `json:"number"`
	// Author is the identity of the user's participant, the Author of
	// what they say in it ("" until known: their number).
	Author string `json:"author,omitempty"`
	// Members are the other numbers, as last seen.
	Members []string `json:"members,omitempty"`
}

// group reads the record of Conversation sid; an unknown one wraps
// transports.ErrNotFound.
func (n *Network) group(ctx context.Context, sid string) (groupRecord, error) {
	var g groupRecord
	v, err := n.Hooks().Store.Get(ctx, keyGroup+sid)
	if errors.Is(err, transports.ErrNotFound) {
		return g, fmt.Errorf("%w: no user has the group text %s", transports.ErrNotFound, sid)
	} else if err != nil {
		return g, fmt.Errorf("%w: looking up group text %s: %w", transports.ErrUnavailable, sid, err)
	}
	if err := json.Unmarshal(v, &g); err != nil {
		return g, fmt.Errorf("%w: the record of group text %s is damaged: %w", transports.ErrUnavailable, sid, err)
	}
	return g, nil
}

// putGroup stores the record of Conversation sid.
func (n *Network) putGroup(ctx context.Context, sid string, g groupRecord) error {
	v, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return n.Hooks().Store.Put(ctx, keyGroup+sid, v)
}

// JoinRoom implements transports.Rooms: a room's members are its numbers
// (a Twilio group's as Twilio lists them now, a fan-out room's from its
// address), each an occupant whose nick is the number as people of the
// default country write it and whose occupant ID is the number. There
// is no subject. A Twilio group must be the user's (one texted their
// number); a fan-out room needs no one's leave.
func (a *adapter) JoinRoom(ctx context.Context, room transports.ID, nick string) error {
	r, err := ParseRoom(room)
	if err != nil {
		return err
	}
	members := r.Members
	if r.Group != "" {
		if members, err = a.groupMembers(ctx, r.Group); err != nil {
			return err
		}
	}
	members = slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == a.from })
	if len(members) == 0 {
		return fmt.Errorf("%w: the group has nobody else in it", transports.ErrNotFound)
	}
	for _, m := range members {
		if a.net.nick(m) == nick {
			return fmt.Errorf("%w: %q is a member's number", transports.ErrConflict, nick)
		}
	}
	a.mu.Lock()
	if a.rooms == nil {
		a.rooms = map[transports.ID]string{}
	}
	a.rooms[room] = nick
	a.mu.Unlock()
	nicks := make([]string, len(members))
	for i, m := range members {
		nicks[i] = a.net.nick(m)
		a.sink.Deliver(&transports.OccupantEvent{Room: room, Nick: nicks[i], OccupantID: m,
			Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember})
	}
	a.sink.Deliver(&transports.RoomReadyEvent{Room: room, Nick: nick, Role: transports.RoleParticipant,
		Affiliation: transports.AffiliationMember, Name: roomName(nicks), OccupantID: a.from})
	return nil
}

// roomName names a room by its members, cut to a length a client shows.
func roomName(nicks []string) string {
	name := strings.Join(nicks, ", ")
	if r := []rune(name); len(r) > 60 {
		name = string(r[:60]) + "…"
	}
	return name
}

// groupMembers are the numbers of the user's Twilio group sid, as Twilio
// lists them; the store's record is brought up to date.
func (a *adapter) groupMembers(ctx context.Context, sid string) ([]string, error) {
	if a.tw == nil {
		return nil, fmt.Errorf("%w: group texts need Twilio; this gateway's provider has none", transports.ErrUnsupported)
	}
	g, err := a.net.group(ctx, sid)
	if err != nil {
		return nil, err
	}
	if g.User != a.user {
		return nil, fmt.Errorf("%w: no group text %s of yours", transports.ErrNotFound, sid)
	}
	members, author, err := a.tw.phoneMembers(ctx, sid, g.Number)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(members, g.Members) || (author != "" && author != g.Author) {
		g.Members = members
		if author != "" {
			g.Author = author
		}
		if err := a.net.putGroup(ctx, sid, g); err != nil {
			a.net.log.Warn("storing a group text's members", "group", sid, "err", err)
		}
	}
	return members, nil
}

// LeaveRoom implements transports.Rooms: the session forgets the room;
// nobody on the phone side is told (SMS has no leaving).
func (a *adapter) LeaveRoom(_ context.Context, room transports.ID) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.rooms[room]; !ok {
		return fmt.Errorf("%w: you are not in %s", transports.ErrNotFound, room)
	}
	delete(a.rooms, room)
	return nil
}

// nickIn is the user's nick in room ("" when not in it).
func (a *adapter) nickIn(room transports.ID) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rooms[room]
}

// fanOutNotice is what a fan-out room says the first time the user
// writes in it.
const fanOutNotice = "SMS has no group texts here: each member gets this as a separate text, and their answers come to you one to one."

// fanOutToldKey is the user's store key (+ room) of a fan-out room whose
// notice they had.
const fanOutToldKey = "fanout-told/"

// sendRoom sends m (and the files at urls) to a room the user is in: a
// Twilio group as one Conversations message (files as links), a fan-out
// room as one text per member, in order; a member whose text failed is
// named in a notice in the room, and only when every text failed is the
// send an error. The echo (Own, EchoOf) follows once the provider took
// it; its RemoteID is the group message's, or the first text's.
func (a *adapter) sendRoom(ctx context.Context, m transports.Message, urls []string) (transports.RemoteID, error) {
	r, err := ParseRoom(m.To)
	if err != nil {
		return "", err
	}
	nick := a.nickIn(m.To)
	if nick == "" {
		return "", fmt.Errorf("%w: join %s before writing in it", transports.ErrNotFound, m.To)
	}
	from, err := a.net.currentNumber(ctx, a.user, a.from)
	if err != nil {
		return "", err
	}
	var rid transports.RemoteID
	switch {
	case r.Group != "":
		rid, err = a.sendGroup(ctx, r.Group, from, m, urls)
	case a.tw != nil && a.net.cfg.Twilio.GroupTexts: // newgroup.go
		var sid string
		if sid, err = a.startedGroup(ctx, m.To, r.Members, from); err == nil {
			rid, err = a.sendGroup(ctx, sid, from, m, urls)
		}
	default:
		rid, err = a.sendFanOut(ctx, r.Members, from, m, urls)
	}
	if err != nil {
		return "", err
	}
	a.sink.Deliver(&transports.MessageEvent{From: m.To, Room: true, Nick: nick, OccupantID: a.from, RemoteID: rid,
		Body: m.Body, Action: m.Action, Own: true, EchoOf: m.ID})
	return rid, nil
}

// sendGroup posts m to the user's Twilio group sid.
func (a *adapter) sendGroup(ctx context.Context, sid, from string, m transports.Message, urls []string) (transports.RemoteID, error) {
	if a.tw == nil {
		return "", fmt.Errorf("%w: group texts need Twilio; this gateway's provider has none", transports.ErrUnsupported)
	}
	g, err := a.net.group(ctx, sid)
	if err != nil {
		return "", err
	}
	if g.User != a.user {
		return "", fmt.Errorf("%w: no group text %s of yours", transports.ErrNotFound, sid)
	}
	m.Body = strings.TrimSpace(strings.Join(append([]string{m.Body}, urls...), "\n"))
	body, _, err := a.body(m, false)
	if err != nil {
		return "", err
	}
	author := g.Author
	if author == "" {
		author = from
	}
	id, err := retrying(ctx, a.net.cfg.RetryWait, func(ctx context.Context) (string, error) {
		return a.tw.sendConversation(ctx, sid, author, body)
	})
	if err != nil {
		return "", err
	}
	// Twilio posts onMessageAdded for it only when asked to, but a
	// service configured so must not show it as a member's.
	a.net.markSeen(ctx, id, a.user)
	return transports.RemoteID(id), nil
}

// sendFanOut texts m to each of members, in order.
func (a *adapter) sendFanOut(ctx context.Context, members []string, from string, m transports.Message, urls []string) (transports.RemoteID, error) {
	body, coding, err := a.body(m, len(urls) > 0)
	if err != nil {
		return "", err
	}
	room := m.To
	a.tellFanOut(ctx, room)
	var rid transports.RemoteID
	var first error
	for _, to := range members {
		if to == from {
			continue // the user's own number: they have it here
		}
		id, err := a.send(ctx, text{From: from, To: to, Body: body, Coding: coding, Media: urls, NoReport: true})
		if err != nil {
			if ctx.Err() != nil {
				return "", err
			}
			if first == nil {
				first = err
			}
			a.sink.Deliver(&transports.NoticeEvent{About: room, Error: true,
				Text: fmt.Sprintf("%s (%s) did not get that text: %v", a.net.nick(to), to, err)})
			continue
		}
		if rid == "" {
			rid = id
		}
	}
	if rid == "" {
		if first == nil {
			first = fmt.Errorf("%w: the group has nobody else in it", transports.ErrInvalidInput)
		}
		return "", first
	}
	if _, parts := Segments(body); parts > a.net.cfg.WarnSegments {
		a.sink.Deliver(&transports.NoticeEvent{About: room,
			Text: fmt.Sprintf("That text went as %d SMS (%s) to each member; each costs as one.", parts, coding)})
	}
	return rid, nil
}

// tellFanOut says in a fan-out room, once per room, what writing in it
// does. A store that fails makes it tell again next time.
func (a *adapter) tellFanOut(ctx context.Context, room transports.ID) {
	a.mu.Lock()
	told := a.told[room]
	if a.told == nil {
		a.told = map[transports.ID]bool{}
	}
	a.told[room] = true
	a.mu.Unlock()
	if told {
		return
	}
	if a.store != nil {
		if _, err := a.store.Get(ctx, fanOutToldKey+string(room)); err == nil {
			return
		}
	}
	a.sink.Deliver(&transports.NoticeEvent{About: room, Text: fanOutNotice})
	if a.store != nil {
		_ = a.store.Put(ctx, fanOutToldKey+string(room), []byte("1"))
	}
}
