package discovery

import (
	"slices"

	"github.com/switchboard-im/switchboard/transports"
)

// Message features: what the gateway relays in one-to-one chats and rooms
// alike, each only where the network's Capabilities claim it.
const (
	nsCorrect  = "urn:xmpp:message-correct:0"
	nsRetract  = "urn:xmpp:message-retract:1"
	nsModerate = "urn:xmpp:message-moderate:1"
)

// messageFeatures are the message features (XEP-0085 chat states,
// XEP-0444 reactions, XEP-0461 replies, XEP-0308 corrections, XEP-0424
// retractions) that caps claim, in no particular order.
func messageFeatures(caps transports.Capabilities) []string {
	var vars []string
	for _, f := range []struct {
		has bool
		ns  string
	}{
		{caps.ChatStates, nsChat}, {caps.Reactions, nsReactions}, {caps.Replies, nsReply},
		{caps.Corrections, nsCorrect}, {caps.Retractions, nsRetract},
	} {
		if f.has {
			vars = append(vars, f.ns)
		}
	}
	return vars
}

// nsOccupantID is XEP-0421's namespace: the room's stanzas say who is who.
const nsOccupantID = "urn:xmpp:occupant-id:0"

// RoomOf is the disco#info of a legacy room named name on a network with
// capabilities caps: Room's, plus the message features caps claim and
// XEP-0425 moderation (urn:xmpp:message-moderate:1) where the network lets
// moderators delete others' messages, and XEP-0421 occupant IDs where it
// gives them.
func RoomOf(name string, caps transports.Capabilities) Info {
	d := Room(name)
	vars := messageFeatures(caps)
	if caps.Moderation && caps.Retractions {
		vars = append(vars, nsModerate)
	}
	if caps.OccupantIDs {
		vars = append(vars, nsOccupantID)
	}
	slices.Sort(vars)
	d.Features = append(d.Features, Features(vars...)...)
	return d
}
