package transports

import "context"

// Who is who on a legacy network: contacts' names and pictures, the
// user's contact list, the legacy servers (guilds) a user is on. The
// component maps them to vCards and avatars (XEP-0054, XEP-0153,
// XEP-0172), roster entries (XEP-0356 roster pushes, else subscription
// requests) and the gateway's disco#items. Networks without these things
// (email, IRC) claim none of them.

// Avatar is the picture of a contact, room or server.
type Avatar struct {
	// ID names this picture on the network and changes when the
	// picture does (a Discord avatar hash, a file's modification stamp):
	// the component fetches a picture only when its ID is new to it. A
	// non-empty ID is required.
	ID string
	// File is the picture's content, fetched as an Attachment is (Open
	// or URL, through the egress policy), within the component's own
	// smaller bound for pictures: a vCard carries the picture in the
	// stanza. Name may be empty; Type is the picture's MIME type
	// ("image/png"), "" when not known.
	File Attachment
}

// Profile is what a network shows of a person (or bot): a display name
// and a picture. The zero value is "nothing known".
type Profile struct {
	// Name is the display name (Discord's global or guild name); ""
	// when the person has none beyond their address.
	Name string
	// Avatar is the picture, nil when the person has none.
	Avatar *Avatar
	// About is the person's own description ("about me"), "" for none.
	About string
}

// ProfileEvent says that a contact's profile changed (or is first known):
// the component updates what it shows (nick, vCard, the avatar hash in the
// contact's presence). Networks deliver it for contacts in the user's
// contact list and for the people the user chats with; never for the
// members of every room.
type ProfileEvent struct {
	From    ID
	Profile Profile
}

// Profiler is implemented by adapters of networks with profiles
// (Capabilities.Profiles). Profile returns what the network shows of the
// contact id (a person, or a room for its name and picture). It may do
// I/O and block until ctx ends; the component caches the answer until a
// ProfileEvent says it changed. An unknown id is an error wrapping
// ErrNotFound; other errors are classified as for Send. The component
// answers the vCard request that needed it with an error; nobody
// retries.
type Profiler interface {
	Profile(ctx context.Context, id ID) (Profile, error)
}

// Contact is an entry of the user's contact list on the legacy network
// (a Discord friend or DM partner).
type Contact struct {
	ID   ID
	Name string // display name, "" for none
	// Groups are the network's groups the contact is in, if the network
	// has such a thing; they become roster groups.
	Groups []string
}

// ContactEvent says that a contact was added to the user's contact list
// on the legacy network, changed name or groups, or (Removed) left it.
// The component mirrors it in the user's roster.
type ContactEvent struct {
	Contact Contact
	Removed bool
}

// ContactLister is implemented by adapters of networks with a contact
// list (Capabilities.Contacts). Contacts returns the whole list, at most
// MaxContacts entries (the component ignores the rest); the component
// calls it once per session start and mirrors the list in the user's
// roster, adding what is new and (for entries it added itself) removing
// what is gone. It may do I/O and block until ctx ends; an error leaves
// the roster as it was and is logged; the next session start tries
// again.
type ContactLister interface {
	Contacts(ctx context.Context) ([]Contact, error)
}

// MaxContacts bounds a contact list the component mirrors.
const MaxContacts = 5000

// Watcher is implemented by adapters of networks that can tell the
// presence of people on request (Capabilities.WatchPresence): a Discord
// member who is not a DM partner, an IRC nick through MONITOR. Watch
// names, at most MaxContacts, the contacts the user added to their roster
// through the gateway — the whole set each time, replacing the previous
// one; their presence, what is known now and its changes, then arrives as
// PresenceEvents (Offline when they are not there). The component calls
// it after each session start and when the user adds a contact. It may
// do I/O and block until ctx ends; an error is logged and nobody retries
// (the next call names the set again).
type Watcher interface {
	Watch(ctx context.Context, ids []ID) error
}

// ServerInfo is a legacy server, guild or workspace the user is on, as
// the gateway's own disco#items lists it.
type ServerInfo struct {
	ID   ID     // the server's ID, of KindServer
	Name string // human name ("Go Programmers"), "" for none
}

// ServerLister is implemented by adapters of networks where a user is on
// several servers that hold rooms (Capabilities.ServerListing; Discord
// guilds): the gateway's disco#items lists them, and each server's own
// disco#items lists its rooms (RoomLister). Servers may do I/O and block
// until ctx ends, but should answer from the session's own state where
// it has one: the component asks at every browse. An error is reported
// to the user who browsed; nobody retries.
type ServerLister interface {
	Servers(ctx context.Context) ([]ServerInfo, error)
}

// Nicker is implemented by adapters of networks where the user can
// change their nick in a room (Capabilities.NickChange). SetNick asks
// for nick in room; the network decides, and the change is seen when the
// adapter delivers the user's own OccupantEvent with NewNick set. On
// networks where a nick belongs to a whole server (IRC), the change also
// shows in the user's other rooms of that server, each by its own event.
// It may do I/O and block until ctx ends; a nick in use wraps
// ErrConflict, a refused one ErrForbidden or ErrInvalidInput; the error
// is reported to the user, and nobody retries.
type Nicker interface {
	SetNick(ctx context.Context, room ID, nick string) error
}

// OccupantContacter is implemented by networks whose room occupants can
// be written to one to one (XEP-0045 private messages, a message to
// room@domain/nick): OccupantContact returns the contact ID of the
// occupant of room with that nick and, when the network gave one,
// OccupantEvent.OccupantID. It must not do I/O; an error wrapping
// ErrNotFound or ErrUnsupported refuses the message with a text.
type OccupantContacter interface {
	OccupantContact(room ID, nick, occupantID string) (ID, error)
}

func (*ProfileEvent) isEvent() {}
func (*ContactEvent) isEvent() {}
