package transports

import "context"

// Capabilities are the static facts about a network that the component
// acts on before, and independently of, any user's session: what service
// discovery advertises for the gateway domain, whether it runs a MUC
// service, which commands it offers, the default of the stay-connected
// setting. A network declares them once, in Network.Capabilities; the
// component reads nothing else to decide what to advertise.
//
// A capability that needs an adapter's cooperation names the optional
// interface its adapters implement; transportstest.Conformance checks the
// claim against a real adapter, so a network cannot claim what it does not
// do. An adapter may implement more than its network claims; the component
// then does not use it.
type Capabilities struct {
	// Rooms: the network has group chats. Its adapters implement Rooms
	// and the network implements Addresser (rooms are told from contacts
	// by their IDs); the component runs a MUC service (XEP-0045).
	Rooms bool
	// RoomListing: adapters implement RoomLister, so a legacy server's
	// rooms can be browsed with disco#items. Needs Rooms.
	RoomListing bool
	// AnonymousJoin: the network is usable without registration for
	// rooms (IRC, like biboumi); the network implements
	// AnonymousNetwork. Needs Rooms.
	AnonymousJoin bool
	// StayConnected is the default of every user's "stay connected
	// while offline" setting: true for networks whose sessions should
	// stay up (bouncer-style) so that what arrives meanwhile reaches the
	// user as offline messages. Users can change it.
	StayConnected bool
	// Commands are the network's own ad-hoc commands (XEP-0050), in the
	// order clients show them; adapters implement CommandRunner when
	// there are any. Nodes are unique and non-empty.
	Commands []Command
	// AdminCommands are the network's commands for the gateway's
	// administrators, offered after the gateway's own admin commands;
	// the network implements AdminCommander when there are any. Nodes
	// are unique and non-empty.
	AdminCommands []AdminCommand
	// ConferenceType is the disco identity type of the MUC service and
	// of legacy servers (XEP-0030 registry: "irc"); "" means "text".
	ConferenceType string
	// ChatStates: adapters implement Typer (XEP-0085 chat states).
	ChatStates bool
	// Reactions: adapters implement Reactor (XEP-0444).
	Reactions bool
	// Replies: adapters honour Message.ReplyTo and set
	// MessageEvent.ReplyTo (XEP-0461).
	Replies bool
	// Corrections: adapters implement Editor and deliver EditEvents
	// (XEP-0308, advertised). Without it a user's correction reaches the
	// network as a new message marked as a correction.
	Corrections bool
	// Retractions: adapters implement Retractor and deliver
	// RetractEvents (XEP-0424, advertised). Without it a user's
	// retraction is refused with a text, and nothing is sent.
	Retractions bool
	// Moderation: room moderators can delete others' messages; adapters
	// implement MessageModerator (XEP-0425, advertised by rooms). Needs
	// Rooms and Retractions.
	Moderation bool
	// Attachments: adapters deliver files in MessageEvent.Attachments.
	Attachments bool
	// SendFiles: adapters implement FileSender, so files the user shares
	// (XEP-0066, XEP-0385, XEP-0447) reach the legacy network as files
	// rather than as links in the text.
	SendFiles bool
	// Pipelining: adapters implement Queuer, so a user's messages go
	// out ahead of the network's confirmations of the earlier ones, in
	// order; the component then queues each in the user's lane and waits
	// for its confirmation off the lane (at most a bounded number
	// unconfirmed per user). Without it every Send returns before the
	// user's next message is sent.
	Pipelining bool
	// MaxBody is the longest message body in bytes the network takes in
	// one Message; 0 means the component's own bound. The component
	// refuses longer bodies before calling Send.
	MaxBody int
	// Webhooks: the network is a HookNetwork whose Attach returns the
	// handler the gateway mounts at /hooks/<name>/ (see HookNetwork).
	Webhooks bool
	// DeferredReceipts: Send returning means the network took the
	// message, not that the recipient got it; the adapter returns a
	// RemoteID from every successful Send and the network later
	// delivers a ReceiptEvent for it (delivered or failed). The
	// component sends XEP-0184 receipts only then.
	DeferredReceipts bool
	// Profiles: adapters implement Profiler and deliver ProfileEvents
	// (vCard-temp XEP-0054, avatars XEP-0153, nicks XEP-0172).
	Profiles bool
	// Contacts: adapters implement ContactLister and deliver
	// ContactEvents; the component mirrors the list in the user's
	// roster.
	Contacts bool
	// WatchPresence: adapters implement Watcher, so people the user
	// added to their roster through the gateway (beyond the network's
	// own contact list) show their presence.
	WatchPresence bool
	// ServerListing: adapters implement ServerLister, so the gateway's
	// disco#items lists the user's servers (guilds). Needs RoomListing.
	ServerListing bool
	// NickChange: adapters implement Nicker, so a user's new MUC nick
	// reaches the network. Needs Rooms.
	NickChange bool
	// OccupantIDs: OccupantEvents (and room MessageEvents) carry the
	// member's stable OccupantID wherever the network knows one (every
	// Discord member; an IRC member logged in to services), and the MUC
	// service advertises occupant-id (XEP-0421): derived from the
	// OccupantID, else from the nick. Needs Rooms.
	OccupantIDs bool
	// PrivateMessages: the network is an OccupantContacter, so a message
	// to room@domain/nick reaches that member one to one. Needs Rooms.
	PrivateMessages bool
	// MaxOccupants is the most members a room's join delivers
	// OccupantEvents for (online or recently active ones first) in rooms
	// bigger than that; RoomReadyEvent.Members then says how many there
	// are. 0 means the network sends every member.
	MaxOccupants int
}

// Optional interfaces. An Adapter (or Network) implements the ones its
// legacy network has; the component finds them by type assertion, and
// Capabilities says which ones a network promises.

// SettingsProvider is implemented by a Network that has per-user settings
// beyond the ones every transport has. The values reach the adapter in
// Account.Settings. SettingsFields must not do I/O and returns the same
// fields on every call.
type SettingsProvider interface {
	SettingsFields() []Field
}

// Rooms is implemented by adapters of networks with group chats
// (Capabilities.Rooms).
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
	// LeaveRoom leaves room. It may block on the legacy network until
	// ctx ends; an error (ErrNotFound when the user is not in room) is
	// reported to the user, and nobody retries.
	LeaveRoom(ctx context.Context, room ID) error
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

// Typer is implemented by adapters of networks with typing notifications
// (Capabilities.ChatStates). SetTyping may do I/O and block until ctx
// ends; it should only queue the notification. Errors are logged and
// dropped: a lost typing notification is not worth a retry.
type Typer interface {
	SetTyping(ctx context.Context, to ID, state ChatState) error
}

// Editor is implemented by adapters of networks where a sent message can
// be corrected (Capabilities.Corrections). Edit replaces the text of the
// user's message target in conversation to with body, the whole new text
// (valid UTF-8, within MaxBody). It may do I/O and block until ctx ends;
// errors are classified as for Send (ErrNotFound for a message the
// network does not know, ErrForbidden for one the user may not edit) and
// reported to the user, who may retry; the component does not. In a room
// the edit is shown to the user's resources when the adapter delivers its
// echo (EditEvent with Own).
type Editor interface {
	Edit(ctx context.Context, to ID, target RemoteID, body string) error
}

// Retractor is implemented by adapters of networks where a sent message
// can be deleted (Capabilities.Retractions). Retract deletes the user's
// message target in conversation to. It may do I/O and block until ctx
// ends; errors are classified as for Send and reported to the user, who
// may retry; the component does not. In a room the retraction is shown to
// the user's resources when the adapter delivers its echo (RetractEvent
// with Own).
type Retractor interface {
	Retract(ctx context.Context, to ID, target RemoteID) error
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
// without I/O. Kind must not do I/O and must not block; it returns an
// error wrapping ErrInvalidInput for an ID that is malformed for the
// network. Networks without it have only contacts.
type Addresser interface {
	Kind(id ID) (IDKind, error)
}

// Command is an action a network offers its users as an ad-hoc command
// (XEP-0050), such as "check mail now".
type Command struct {
	Node string // stable identifier ("check-mail")
	Name string // human name ("Check mail now")
}

// CommandRunner is implemented by adapters of networks with commands of
// their own (Capabilities.Commands). RunCommand runs the command node for
// the adapter's user and returns the text to show. It may do I/O and block
// until ctx ends; an error is classified as for Send and shown to the
// user, who may run the command again; the component does not retry. A
// node the network does not know is an error wrapping ErrNotFound.
type CommandRunner interface {
	RunCommand(ctx context.Context, node string) (string, error)
}
