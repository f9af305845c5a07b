package muc

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// Core is what the MUC service needs of the bridge core (package
// component implements it), as bridgev2 keeps its bridge core apart from
// a connector. It grows as the MUC flows move out of component; for now
// it serves the room listing, muc#admin and the remembered rooms.
//
// No method waits for the network or a lane. Own waits for the user's
// owner goroutine; Settings and SetSettings do storage I/O; the others
// return at once and may be called from any goroutine, owner work
// included.
type Core interface {
	// Adapter returns user's running legacy session, or nil when none
	// runs. It does not start one.
	Adapter(user string) transports.Adapter
	// Capabilities returns the network's static capabilities.
	Capabilities() transports.Capabilities
	// NetworkName is the network's name as users read it ("IRC").
	NetworkName() string
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
	// Room returns user's room id, or nil when the user is in no such
	// room. Owner work only (inside Own): the room and everything in it
	// belong to the user's owner goroutine, except its ID and JID, which
	// never change.
	Room(user jid.JID, id transports.ID) *Room

	// Settings returns user's stored settings for the network (a fresh
	// map the caller may change); SetSettings replaces them. Both do
	// storage I/O and may block until ctx ends: lane work, never owner
	// work. Errors are the storage's; the core does not retry.
	Settings(ctx context.Context, user string) (map[string]string, error)
	SetSettings(ctx context.Context, user string, settings map[string]string) error
	// Logger is where the service logs, never with message content.
	Logger() *slog.Logger
}

// Service is the gateway's MUC service (XEP-0045) over one legacy
// network: the flows that turn users' requests into legacy calls and the
// network's answers into stanzas. Its methods say which goroutine may
// call them. So far it owns the room listing (disco#items on a legacy
// server), muc#admin, the remembered rooms of bouncer mode and the
// table of every user's rooms; joins,
// leaves, rejoins, room events, groupchat and the room archive's MAM are
// still component's (issue 9).
type Service struct {
	core Core
	now  func() time.Time

	// mu guards the users map only: a user's entry and everything in it
	// belong to the user's owner goroutine.
	mu    sync.Mutex
	users map[string]*Rooms

	listMu sync.Mutex
	lists  map[string]roomList // user + "\x00" + server
}

// roomList is a legacy server's room list, as fetched at a time.
type roomList struct {
	at    time.Time
	rooms []transports.RoomInfo
}

// NewService returns the MUC service of the network core bridges.
func NewService(core Core) *Service {
	return &Service{core: core, now: time.Now, users: make(map[string]*Rooms), lists: make(map[string]roomList)}
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
