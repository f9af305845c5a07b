package transports

import "context"

// Optional capabilities. An Adapter (or Network) implements the ones its
// legacy network has; the component finds them by type assertion and
// advertises only those.

// SettingsProvider is implemented by a Network that has per-user settings
// beyond the ones every transport has. The values reach the adapter in
// Account.Settings.
type SettingsProvider interface {
	SettingsFields() []Field
}

// Rooms is implemented by adapters of networks with group chats.
type Rooms interface {
	// JoinRoom joins room under nick. It returns once the legacy network
	// accepted the join (errors as for Send); room members, topic and
	// messages then arrive as events.
	JoinRoom(ctx context.Context, room ID, nick string) error
	// LeaveRoom leaves room.
	LeaveRoom(ctx context.Context, room ID) error
}

// Contact is an entry of a legacy address book.
type Contact struct {
	ID   ID
	Name string
}

// Contacts is implemented by adapters of networks with an address book,
// which the component mirrors into the user's roster.
type Contacts interface {
	Contacts(ctx context.Context) ([]Contact, error)
}

// ChatState is a typing notification (XEP-0085 states).
type ChatState int

const (
	// Active: paying attention to the conversation.
	Active ChatState = iota
	// Composing: typing.
	Composing
	// Paused: stopped typing.
	Paused
)

// Typer is implemented by adapters of networks with typing notifications.
type Typer interface {
	SetTyping(ctx context.Context, to ID, state ChatState) error
}

// RoomNetwork is implemented by a Network whose adapters implement Rooms.
// It lets the component advertise group chat (XEP-0045) in service
// discovery before any user is connected.
type RoomNetwork interface {
	Network
	// HasRooms is a marker; it must not do I/O.
	HasRooms()
}

// StayConnectedDefaulter is implemented by a Network whose users' sessions
// should by default stay up while they are offline (bouncer-style), so that
// what arrives meanwhile reaches them as offline messages. Users can change
// the setting; without this interface the default is to disconnect.
type StayConnectedDefaulter interface {
	StayConnectedByDefault() bool
}
