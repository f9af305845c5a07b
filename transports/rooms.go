package transports

import (
	"context"
	"time"
)

// Group chat: the events and optional interfaces of networks with rooms
// (IRC channels, Discord channels). The component maps them to a MUC
// service (XEP-0045): a room is room@domain, an occupant room@domain/nick.

// Role is an occupant's role in a room, as XEP-0045 names them.
type Role int

const (
	RoleNone Role = iota
	RoleVisitor
	RoleParticipant
	RoleModerator
)

// Affiliation is an occupant's long-lived standing in a room (XEP-0045).
type Affiliation int

const (
	AffiliationNone Affiliation = iota
	AffiliationMember
	AffiliationAdmin
	AffiliationOwner
	AffiliationOutcast
)

// OccupantEvent says that someone is in a room (joined, or was there when
// the user joined), changed role, changed nick, or left. Nick is unique in
// the room at any one time: a network whose display names repeat
// (Discord) tells its members apart in the nick itself ("ana (2)"), and
// the OccupantID stays the member's.
type OccupantEvent struct {
	Room        ID
	Nick        string
	Role        Role
	Affiliation Affiliation
	// Account is the occupant's account name on the network, if known
	// (IRCv3 account-tag / extended-join).
	Account string
	// OccupantID identifies the member across nick changes and tells
	// apart two members with one display name (a Discord user ID, an
	// IRC account); "" when the network knows none. Required with
	// Capabilities.OccupantIDs. The component never shows it as it is:
	// XEP-0421 occupant IDs are derived from it per room.
	OccupantID string
	// Hats are the member's named roles (XEP-0317: Discord roles), in
	// the order the network ranks them; nil for none.
	Hats []Hat
	// Self is true for the user's own presence in the room.
	Self bool
	// Presence carries away/back where the network has it.
	Presence Presence
	// NewNick is set when the occupant changed nick (Nick is the old one).
	NewNick string
	// NickChangedByServer is set on the user's own join when the network
	// gave them another nick than the one asked for (MUC status 210).
	NickChangedByServer bool
	// Left is true when the occupant left; Reason says why.
	Left   bool
	Kicked bool
	Banned bool
	// By is who kicked or banned, if known.
	By     string
	Reason string
}

// RoomReadyEvent ends the initial occupant list sent after a join, so the
// component can send the user's own presence last, as MUC requires.
type RoomReadyEvent struct {
	Room ID
	Nick string // the user's nick in the room
	// Role and Affiliation are the user's own in the room (an IRC
	// channel's creator is an operator).
	Role        Role
	Affiliation Affiliation
	// Name is the room's human name ("general" for a Discord channel
	// whose ID is a number), "" when the ID is the name (IRC).
	Name string
	// Members is how many members the room has when the join delivered
	// only some of them (Capabilities.MaxOccupants); 0 otherwise.
	Members int
	// OccupantID is the user's own OccupantEvent.OccupantID, "" when the
	// network knows none.
	OccupantID string
}

// Hat is a named role of a room member (XEP-0317).
type Hat struct {
	// ID is the role's stable ID on the network; the component turns it
	// into the hat's URI.
	ID    string
	Title string // human name ("Moderators")
	// Hue is the role's colour as an XEP-0392 hue angle in [0, 360),
	// or -1 for none.
	Hue float64
}

// SubjectEvent is a room's topic, on join or when someone changes it.
type SubjectEvent struct {
	Room    ID
	Subject string
	Nick    string // who set it, if known
	Time    time.Time
}

// TypingEvent is a typing notification from a contact or in a room.
type TypingEvent struct {
	From  ID
	Room  bool
	Nick  string
	State ChatState
}

// ReactionEvent adds or removes an emoji reaction to a message.
type ReactionEvent struct {
	From     ID
	Room     bool
	Nick     string // the reactor in a room; unused when Own
	Target   RemoteID
	Reaction string
	Remove   bool
	// Own marks the user's own reaction made from another client of
	// theirs on the network; it is shown as theirs (from their own
	// occupant in a room, as a sent carbon one to one where the server
	// allows), never as the contact's.
	Own bool
}

func (*OccupantEvent) isEvent()  {}
func (*RoomReadyEvent) isEvent() {}
func (*SubjectEvent) isEvent()   {}
func (*TypingEvent) isEvent()    {}
func (*ReactionEvent) isEvent()  {}

// RoomSubject is implemented by adapters that can change a room's topic.
// SetSubject may do I/O and block until ctx ends; the change is seen when
// the network echoes it as a SubjectEvent. An error (ErrForbidden when the
// user may not) is reported to the user; nobody retries.
type RoomSubject interface {
	SetSubject(ctx context.Context, room ID, subject string) error
}

// Moderator is implemented by adapters of networks with moderation. The
// legacy network decides whether the user has the right; a refusal is an
// error wrapping ErrForbidden with the server's text. The methods may do
// I/O and block until ctx ends; their effect is seen in the OccupantEvents
// that follow. Errors are reported to the user; nobody retries.
type Moderator interface {
	Kick(ctx context.Context, room ID, nick, reason string) error
	SetRole(ctx context.Context, room ID, nick string, role Role) error
	SetAffiliation(ctx context.Context, room ID, nick string, aff Affiliation) error
}

// History is implemented by adapters that can fetch a room's recent
// messages (IRCv3 chathistory), sent with delay stamps on join. History
// may do I/O and block until ctx ends; it returns at most max (> 0) of
// the latest messages sent at or after since (zero: any time), oldest
// first. On error the join goes on without history; nobody retries.
type History interface {
	History(ctx context.Context, room ID, since time.Time, max int) ([]MessageEvent, error)
}

// RoomInfo describes a room in a listing.
type RoomInfo struct {
	ID      ID
	Name    string
	Members int
	Topic   string
}

// RoomLister is implemented by adapters that can list the rooms of a
// legacy server (IRC LIST), for disco#items browsing. server is the
// network's server ID ("irc.libera.chat"). Adapters of networks with
// Capabilities.RoomListing implement it. ListRooms may do I/O and block
// until ctx ends; the component caches the result for a while. An error is
// reported to the user who browsed; nobody retries.
type RoomLister interface {
	ListRooms(ctx context.Context, server ID) ([]RoomInfo, error)
}

// Reactor is implemented by adapters of networks with reactions
// (Capabilities.Reactions). React adds (or, with remove, takes back) one
// reaction of the user's to the message target in conversation to. It may
// do I/O and block until ctx ends; an error is classified as for Send and
// reported to the user, who may retry; the component does not.
type Reactor interface {
	React(ctx context.Context, to ID, target RemoteID, reaction string, remove bool) error
}

// AnonymousNetwork is implemented by networks usable without registration
// for rooms (Capabilities.AnonymousJoin; IRC, like biboumi): joining a
// room connects with the MUC nick. AnonymousAccount returns the account to
// connect for an unregistered user who joins room as nick. It must not do
// I/O; an error (ErrInvalidInput for a bad nick or room, ErrPolicy for a
// server the gateway does not allow) refuses the join, and nobody retries.
type AnonymousNetwork interface {
	AnonymousAccount(user string, room ID, nick string) (Account, error)
}
