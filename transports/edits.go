package transports

import (
	"context"
	"time"
)

// Corrections and retractions: the events of a legacy network whose
// messages can be edited or deleted after they were sent (Discord), and
// the moderation of others' messages in rooms. The component maps them to
// XEP-0308 corrections, XEP-0424 retractions and XEP-0425 moderation,
// through the durable message-ID map: Target is always the legacy ID of
// the message concerned, as the network gave it in MessageEvent.RemoteID
// or as Send returned it.
//
// Networks that cannot edit (IRC, email) claim neither Corrections nor
// Retractions: the component then sends a user's correction as a new
// message with a visible marker, and refuses a retraction with a text;
// the adapter is never asked.

// EditEvent says that a message was edited on the legacy network: a
// contact's message (From the contact), a message in a room (From the room,
// Nick the author), or the user's own message, edited from another client
// or echoed after Editor.Edit in a room (Own). In a room, the user's own
// edits reach their resources only as this echo, as their messages do (see
// Rooms): an adapter whose network does not echo delivers it itself once
// the network took the edit.
//
// A network that cannot tell which message was edited does not deliver
// the event. When the component no longer knows Target (the ID map is
// pruned, or the message came before the user registered) it shows the
// new text as a new message marked as a correction.
type EditEvent struct {
	// From is the contact or room; Room is true for a room.
	From ID
	Room bool
	// Nick is the author's nick in the room (Room only; empty for Own).
	Nick string
	// Target is the legacy ID of the edited message.
	Target RemoteID
	// Body is the message's whole new text.
	Body string
	// Own is true when the edited message is the user's own.
	Own bool
	// Time is when the network says the edit was made; zero for now.
	Time time.Time
}

// RetractEvent says that a message was deleted on the legacy network: by
// its author (a contact, an occupant, or the user from another client or
// as the echo of Retractor.Retract in a room: Own), or in a room by a
// moderator who is not its author (Moderated, with By and Reason). In a
// room the user's own retractions and moderations reach their resources
// only as this echo, as for EditEvent.
type RetractEvent struct {
	// From is the contact or room; Room is true for a room.
	From ID
	Room bool
	// Nick is the author's nick in the room, if known (Room only).
	Nick string
	// Target is the legacy ID of the deleted message.
	Target RemoteID
	// Own is true when the deleted message is the user's own.
	Own bool
	// Moderated is true when a moderator deleted someone else's message
	// in a room (XEP-0425); By is the moderator's nick ("" when the
	// network does not say) and Reason their reason, if any.
	Moderated bool
	By        string
	Reason    string
}

func (*EditEvent) isEvent()    {}
func (*RetractEvent) isEvent() {}

// MessageModerator is implemented by adapters of networks where a room's
// moderators can delete other members' messages (Capabilities.Moderation).
// ModerateRetract deletes the message target, written by anyone, in room,
// giving reason (may be empty) where the network records one. The legacy
// network decides whether the user has the right: a refusal is an error
// wrapping ErrForbidden with the network's text, an unknown message
// ErrNotFound. It may do I/O and block until ctx ends; its effect is seen
// in the RetractEvent (Moderated) the adapter delivers once the network
// took it. Errors are reported to the moderator; nobody retries.
type MessageModerator interface {
	ModerateRetract(ctx context.Context, room ID, target RemoteID, reason string) error
}
