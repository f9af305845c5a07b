// Package contacts is who the user knows on a legacy network, as their
// XMPP client shows it: the contacts' profiles (vCard-temp, XEP-0054; the
// XEP-0153 avatar hash and the XEP-0172 nick in their presence; their
// last presence, for the probes of the user's server), the legacy contact
// list mirrored in the user's roster (subscription requests, as XEP-0100
// §5.2 says, or roster pushes with the server's XEP-0356 roster grant),
// and the privileges the users' servers grant the gateway (XEP-0356:
// roster sets, messages on a user's behalf and recognising their echo).
//
// Service reaches the bridge core only through Core, the small interface
// package component implements, as bridgev2 keeps its bridge core apart
// from a connector. The pure parts are plain types and functions, table
// tested: Book (the profile book), Privileges (the grants and the echo
// set), reading a grant's advertisement, the privileged message wrapper,
// roster items and the roster plan a contact list makes.
package contacts

import (
	"context"
	"io"
	"log/slog"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Core is what the contacts flows need of the bridge core (package
// component implements it).
//
// Capabilities, NetworkName, Domain, LegacyJID, LegacyID, Kind, Adapter,
// AllowedUser, Dropped, Admit, Later and Logger return at once and may be
// called from any goroutine; Admit and Later do not wait for their job.
// ReplyError, Result and SendQuiet write to the stream (each write
// bounded to seconds; a failure is only logged, never retried).
// Settings and SetSettings do storage I/O, SetRoster and ServerSoftware
// wait for the server to answer and Open reads from the network or a URL:
// these may block until ctx ends, so the service calls them from the
// user's lane (Admit's and Later's jobs). None retries: a failure is
// logged, or answered to the user, and the next session start or event
// tries again.
type Core interface {
	// Capabilities returns the network's static capabilities; the
	// service does nothing the network does not claim (Profiles,
	// Contacts).
	Capabilities() transports.Capabilities
	// NetworkName is the network's name as users read it ("IRC").
	NetworkName() string
	// Domain is the gateway's JID, the sender of privileged messages.
	Domain() jid.JID
	// LegacyJID returns the XMPP address of a legacy contact, or an
	// error for an ID that has none; LegacyID is the legacy contact an
	// address of the gateway's domain stands for; Kind tells a contact
	// from a server (Addresser), an error when the network cannot tell.
	LegacyJID(id transports.ID) (jid.JID, error)
	LegacyID(j jid.JID) (transports.ID, error)
	Kind(id transports.ID) (transports.IDKind, error)
	// Adapter returns user's running legacy session, nil when none runs
	// (it does not start one).
	Adapter(user string) transports.Adapter
	// AllowedUser reports whether the server of from may use the
	// gateway (the allowed domains).
	AllowedUser(from jid.JID) bool

	// Admit runs job in the sender's lane, after their earlier stanzas,
	// with a context that ends with the component; when too many of
	// their stanzas wait already it answers s with resource-constraint
	// instead. Later queues job in user's lane, after the work already
	// there (the component's own follow-up work).
	Admit(s *stanza.In, job func(ctx context.Context))
	Later(user string, job func(ctx context.Context))

	// ReplyError answers s with e; Result answers the IQ s with payload.
	ReplyError(s *stanza.In, e *stanzaerr.Error)
	Result(s *stanza.In, payload any)
	// SendQuiet writes v to the stream now, where losing it is harmless
	// (presence, subscription requests); a failure is only logged.
	SendQuiet(ctx context.Context, v any)
	// Dropped logs a stanza the gateway does not act on, and why,
	// without its content.
	Dropped(s *stanza.In, why string)
	// SetRoster sends an IQ set with payload (a roster query) to user's
	// bare JID, which the server answers with the roster privilege, and
	// waits for the answer: an error when the server refused it, the
	// stream failed or ctx ended.
	SetRoster(ctx context.Context, user string, payload any) error
	// ServerSoftware asks the server of domain what it runs (XEP-0092)
	// and waits for the answer: an error when it answered with one, the
	// stream failed or ctx ended.
	ServerSoftware(ctx context.Context, domain string) (Software, error)

	// Open reads a legacy file (an avatar) through the gateway's
	// attachment path: the egress policy and the size caps apply. The
	// caller closes the reader.
	Open(ctx context.Context, a transports.Attachment) (io.ReadCloser, error)
	// Settings returns user's stored settings with this network,
	// hidden ones included; SetSettings replaces them.
	Settings(ctx context.Context, user string) (map[string]string, error)
	SetSettings(ctx context.Context, user string, settings map[string]string) error

	// Logger is where the service logs, never with message content.
	Logger() *slog.Logger
}

// Service runs the contacts flows of one gateway. Its methods say which
// goroutine may call them. Its tables (the profile book, the grants)
// are shared across users, each under its own lock.
type Service struct {
	core  Core
	book  Book
	privs Privileges
}

// NewService returns the contacts flows of the network core bridges.
// echoKey signs the IDs of messages sent on users' behalf
// (Privileges.Key): it must be the same across restarts and secret.
func NewService(core Core, echoKey []byte) *Service {
	return &Service{core: core, privs: Privileges{Key: echoKey}}
}

// Forget drops what the service knows of user's contacts (on
// unregistration). Any goroutine.
func (d *Service) Forget(user string) { d.book.Forget(user) }
