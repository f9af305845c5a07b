package muc

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// Core is what the MUC service needs of the bridge core (package
// component implements it), as bridgev2 keeps its bridge core apart from
// a connector: the stream and the outbox, the user's goroutines, the
// legacy sessions and their policy, the per-user limits, the message-ID
// map, the archive and the upload of legacy files. The service holds the
// MUC protocol; it reaches everything else through these methods.
//
// Goroutines (doc/architecture.md): owner work runs on the user's owner
// goroutine (Own, Post), lane work in the user's lane (Later, After, and
// the stanza work the component admits there). Unless its comment says
// otherwise, a method returns at once, does no I/O and may be called from
// any goroutine, owner work included. A method marked "lane work" may wait
// for the network or storage and must never be called from owner work;
// "storage I/O" means it may wait for storage, which owner work may do.
// Nothing here retries: a failure is returned or, where the method returns
// nothing, logged by the core.
type Core interface {
	// Adapter returns user's running legacy session, or nil when none
	// runs. It does not start one.
	Adapter(user string) transports.Adapter
	// Capabilities returns the network's static capabilities.
	Capabilities() transports.Capabilities
	// NetworkName is the network's name as users read it ("IRC").
	NetworkName() string
	// Domain is the gateway's domain, as users write to it.
	Domain() jid.JID
	// NetworkKey is the network's name as storage keys it ("irc"): the
	// archive's key of the network.
	NetworkKey() string
	// LegacyJID returns the XMPP address of a legacy room, server or
	// contact, or an error for an ID that has none.
	LegacyJID(id transports.ID) (jid.JID, error)

	// Own runs fn on user's owner goroutine, the only one that reads or
	// changes the user's room state, and waits until fn returned (inline
	// when ctx is already that owner's). It reports false, without
	// running fn, when ctx ended or the component stopped first. fn must
	// not wait for the network or a lane; owner work never calls Own for
	// another user.
	Own(ctx context.Context, user string, fn func(ctx context.Context)) bool
	// Post queues fn as owner work of user and returns without waiting
	// (a stream reader's answer that needs the user's state). fn does not
	// run once the component stopped.
	Post(user string, fn func(ctx context.Context))
	// Later queues job in user's lane, after the work already there: the
	// service's follow-up work (rejoins, leaving a room, ending an
	// anonymous session), which may wait for the network. After does the
	// same once d has passed, unless the component stops first. Both
	// return at once; owner work may call them.
	Later(user string, job func(ctx context.Context))
	After(d time.Duration, user string, job func(ctx context.Context))

	// Send writes a room stanza to the stream, or to the outbox when the
	// stream is down; a stanza neither takes is logged as lost. Storage
	// and stream I/O, bounded: owner work may call it.
	Send(ctx context.Context, v any)
	// SendQuiet writes v to the stream, for stanzas whose loss is
	// harmless (answers, presence of a leave); a failure is only logged.
	// Stream I/O, bounded.
	SendQuiet(ctx context.Context, v any)
	// Write writes v to the stream now and returns why it could not: the
	// stream is down, or, with errors.Is(err, ErrTooLarge), v cannot be
	// cut to the stanza size limit (nothing was written). Stream I/O,
	// bounded.
	Write(ctx context.Context, v any) error
	// QueueOrSend puts m, for user, in the outbox (delivered in order,
	// surviving a restart), or writes it to the stream when storage
	// fails; a message neither takes is logged as lost. Storage I/O.
	QueueOrSend(ctx context.Context, user jid.JID, m *stanza.Message)
	// ReplyError answers s with e (nothing for an error or a result);
	// Result answers an IQ get or set with payload (nil for an empty
	// result); JoinError answers a join presence with an error presence
	// from the occupant JID it went to. Stream I/O, bounded by 10
	// seconds; a failure is only logged.
	ReplyError(s *stanza.In, e *stanzaerr.Error)
	Result(s *stanza.In, payload any)
	JoinError(s *stanza.In, e *stanzaerr.Error)

	// RoomAdapter returns user's session for a join of room as nick,
	// starting one when none runs: the registered user's, or, where the
	// network allows anonymous joins, an anonymous one (marking the
	// user's rooms Anon through Own), under the core's connection budget
	// and egress policy. Lane work: it waits up to 30 seconds for the
	// session to come up. The error is for the joining resource as it is.
	RoomAdapter(ctx context.Context, user jid.JID, room transports.ID, nick string) (transports.Adapter, *stanzaerr.Error)
	// Registered reports whether user registered with the gateway (a
	// storage error counts as not, and is logged). Storage I/O.
	Registered(ctx context.Context, user jid.JID) bool
	// StayConnected reports whether settings (Settings') keep the
	// user's session while they are offline, the network's default
	// where unset.
	StayConnected(settings map[string]string) bool
	// Online reports whether user has an available resource.
	Online(user string) bool
	// Replayed reports whether s is a journaled stanza handled again
	// after a restart (component/journal.go): its resource joined the
	// room at the process that read it, not at this one. No I/O.
	Replayed(s *stanza.In) bool
	// Stop ends user's legacy session. Lane work: it waits for the
	// session to end.
	Stop(user string)

	// RoomsPerUser is how many rooms one user may be in; MaxBody the
	// longest body the network is given.
	RoomsPerUser() int
	MaxBody() int
	// WaitSend waits until user may send one more message to the network
	// (the per-user send limiter), and fails when ctx ends first. Lane
	// work.
	WaitSend(ctx context.Context, user string) error
	// IncomingAllowed reports whether one more legacy message may reach
	// user's offline storage; when not, the message is dropped, counted,
	// and the user told at the end of the window by the core.
	IncomingAllowed(user jid.JID) bool
	// CountSent counts a message relayed to the network (ok) or refused
	// by it, for the gateway's statistics.
	CountSent(ok bool)

	// Body is the text of message el as a network without files sends
	// it: its <body/> with the links of the files it shares appended, and
	// whether there is any.
	Body(el *xmltree.Element) (body string, ok bool)
	// SendWithFiles sends msg on a, with the files message el shares when
	// the network takes files (the core fetches them through its egress
	// policy and caps; nil el: none), else as msg.Body alone, and calls
	// done with the network's ID of the message or its error (for the
	// one mapping; waiting bounded to a minute). Lane work. The done
	// calls of a user's messages run one at a time, in the order of the
	// messages: where the network pipelines (transports.Queuer) it
	// returns once msg is queued, and done runs later on another
	// goroutine of the user's, never owner work; otherwise it blocks on
	// the network and runs done before it returns.
	SendWithFiles(ctx context.Context, user jid.JID, a transports.Adapter, msg transports.Message, el *xmltree.Element,
		done func(ctx context.Context, rid transports.RemoteID, err error))

	// Correct relays a correction (XEP-0308) of the message ref in room
	// with the network's Editor where it can, reporting edited; else it
	// returns the body to send as a new, marked message. Retract relays a
	// retraction (XEP-0424) of ref in room, or refuses it. Both are lane
	// work (the network's call, at most a minute); a refusal is a stanza
	// error for the sender.
	Correct(ctx context.Context, a transports.Adapter, user string, room transports.ID, ref, body string) (edited bool, marked string, serr *stanzaerr.Error)
	Retract(ctx context.Context, a transports.Adapter, user string, room transports.ID, ref string) *stanzaerr.Error
	// PairID stores that legacy message legacyID of room is xmppID for
	// user; with legacyID "", that the network gave xmppID no ID (so
	// LegacyRef finds "" for it, unless it was paired). LegacyRef maps an XMPP reference in a room (a stanza-id, or the
	// user's own id of an echoed message) to the legacy ID: through the
	// map, else as it is (a room message's stanza-id is its legacy ID); ""
	// for "", and "" for a stanza-id the gateway made for a message the
	// network gave no ID (Service.MadeID), which must never reach the
	// network. XMPPRef maps a legacy ID of conversation conv to the XMPP id
	// the map holds, or "". Storage I/O; errors of PairID are returned,
	// lookups that fail find nothing.
	PairID(ctx context.Context, user string, room transports.ID, legacyID, xmppID string) error
	LegacyRef(ctx context.Context, user string, room transports.ID, ref string) transports.RemoteID
	XMPPRef(ctx context.Context, user string, conv transports.ID, target transports.RemoteID) string

	// OccupantPhoto is the XEP-0153 hash of the picture of the member
	// behind occupant nick of room (occupantID as the network gave it,
	// "" for none), as user's profile cache knows it: known is false
	// where the network has no occupant profiles or the cache has no
	// answer yet (no ProfileEvent, no vCard asked), and hash "" with
	// known true means no picture. It does no I/O and never fetches a
	// picture, so owner work calls it for every occupant presence.
	OccupantPhoto(user string, room transports.ID, nick, occupantID string) (hash string, known bool)

	// Archive is the room archive, or nil when the gateway keeps none.
	// Its Add only queues (owner work may call it); Query and Latest read
	// storage (lane work).
	Archive() *archive.Archive

	// Settings returns user's stored settings for the network (a fresh
	// map the caller may change); SetSettings replaces them. Both do
	// storage I/O and may block until ctx ends: lane work, never owner
	// work. Errors are the storage's; the core does not retry.
	Settings(ctx context.Context, user string) (map[string]string, error)
	SetSettings(ctx context.Context, user string, settings map[string]string) error
	// Logger is where the service logs, never with message content.
	Logger() *slog.Logger
}

// ErrTooLarge is what Core.Write's error wraps for a stanza that cannot be
// cut to the stanza size limit.
var ErrTooLarge = errors.New("stanza larger than the limit")

// Service is the gateway's MUC service (XEP-0045) over one legacy
// network: the flows that turn users' requests into legacy calls and the
// network's answers into stanzas. Its methods say which goroutine may
// call them. It owns the table of every user's rooms, joins and leaves
// (join.go), the legacy room events turned into stanzas (events.go,
// edits.go), group chat from the user (groupchat.go), bouncer mode
// (bouncer.go, remember.go), the room archive's XEP-0313 side (mam.go),
// the room listing (disco#items on a legacy server) and muc#admin.
type Service struct {
	core Core
	now  func() time.Time

	// mu guards the users map only: a user's entry and everything in it
	// belong to the user's owner goroutine.
	mu    sync.Mutex
	users map[string]*Rooms

	listMu sync.Mutex
	lists  map[string]roomList // user + "\x00" + server

	idKey []byte // signs madeID's IDs (ids.go)
}

// roomList is a legacy server's room list, as fetched at a time.
type roomList struct {
	at    time.Time
	rooms []transports.RoomInfo
}

// NewService returns the MUC service of the network core bridges.
func NewService(core Core, opts ...Option) *Service {
	s := &Service{core: core, now: time.Now, users: make(map[string]*Rooms), lists: make(map[string]roomList)}
	for _, o := range opts {
		o(s)
	}
	if s.idKey == nil {
		s.idKey = make([]byte, 32)
		rand.Read(s.idKey)
	}
	return s
}

// ListTTL is how long a server's room list is reused for a user.
const ListTTL = time.Minute

// ListPage is the most items a listing without a result set request
// returns; the response then carries a <set/> for clients that page.
const ListPage = 500

// MaxItemName bounds an item's name (room name, members, topic) in a
// listing: ListPage of them fit in a stanza of the default limit.
const MaxItemName = 200

// listTimeout bounds the legacy call of a listing.
const listTimeout = time.Minute

// ListRooms returns the rooms of server as user's legacy session lists
// them, reused for ListTTL per user and server. Without a cached list it
// asks the network and blocks until the network answers (at most a
// minute): call it from the user's lane, never from owner work. It
// returns no rooms when the network or the session cannot list rooms, a
// stanza error when user has no session, and the network's error as it
// is (the caller maps it once).
func (s *Service) ListRooms(ctx context.Context, user string, server transports.ID) ([]transports.RoomInfo, error) {
	key := user + "\x00" + string(server)
	s.listMu.Lock()
	l, ok := s.lists[key]
	s.listMu.Unlock()
	if ok && s.now().Sub(l.at) < ListTTL {
		return l.rooms, nil
	}
	if !s.core.Capabilities().RoomListing {
		return nil, nil
	}
	a := s.core.Adapter(user)
	if a == nil {
		return nil, stanzaerr.New("cancel", "item-not-found", "You are not connected to %s: join a room on that server first.", s.core.NetworkName())
	}
	lister, ok := a.(transports.RoomLister)
	if !ok {
		return nil, nil
	}
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	rooms, err := lister.ListRooms(lctx, server)
	cancel()
	if err != nil {
		return nil, err
	}
	now := s.now()
	s.listMu.Lock()
	for k, v := range s.lists {
		if now.Sub(v.at) >= ListTTL {
			delete(s.lists, k)
		}
	}
	s.lists[key] = roomList{at: now, rooms: rooms}
	s.listMu.Unlock()
	return rooms, nil
}

// PageRooms applies an XEP-0059 request (set, nil for none) to a room
// listing (discovery.Page): items keyed by their JID, named by the room's
// name (its ID when it has none), member count and topic, each name cut
// to MaxItemName bytes. Rooms without an address are left out. It does no
// I/O.
func (s *Service) PageRooms(rooms []transports.RoomInfo, set *xmltree.Element) (*discovery.Items, *stanzaerr.Error) {
	all := make([]items.Item, 0, len(rooms))
	for _, ri := range rooms {
		j, err := s.core.LegacyJID(ri.ID)
		if err != nil {
			continue
		}
		name := ri.Name
		if name == "" {
			name = string(ri.ID)
		}
		name += " (" + strconv.Itoa(ri.Members) + ")"
		if ri.Topic != "" {
			name += " " + ri.Topic
		}
		if len(name) > MaxItemName {
			// A full page of ListPage items stays well within the
			// stanza limit, whatever the topics.
			name = stanza.CutUTF8(name, MaxItemName-len("…")) + "…"
		}
		all = append(all, items.Item{JID: j, Name: name})
	}
	return discovery.Page(all, set, ListPage)
}

// RoomName is the human name of room id as user's session in it knows it
// (RoomReadyEvent.Name), else its ID. It waits for the user's owner
// goroutine: lane work, never owner work.
func (s *Service) RoomName(ctx context.Context, user string, id transports.ID) string {
	name := string(id)
	s.core.Own(ctx, user, func(context.Context) {
		if ur := s.Rooms(user); ur != nil {
			if r := ur.Get(id); r != nil && r.Name != "" {
				name = r.Name
			}
		}
	})
	return name
}

// RoomFacts is what user's session knows of room id for its
// muc#roominfo form: the name (RoomReadyEvent.Name, the ID where the
// network gives none, as the contract says it then is the name), the
// subject and the occupant count (the members RoomReadyEvent counted when
// the join delivered only some, else the occupants and the user) while
// the user is in the room; else the name and topic of the room in a room
// listing the user fetched within ListTTL. It asks the network nothing.
// It waits for the user's owner goroutine: lane work, never owner work.
func (s *Service) RoomFacts(ctx context.Context, user string, id transports.ID) discovery.RoomFacts {
	var f discovery.RoomFacts
	joined := false
	s.core.Own(ctx, user, func(context.Context) {
		ur := s.Rooms(user)
		if ur == nil {
			return
		}
		r := ur.Get(id)
		if r == nil || !r.Ready() {
			return
		}
		joined = true
		f.Name = cmp.Or(r.Name, string(r.ID))
		f.Subject = r.Subject().Subject
		f.HasOccupants = true
		f.Occupants = cmp.Or(r.Members, len(r.occupants)+1)
	})
	if joined {
		return f
	}
	if ri, ok := s.listed(user, id); ok {
		f.Name = cmp.Or(ri.Name, string(ri.ID))
		f.Subject = ri.Topic
	}
	return f
}

// listed finds room id in the room listings user fetched within ListTTL.
func (s *Service) listed(user string, id transports.ID) (transports.RoomInfo, bool) {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	now := s.now()
	for k, l := range s.lists {
		if !strings.HasPrefix(k, user+"\x00") || now.Sub(l.at) >= ListTTL {
			continue
		}
		for _, ri := range l.rooms {
			if ri.ID == id {
				return ri, true
			}
		}
	}
	return transports.RoomInfo{}, false
}

// OccupantIDOf returns the OccupantID of the member called nick in room
// id as user's session sees it ("" when the network gave none) and
// whether there is such a member. It waits for the user's owner
// goroutine: lane work, never owner work.
func (s *Service) OccupantIDOf(ctx context.Context, user string, id transports.ID, nick string) (occupantID string, in bool) {
	s.core.Own(ctx, user, func(context.Context) {
		if ur := s.Rooms(user); ur != nil {
			if r := ur.Get(id); r != nil {
				if o := r.occupant(nick); o != nil {
					occupantID, in = o.OccupantID, true
				}
			}
		}
	})
	return occupantID, in
}
