package irc

import "github.com/switchboard-im/switchboard/transports"

// Capabilities implements transports.Network. IRC has channels (rooms)
// with LIST, can be used without registration (biboumi-style), and
// carries IRCv3 typing, reactions and replies as client tags. A member's
// services account is their occupant ID; the user may change nick. A registered
// user stays on IRC while offline, like with a bouncer, so private messages
// and highlights reach them as offline messages. A user's messages are
// written back to back and confirmed after (pipelining).
//
// Retractions and Moderation are claimed for every server although only
// servers that offer IRCv3 draft/message-redaction can delete a message:
// capabilities are static, and what a server offers is known once
// connected. On the others the adapter refuses a deletion with
// ErrUnsupported and a text naming the server (redact.go).
func (n *Network) Capabilities() transports.Capabilities {
	return transports.Capabilities{
		Rooms:          true,
		RoomListing:    true,
		AnonymousJoin:  true,
		StayConnected:  true,
		ConferenceType: "irc",
		ChatStates:     true,
		Reactions:      true,
		Replies:        true,
		Retractions:    true, // where the server offers draft/message-redaction
		Moderation:     true, // likewise; the server decides who may
		NickChange:     true,
		OccupantIDs:    true, // services accounts; the others by nick
		ServerListing:  true, // the configured servers and the user's
		WatchPresence:  true, // through MONITOR where the server has it (monitor.go)
		Pipelining:     true, // a user's messages go out ahead of their confirmations (pipeline.go)
	}
}
