package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// A group text texts a number, not a user: when an administrator moves
// a number (Assign), the group records of that number (group/<CH…>) move
// with it. The user who lost the number is told which rooms went; the
// one who got it is told which rooms are theirs now. A number released
// and not given to anyone yet keeps its records with no user, so its
// groups' webhooks are answered 404 (Twilio retries for a while) until
// it is given again.

// moveGroups gives the group records of number to user ("" for no one)
// and returns the rooms moved by their previous holder ("" for records
// of nobody). It does store
// I/O; an error wraps ErrUnavailable and leaves some records moved, as
// a later call moves the rest.
func (n *Network) moveGroups(ctx context.Context, number, user string) (map[string][]transports.ID, error) {
	st := n.Hooks().Store
	moved := map[string]groupRecord{}
	err := st.Scan(ctx, keyGroup, func(key string, v []byte) error {
		var g groupRecord
		if json.Unmarshal(v, &g) == nil && g.Number == number && g.User != user {
			moved[strings.TrimPrefix(key, keyGroup)] = g
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: reading the group texts of %s: %w", transports.ErrUnavailable, number, err)
	}
	by := map[string][]transports.ID{}
	for sid, g := range moved {
		prev := g.User
		g.User = user
		if err := n.putGroup(ctx, sid, g); err != nil {
			return by, fmt.Errorf("%w: moving group text %s: %w", transports.ErrUnavailable, sid, err)
		}
		by[prev] = append(by[prev], GroupRoom(sid))
	}
	return by, nil
}

// tellMoved tells the users who lost the group texts of number (by, as
// moveGroups returns) and, unless to is "", the user who got them. What
// cannot be told is logged: the move holds either way.
func (n *Network) tellMoved(ctx context.Context, number, to string, by map[string][]transports.ID) {
	var all []transports.ID
	for prev, rooms := range by {
		all = append(all, rooms...)
		if prev == to || prev == "" {
			continue
		}
		names := make([]string, len(rooms))
		for i, r := range rooms {
			names[i] = string(r)
		}
		ev := &transports.NoticeEvent{Text: fmt.Sprintf("The number %s is no longer yours; its group texts went with it: %s.", number, strings.Join(names, ", "))}
		if err := n.Hooks().Deliver.Deliver(ctx, prev, ev); err != nil {
			n.log.Info("telling a user of group texts moved away", "user", prev, "err", err)
		}
	}
	if to == "" {
		return
	}
	for _, r := range all { // one each: an invitation names one room
		ev := &transports.NoticeEvent{Invite: r,
			Text: fmt.Sprintf("A group text of your number %s is yours now; join its room to read it:", number)}
		if err := n.Hooks().Deliver.Deliver(ctx, to, ev); err != nil {
			n.log.Info("telling a user of a group text moved to them", "user", to, "err", err)
		}
	}
}
