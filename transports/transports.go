package transports

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"
)

// Network is one legacy network (IRC, Discord, SMS, email). One value serves
// every user of the network; it holds no per-user state.
type Network interface {
	// Name is the short, stable name of the network ("irc"); it is the
	// config table name and part of storage keys. It must not do I/O.
	Name() string
	// Identity is what service discovery shows for the gateway domain.
	// It must not do I/O.
	Identity() Identity
	// Capabilities are the network's static facts: what the gateway
	// domain advertises and which optional interfaces its adapters
	// implement. It must not do I/O and returns the same value on every
	// call.
	Capabilities() Capabilities
	// LoginFields describes what registration asks for, in order. The
	// same description drives the XEP-0077 form, the ad-hoc "register"
	// command and the chat dialogue. It must not do I/O.
	LoginFields() []Field
	// Validate really logs in to the legacy network with creds and logs
	// out again. It returns nil when the credentials work, an error
	// wrapping ErrBadCredentials (with the legacy server's text) when they
	// are refused, an error wrapping ErrInvalidInput when a value is
	// malformed, or another error (typically wrapping ErrUnavailable)
	// when the legacy network could not be reached. creds has already
	// been checked against LoginFields (required fields present, lengths
	// within bounds, valid UTF-8).
	Validate(ctx context.Context, creds Credentials) error
	// Connect starts a session for a registered user. It may block until
	// the legacy login completed or failed; errors are classified like
	// Validate's. Everything the session receives later is handed to sink.
	// ctx bounds this call only: the supervisor cancels it once Connect
	// returned, so the adapter must not keep it (a session's life is its
	// Adapter's, until Close). The returned Adapter is owned by the
	// caller, which must Close it.
	Connect(ctx context.Context, acct Account, sink Sink) (Adapter, error)
}

// Identity is a disco identity (XEP-0030): category "gateway", a registered
// type such as "irc", "smtp" or "sms", and a human name.
type Identity struct {
	Category string
	Type     string
	Name     string
}

// Adapter is one registered user's live session on a legacy network.
// Methods may be called from several goroutines at once.
type Adapter interface {
	// Send delivers a message to a legacy contact or room. It returns the
	// legacy network's ID for the message where the network has one
	// (empty otherwise). An error means the message was not delivered;
	// it is classified with the sentinel errors of this package.
	Send(ctx context.Context, msg Message) (RemoteID, error)
	// SetPresence mirrors the user's XMPP availability on the legacy
	// network (away, back, …). Networks without presence return nil.
	SetPresence(ctx context.Context, p Presence) error
	// Done is closed when the session ended on its own (its connection
	// dropped, or a connection it redials was refused for good). The
	// adapter does not retry the session: the supervisor owns retries.
	// It closes the adapter and, unless Err wraps ErrBadCredentials or
	// ErrPolicy, connects a new one after the backoff of its one
	// policy. A connection the adapter keeps across drops redials
	// through Account.Reconnect, never on a schedule of its own. Done is
	// not closed by Close.
	Done() <-chan struct{}
	// Err says why Done was closed; nil before that.
	Err() error
	// Close logs out and releases everything the session holds. It is
	// safe to call more than once.
	Close() error
}

// Ending gives an Adapter its Done and Err: embed it, and call End when
// the session ended on its own. The zero value is ready to use. Its
// channel is made only when Done is asked for: the supervisor waits for
// an end with AfterEnd, so a connected session keeps no channel.
type Ending struct {
	end   Latch // set by End
	mu    sync.Mutex
	err   error
	after []*func() // see AfterEnd
}

// Done is closed once End was called (see Adapter.Done).
func (e *Ending) Done() <-chan struct{} { return e.end.Done() }

// Err says why the session ended; nil before End (see Adapter.Err).
func (e *Ending) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// End records that the session ended because of err; only the first call
// counts.
func (e *Ending) End(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.end.IsSet() {
		return
	}
	e.err = err // before Done is closed: who sees it closed sees err
	e.end.Set()
	for _, f := range e.after {
		go (*f)()
	}
	e.after = nil
}

// AfterEnd arranges for f to run on a goroutine of its own once End was
// called (at once if it was already), as context.AfterFunc does for a
// context. stop cancels that; it reports whether it stopped f from being
// run. The supervisor waits for every connected session's end this way,
// without a goroutine per session; it never blocks and does no I/O.
func (e *Ending) AfterEnd(f func()) (stop func() bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.end.IsSet() {
		go f()
		return func() bool { return false }
	}
	p := &f
	e.after = append(e.after, p)
	return func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, q := range e.after {
			if q == p {
				e.after = slices.Delete(e.after, i, i+1)
				return true
			}
		}
		return false
	}
}

// Sink receives what a user's legacy session produces. The component
// implements it; Deliver stores the event durably (or hands it to the XMPP
// server) before it returns, so an event handed to Deliver is never lost.
// Room chatter while none of the user's resources is in the room (the
// user's session stays in it, bouncer mode) is kept in memory, bounded
// per room, and shown as history at the next join when the network has no
// History; what the bound let go is counted and the user told. A Mention
// also goes to the user's offline storage.
//
// Deliver may block: the user's events are handled one at a time, in
// order, and Deliver returns once its event was. It may be called from any
// goroutine, also from inside an adapter method the component called (the
// component never calls the adapter from the goroutine that handles the
// user's events), but not after the adapter's Close returned.
//
// A MessageEvent with a RemoteID reaches the user at most once per
// conversation: delivering the same RemoteID again is ignored. A network
// that keeps a bookmark of what it delivered (Store) saves it after
// Deliver returned; after a crash it may deliver again from the old
// bookmark, and the user still sees each message exactly once.
type Sink interface {
	Deliver(ev Event)
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(Event)

// Deliver calls f(ev).
func (f SinkFunc) Deliver(ev Event) { f(ev) }

// ID identifies a contact or room on a legacy network, in the network's own
// syntax ("nick%irc.libera.chat", "#go-nuts%irc.libera.chat",
// "+15551234567", "alice@example.com"). The component maps it to and from
// a JID localpart, escaping as XEP-0106 requires.
type ID string

// RemoteID is a legacy network's identifier for one message.
type RemoteID string

// Account is a registered user as a network sees it.
type Account struct {
	// User is an opaque, stable name of the XMPP user (their bare JID).
	// Networks may use it in logs and as a storage key, nothing else.
	User string
	// Credentials are the values the user registered with.
	Credentials Credentials
	// Settings are the user's per-network settings (see SettingsProvider).
	Settings map[string]string
	// Store is durable storage for the network's own bookkeeping about
	// this user. The component always provides it to Connect.
	Store Store
	// Reconnect is the supervisor's reconnect policy for this session:
	// connections the adapter redials itself wait and report through it
	// (see Reconnect). The supervisor sets it for Connect; nil elsewhere,
	// which a network treats as the default policy reporting nothing.
	Reconnect *Reconnect
}

// Store is durable storage for a network's own bookkeeping about one user
// (an IMAP mailbox's UIDVALIDITY and last delivered UID), deleted when the
// user unregisters. Keys are the network's own. Both methods do storage
// I/O and may block until ctx ends; they never retry, and a network that
// could not Put delivers again from its old bookkeeping later (see Sink).
type Store interface {
	// Get returns the value under key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
}

// Credentials are registration values keyed by Field.Name.
type Credentials map[string]string

// FieldKind is the kind of value a registration field takes.
type FieldKind int

const (
	// FieldText is a single line of text.
	FieldText FieldKind = iota
	// FieldSecret is a single line of text that must never be shown or
	// logged (a password or token).
	FieldSecret
	// FieldBool is a yes/no choice ("true"/"false").
	FieldBool
	// FieldList is one value out of Options.
	FieldList
)

// Field is one input of a registration (or settings) form.
type Field struct {
	Name     string // the key in Credentials ("nick")
	Label    string // short human label ("Nickname")
	Desc     string // longer help text, may be empty
	Kind     FieldKind
	Required bool
	Default  string
	Options  []Option // the choices of a FieldList
	// Legacy names the XEP-0077 legacy element ("username", "password",
	// "email", …) that old clients fill for this field, or "".
	Legacy string
	// MaxLen bounds the value's length in bytes; 0 means DefaultMaxLen.
	MaxLen int
}

// DefaultMaxLen is the longest value a field takes unless it says otherwise.
const DefaultMaxLen = 1024

// Option is one choice of a FieldList.
type Option struct {
	Label string
	Value string
}

// Message is a message from the XMPP user to a legacy contact or room.
type Message struct {
	// To is the legacy contact or room.
	To ID
	// Room is true when To is a room (group chat).
	Room bool
	// Body is the text, already checked to be valid UTF-8. It may contain
	// newlines; the network splits or escapes as its protocol needs.
	Body string
	// Action is true for a "/me" action.
	Action bool
	// Subject and Thread carry the XMPP subject and thread, where the
	// network has such a thing (email).
	Subject string
	Thread  string
	// ReplyTo is the legacy ID of the message this one replies to, if any.
	ReplyTo RemoteID
	// ID is the XMPP stanza's ID; networks may use it to correlate their
	// echo of the message (IRCv3 labeled-response).
	ID string
	// Files are the files the user shared with the message (see File).
	// Only FileSender.SendFiles gets them; Send never does.
	Files []File
}

// Show is an availability, as in XMPP presence.
type Show int

const (
	// Available means online with no particular status.
	Available Show = iota
	// Away is a short absence.
	Away
	// ExtendedAway is a long absence.
	ExtendedAway
	// DoNotDisturb means busy.
	DoNotDisturb
	// FreeForChat means eager to talk.
	FreeForChat
	// Offline means not available at all.
	Offline
)

// String returns the XMPP <show/> value ("" for Available and Offline).
func (s Show) String() string {
	switch s {
	case Away:
		return "away"
	case ExtendedAway:
		return "xa"
	case DoNotDisturb:
		return "dnd"
	case FreeForChat:
		return "chat"
	}
	return ""
}

// Presence is an availability with a status text.
type Presence struct {
	Show   Show
	Status string
}

// Sentinel errors that networks wrap so the component can tell the user what
// happened and choose the right XMPP error condition. Wrap them with the
// legacy server's own words: fmt.Errorf("%w: %s", ErrBadCredentials, text).
var (
	// ErrBadCredentials: the legacy network refused the login. Retrying
	// with the same credentials is pointless.
	ErrBadCredentials = errors.New("credentials refused")
	// ErrUnavailable: the legacy network could not be reached or dropped
	// the connection; retrying later may work.
	ErrUnavailable = errors.New("legacy network unavailable")
	// ErrInvalidInput: a value the user gave is malformed for the network.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotFound: the contact or room does not exist.
	ErrNotFound = errors.New("no such contact or room")
	// ErrForbidden: the legacy network does not allow this action.
	ErrForbidden = errors.New("not allowed")
	// ErrNotConnected: the adapter is not connected right now.
	ErrNotConnected = errors.New("not connected")
	// ErrUnsupported: the network cannot do what was asked.
	ErrUnsupported = errors.New("not supported by this network")
	// ErrConflict: a name (nick) is already taken on the legacy network.
	ErrConflict = errors.New("name already in use")
	// ErrPolicy: the gateway's own policy refuses the request (a server
	// not in the allow list, an address that is not public). Nothing was
	// sent to any legacy server. The text names the policy.
	ErrPolicy = errors.New("not allowed by this gateway's policy")
	// ErrLimit: the request exceeds one of the gateway's limits (servers
	// per user, lines per message, connections per minute). The text
	// names the limit; the user may retry with less, or later.
	ErrLimit = errors.New("limit reached")
	// ErrBusy: a queue is full; nothing was queued. Retrying later may
	// work.
	ErrBusy = errors.New("too busy")
)

// Event is something that happened on the legacy network. The concrete
// types are the *Event structs of this package.
type Event interface {
	isEvent()
}

// MessageEvent is a message from a legacy contact, or said in a room.
type MessageEvent struct {
	// From is the contact who wrote, or the room it was said in.
	From ID
	// Room is true when From is a room; Nick is then the speaker.
	// Otherwise Nick is the contact's display name (XEP-0172), if known.
	Room bool
	Nick string
	// RemoteID is the legacy message ID, if the network has one.
	RemoteID RemoteID
	Body     string
	Action   bool
	Subject  string
	Thread   string
	// Time is when the legacy network says it was sent; zero for now.
	Time time.Time
	// Notice is true for automated text (IRC NOTICE, server messages).
	Notice bool
	// Own is true for the user's own message as the network echoed it
	// (sent from another client, or IRCv3 echo-message), to be reflected
	// to the user's XMPP resources. In a one-to-one chat (From is the
	// contact it was sent to) the component shows it from the contact's
	// address, marked as the user's own, never as written by the contact.
	Own bool
	// ReplyTo is the legacy ID of the message this one replies to.
	ReplyTo RemoteID
	// EchoOf is the Message.ID of the user's message this event echoes
	// (Own only), so the component can reflect it under the same ID.
	EchoOf string
	// OccupantID is the speaker's OccupantEvent.OccupantID in a room,
	// "" when the network knows none (Capabilities.OccupantIDs).
	OccupantID string
	// Mention is true when a room message mentions the user's nick (an
	// IRC highlight); such messages reach the user even when no resource
	// is in the room.
	Mention bool
	// Attachments are files that came with the message
	// (Capabilities.Attachments).
	Attachments []Attachment
}

// Attachment is a file that came with a legacy message. The content
// never has to sit in memory: the component streams it from Open, or
// fetches URL, into the user's HTTP upload slot (XEP-0363). With neither
// (a file the network would not let the adapter fetch, or one too large
// for it), the user is told the file's name and size.
type Attachment struct {
	Name string // file name, for display
	Type string // MIME type
	// Size is the content's length in bytes. With Open it must be exact:
	// the upload slot is asked for that size, and a reader that yields
	// another length fails the file. With URL, 0 means "as the response
	// says" (its Content-Length). A Size above [security]
	// max_attachment_bytes is refused before anything is read.
	Size int64
	// Open opens the content. The component calls it at most once per
	// delivery, before Deliver returns, on a goroutine of its own (a
	// few files of one message at once), and closes what it returns. It
	// may do I/O and block until ctx ends; an error makes the file one
	// the user is told about, and nobody retries.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// URL is where the component fetches the content itself when Open
	// is nil: https only (plain http only to an address the admin
	// listed in [security] allow_private), through the egress policy,
	// no redirect followed, at most max_attachment_bytes read. Networks
	// whose files sit on a CDN set it instead of fetching.
	URL string
}

// PresenceEvent is a legacy contact's availability.
type PresenceEvent struct {
	From     ID
	Presence Presence
}

// StateEvent reports the connection state of the user's legacy session.
// The supervisor builds and sends it, around Connect and from what the
// adapter reports (Adapter.Done, a reporting Link); adapters do not.
type StateEvent struct {
	Status Status
}

// NoticeEvent is text the transport itself must show the user: a
// legacy-side failure, a warning, a server notice.
type NoticeEvent struct {
	// About is the contact or room concerned, or "" for the gateway.
	About ID
	Text  string
	// Error is true when the text reports a failure.
	Error bool
	// Invite, when set, is a room the text asks the user to join (a group
	// the network made of a conversation, say): the component ends the
	// text with the room's address and sends the user an invitation to
	// it that a client can accept in one step (XEP-0249).
	Invite ID
}

func (*MessageEvent) isEvent()  {}
func (*PresenceEvent) isEvent() {}
func (*StateEvent) isEvent()    {}
func (*NoticeEvent) isEvent()   {}

// State is a connection state, as the user should see it.
type State int

const (
	// StateDisconnected: no session (the user is offline, or unregistered).
	StateDisconnected State = iota
	// StateConnecting: a login is under way.
	StateConnecting
	// StateConnected: the session is up.
	StateConnected
	// StateBadCredentials: the legacy network refused the login; the user
	// must register again with other credentials.
	StateBadCredentials
	// StateTransientDisconnect: the connection failed or dropped; a
	// retry is scheduled (Status.Retry).
	StateTransientDisconnect
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateBadCredentials:
		return "bad credentials"
	case StateTransientDisconnect:
		return "disconnected"
	}
	return "offline"
}

// Status is a State with its details.
type Status struct {
	State State
	// Text is the legacy server's explanation, if any ("Invalid password").
	Text string
	// Retry is when the next connection attempt is due
	// (StateTransientDisconnect only).
	Retry time.Time
}
