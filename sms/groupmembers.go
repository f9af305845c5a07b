package sms

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/switchboard-im/switchboard/transports"
)

// Membership changes of a group text come through the same post-event
// webhook as its messages (twilio/conversations), signed and checked the
// same way:
//
//	onParticipantAdded    ConversationSid, ParticipantSid, Identity,
//	onParticipantRemoved  MessagingBinding.Address (the member's number),
//	                      MessagingBinding.ProxyAddress
//
// The names are those of Twilio's Conversations webhook documentation
// and of its Event Streams schema (Conversations.ParticipantAdded, whose
// data has ParticipantSid, Identity, ConversationSid and a
// MessagingBinding with Address, ProxyAddress, ProjectedAddress);
// that the form POST flattens MessagingBinding.Address exactly so, as it
// does MessagingBinding.ProxyAddress for onConversationAdded, is
// unconfirmed by a captured request. A participant without an SMS
// address (the user's own, a chat identity) changes nothing.
const (
	eventParticipantAdded   = "onParticipantAdded"
	eventParticipantRemoved = "onParticipantRemoved"
)

// groupParticipant applies an onParticipantAdded (added) or
// onParticipantRemoved to the stored members of group g and tells the
// user: an OccupantEvent of the member's occupant in the group's room,
// which the component shows where the user is in that room and
// otherwise ignores. An event that changes nothing (Twilio's retry, the
// user's own participant) is answered without telling anyone.
func (n *Network) groupParticipant(ctx context.Context, form url.Values, g groupRecord, added bool) error {
	sid, member := canonicalSID(form.Get("ConversationSid")), form.Get(fieldAddress)
	if member == "" || member == g.Number {
		return nil // not an SMS member: the user's participant, or a chat one
	}
	if !e164.MatchString(member) {
		return refuse(http.StatusBadRequest, "participant %q is not a phone number", clip(member))
	}
	if slices.Contains(g.Members, member) == added {
		return nil
	}
	if added {
		g.Members = append(g.Members, member)
	} else {
		g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == member })
	}
	ev := &transports.OccupantEvent{Room: GroupRoom(sid), Nick: n.nick(member), OccupantID: member,
		Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember, Left: !added}
	if !added {
		ev.Reason = "left the group text"
	}
	if err := n.Hooks().Deliver.Deliver(ctx, g.User, ev); err != nil {
		return err
	}
	if err := n.putGroup(ctx, sid, g); err != nil {
		// Twilio sends it again; the occupant change is harmless twice.
		return fmt.Errorf("%w: storing group text %s's members: %w", transports.ErrUnavailable, sid, err)
	}
	return nil
}
