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
//
// After a join the adapter delivers, in this order: an OccupantEvent for
// each member already there (Self false), a RoomReadyEvent with the nick the
// user really got, then the SubjectEvent. Later it delivers occupant,
// subject and message events as they happen, and the user's own messages
// in the room as MessageEvents with Own set (EchoOf = Message.ID): the
// component reflects those to the user's resources and never reflects on
// its own. When the user is out of the room for a reason of the legacy
// network's (kicked, connection lost for good) the adapter delivers an
// OccupantEvent with Self and Left set. Events name the room with the ID
// given to JoinRoom.
type Rooms interface {
	// JoinRoom joins room under nick. It returns once the legacy network
	// accepted the join, after the RoomReadyEvent was delivered; joining a
	// room the session is already in delivers the occupants, the
	// RoomReadyEvent and the subject again. Errors are as for Send; a nick
	// in use wraps ErrConflict, a ban or invite-only room ErrForbidden.
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

// IDKind is what a legacy ID names.
type IDKind int

const (
	// KindContact is a person (or bot) one chats with one to one.
	KindContact IDKind = iota
	// KindRoom is a group chat.
	KindRoom
	// KindServer is a legacy server itself (IRC: its notices, MOTD and
	// room list).
	KindServer
)

// Addresser is implemented by networks whose IDs name different kinds of
// things, so the component can tell a room from a contact from a server
// without I/O. Kind returns an error wrapping ErrInvalidInput for an ID
// that is malformed for the network. Networks without it have only
// contacts.
type Addresser interface {
	Kind(id ID) (IDKind, error)
}

// Command is an action a network offers its users as an ad-hoc command
// (XEP-0050), such as "check mail now".
type Command struct {
	Node string // stable identifier ("check-mail")
	Name string // human name ("Check mail now")
}

// CommandNetwork is implemented by networks with commands of their own;
// their adapters implement CommandRunner.
type CommandNetwork interface {
	Commands() []Command
}

// CommandRunner runs a network's command for the adapter's user and
// returns the text to show.
type CommandRunner interface {
	RunCommand(ctx context.Context, node string) (string, error)
}
