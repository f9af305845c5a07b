package muc

import (
	"slices"
	"sort"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// Phase is where one of the user's resources is in joining a room.
type Phase int

const (
	// Joining: the legacy join is under way (before the room is ready).
	Joining Phase = iota
	// Syncing: the occupants and the self-presence were sent; the history
	// and subject follow. Broadcasts are held back.
	Syncing
	// Joined: in the room; gets every broadcast.
	Joined
)

// Room is a legacy room a user's legacy session is in: the user's own
// occupant, the others, the subject, and which of the user's XMPP
// resources are in it. A second resource joining gets the room replayed
// from here; the legacy network is not asked again.
//
// A Room has no lock: it belongs to the user's owner goroutine, which
// alone may call its methods or touch its fields.
type Room struct {
	ID      transports.ID
	JID     jid.JID            // room@domain
	Adapter transports.Adapter // the legacy session that joined it

	// The user's own occupant: Nick is the nick asked for until the room
	// is ready.
	Nick        string
	Role        transports.Role
	Affiliation transports.Affiliation
	Presence    transports.Presence
	// OccupantID is the user's own (RoomReadyEvent.OccupantID).
	OccupantID string

	// Name is the room's human name (RoomReadyEvent.Name), "" when its
	// ID is its name; Members how many members it has when the join
	// showed only some (0 otherwise).
	Name    string
	Members int
	// OccupantIDs: the network gives occupant IDs, and the room's
	// stanzas carry XEP-0421 occupant-id elements.
	OccupantIDs bool

	ready bool // the network said the join is complete
	// nickChanged: the network said it changed the nick on join, not yet
	// told to the joining resources.
	nickChanged bool

	occupants occupantList // others, by nick (occupants.go)

	subject transports.SubjectEvent
	// subjectSeen is set at the first subject; any goroutine may ask
	// (SubjectSeen, SawSubject).
	subjectSeen transports.Latch

	res []*Resource // the user's resources, one per resourcepart

	reactions reactions
	away      *Away // nil until a message is kept (bouncer mode)
	// archivedAway counts the messages archived while no resource was
	// in the room (archived.go).
	archivedAway int
}

// Occupant is someone else in a room.
type Occupant struct {
	Nick        string
	Role        transports.Role
	Affiliation transports.Affiliation
	Presence    transports.Presence
	Account     string
	// OccupantID is the member's stable ID on the network, "" for none
	// (transports.OccupantEvent.OccupantID).
	OccupantID string
	// Hats are the member's named roles (XEP-0317), in the network's
	// order.
	Hats []transports.Hat

	photo photo // the picture hash last shown (photos.go)
}

// Resource is one of the user's XMPP resources in a room.
type Resource struct {
	Full  jid.JID // the resource's full JID
	Asked string  // the nick it asked for
	Hist  History // its <history/> request

	phase        Phase
	nickModified bool            // its self-presence carries status 210
	pending      []any           // broadcasts held back while syncing
	pendingIDs   map[string]bool // legacy IDs of held-back messages
}

// NewRoom returns the room id at j, joined (or being joined) through
// adapter a as nick, with no resource in it yet.
func NewRoom(id transports.ID, j jid.JID, a transports.Adapter, nick string) *Room {
	return &Room{ID: id, JID: j, Adapter: a, Nick: nick}
}

// OccupantJID is room/nick, or room itself when nick is empty or cannot
// be a resourcepart.
func OccupantJID(room jid.JID, nick string) string {
	if nick == "" {
		return room.String()
	}
	j, err := room.WithResource(nick)
	if err != nil {
		return room.String()
	}
	return j.String()
}

// OccupantJID is the room's occupant JID for nick (see OccupantJID).
func (r *Room) OccupantJID(nick string) string { return OccupantJID(r.JID, nick) }

// Ready reports whether the network said the join is complete.
func (r *Room) Ready() bool { return r.ready }

// SetReady records the user's own occupant as the network gave it at the
// end of a join (an empty nick keeps the one asked for). The first time,
// it marks the room ready, forgets the user's own nick among the others,
// and moves the joining resources to Syncing; it returns those, to which
// the caller replays the room (Others, then the self-presence).
func (r *Room) SetReady(nick string, role transports.Role, aff transports.Affiliation) []*Resource {
	if nick != "" {
		r.Nick = nick
	}
	r.Role, r.Affiliation = role, aff
	if r.ready {
		return nil
	}
	r.ready = true
	r.occupants.remove(r.Nick)
	var synced []*Resource
	for _, rr := range r.Resources() {
		if rr.phase == Joining {
			r.sync(rr)
			synced = append(synced, rr)
		}
	}
	r.nickChanged = false // said to the resources that asked
	return synced
}

func (r *Room) sync(rr *Resource) {
	rr.phase = Syncing
	rr.nickModified = r.nickChanged || rr.Asked != r.Nick
}

// Others returns the other occupants, by nick, as copies.
func (r *Room) Others() []Occupant { return r.sorted(r.Nick) }

// sorted returns the occupants by nick, as copies, but for skip.
func (r *Room) sorted(skip string) []Occupant {
	out := make([]Occupant, 0, len(r.occupants))
	for _, h := range r.occupants {
		if o := h.Value(); o.nick != skip {
			out = append(out, o.occupant())
		}
	}
	return out
}

// ChangeKind says what an occupant event changed.
type ChangeKind int

const (
	// Unchanged: nothing to show (also before the room is ready, when the
	// change is recorded for the replay).
	Unchanged ChangeKind = iota
	// Present: the occupant joined or changed role, affiliation or
	// presence.
	Present
	// Left: the occupant left, was kicked or banned.
	Left
	// Renamed: the occupant changed nick from OldNick.
	Renamed
)

// Change is what an occupant event changed, for the caller to show.
type Change struct {
	Kind     ChangeKind
	Occupant Occupant // after the change; for Left, as it was
	OldNick  string   // Renamed
}

// ApplyOccupant records an event about another occupant (ev.Self false;
// the user's own occupant has SelfLeft, RenameSelf and UpdateSelf) and
// returns what the joined resources should see. Events about the user's
// own nick once the room is ready are ignored: they come with Self.
func (r *Room) ApplyOccupant(ev *transports.OccupantEvent) Change {
	if ev.Self || ev.Nick == "" || r.ready && ev.Nick == r.Nick {
		return Change{}
	}
	switch {
	case ev.Left:
		o, ok := r.occupants.remove(ev.Nick)
		if !r.ready {
			return Change{}
		}
		if !ok {
			o = Occupant{Nick: ev.Nick, Affiliation: ev.Affiliation}
		}
		return Change{Kind: Left, Occupant: o}
	case ev.NewNick != "":
		o, ok := r.occupants.remove(ev.Nick)
		if !ok {
			o = *occupantOf(ev)
		}
		old := o.Nick
		o.Nick = ev.NewNick
		if ev.OccupantID != "" {
			o.OccupantID = ev.OccupantID
		}
		r.occupants.set(&o)
		if !r.ready {
			return Change{}
		}
		return Change{Kind: Renamed, Occupant: o, OldNick: old}
	default:
		n := occupantOf(ev)
		same := r.occupants.shows(n)
		r.occupants.set(n) // the picture last shown is forgotten, as before
		if !r.ready || same {
			return Change{}
		}
		return Change{Kind: Present, Occupant: *n}
	}
}

func occupantOf(ev *transports.OccupantEvent) *Occupant {
	return &Occupant{Nick: ev.Nick, Role: ev.Role, Affiliation: ev.Affiliation, Presence: ev.Presence, Account: ev.Account, OccupantID: ev.OccupantID,
		Hats: slices.Clone(ev.Hats)}
}

// RenameSelf records the user's new nick and returns the old one; show is
// false before the room is ready (the replay says the nick).
func (r *Room) RenameSelf(nick string) (old string, show bool) {
	old, r.Nick = r.Nick, nick
	return old, r.ready
}

// UpdateSelf records a change of the user's own occupant (role,
// affiliation, presence; before the room is ready also the nick, and
// whether the network changed it). show is true when the joined resources
// should see their new self-presence.
func (r *Room) UpdateSelf(ev *transports.OccupantEvent) (show bool) {
	r.Role, r.Affiliation, r.Presence = ev.Role, ev.Affiliation, ev.Presence
	if ev.NickChangedByServer {
		r.nickChanged = true
	}
	if !r.ready {
		if ev.Nick != "" {
			r.Nick = ev.Nick
		}
		return false
	}
	return true
}

// Subject is the room's subject as last set (zero before any).
func (r *Room) Subject() transports.SubjectEvent { return r.subject }

// SetSubject records the subject; the first one ends the wait on
// SubjectSeen.
func (r *Room) SetSubject(ev transports.SubjectEvent) {
	r.subject = ev
	r.subjectSeen.Set()
}

// SubjectSeen is closed once the room has had a subject. Unlike the
// rest of the room it may be asked for and waited on by any goroutine.
// The channel is made when first asked for, not with every room.
func (r *Room) SubjectSeen() <-chan struct{} { return r.subjectSeen.Done() }

// SawSubject reports whether the room has had a subject. Any goroutine
// may ask.
func (r *Room) SawSubject() bool { return r.subjectSeen.IsSet() }

// --- the user's resources ------------------------------------------------

// Resource returns the user's resource named res in the room, or nil.
func (r *Room) Resource(res string) *Resource {
	if i := r.resIndex(res); i >= 0 {
		return r.res[i]
	}
	return nil
}

// resIndex returns where the resource named res is in r.res, -1 for
// nowhere. A user has a resource or two in a room: a slice searched in
// order costs less than a map.
func (r *Room) resIndex(res string) int {
	return slices.IndexFunc(r.res, func(rr *Resource) bool { return rr.Full.Resourcepart() == res })
}

// Join adds a resource that asked for nick with history request h, as
// Joining: the first one, while the legacy join is under way.
func (r *Room) Join(full jid.JID, nick string, h History) *Resource {
	rr := &Resource{Full: full, Asked: nick, Hist: h, phase: Joining}
	if i := r.resIndex(full.Resourcepart()); i >= 0 {
		r.res[i] = rr
	} else {
		r.res = append(r.res, rr)
	}
	return rr
}

// JoinAgain adds another resource to a room the user's session is in
// already, as Syncing: the caller replays the room to it.
func (r *Room) JoinAgain(full jid.JID, nick string, h History) *Resource {
	rr := r.Join(full, nick, h)
	r.sync(rr)
	return rr
}

// Leave removes the resource named res; rr is nil when it was not in the
// room, and empty is true when no resource is left.
func (r *Room) Leave(res string) (rr *Resource, empty bool) {
	if i := r.resIndex(res); i >= 0 {
		rr = r.res[i]
		r.res = slices.Delete(r.res, i, i+1)
	}
	if len(r.res) == 0 {
		r.res = nil // released with the last resource
	}
	return rr, len(r.res) == 0
}

// Empty reports whether none of the user's resources is in the room
// (bouncer mode, or before the first join).
func (r *Room) Empty() bool { return len(r.res) == 0 }

// Resources returns the user's resources in the room, in a stable order.
func (r *Room) Resources() []*Resource {
	out := make([]*Resource, 0, len(r.res))
	for _, rr := range r.res {
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Full.String() < out[j].Full.String() })
	return out
}

// InPhase returns the resources in phase p, in Resources' order.
func (r *Room) InPhase(p Phase) []*Resource {
	var out []*Resource
	for _, rr := range r.Resources() {
		if rr.phase == p {
			out = append(out, rr)
		}
	}
	return out
}

// Told returns the resources that were told they are in the room
// (Syncing or Joined), in Resources' order.
func (r *Room) Told() []*Resource {
	var out []*Resource
	for _, rr := range r.Resources() {
		if rr.phase != Joining {
			out = append(out, rr)
		}
	}
	return out
}

// DropResources takes every resource out of the room, as when the legacy
// session left it, and returns those that were told they are in (Told):
// the caller tells them they are out. Joining resources learn it from
// their failed join.
func (r *Room) DropResources() []*Resource {
	told := r.Told()
	r.res = nil
	return told
}

// Broadcast builds a stanza per resource: those Joined get it now (the
// result, in Resources' order), those Syncing later, from Flush.
// legacyID, if any, is the legacy ID of a message, so that the history
// sent at the end of the join does not repeat it (Held).
func (r *Room) Broadcast(legacyID string, build func(to jid.JID) any) (now []any) {
	for _, rr := range r.Resources() {
		switch rr.phase {
		case Joined:
			now = append(now, build(rr.Full))
		case Syncing:
			rr.pending = append(rr.pending, build(rr.Full))
			if legacyID != "" {
				if rr.pendingIDs == nil {
					rr.pendingIDs = make(map[string]bool)
				}
				rr.pendingIDs[legacyID] = true
			}
		}
	}
	return now
}

// Phase is where the resource is in joining.
func (rr *Resource) Phase() Phase { return rr.phase }

// NickModified reports whether the resource's self-presence carries
// status 210: the nick it has is not the one it asked for.
func (rr *Resource) NickModified() bool { return rr.nickModified }

// Held reports whether the message with legacyID was held back for the
// resource, to leave it out of the history.
func (rr *Resource) Held(legacyID string) bool { return rr.pendingIDs[legacyID] }

// Flush ends the resource's join: it returns the stanzas held back while
// it was syncing, oldest first, and moves it to Joined.
func (rr *Resource) Flush() []any {
	out := rr.pending
	rr.pending, rr.pendingIDs = nil, nil
	rr.phase = Joined
	return out
}

// --- away backlog --------------------------------------------------------

// KeepAway keeps a message said while no resource is in the room.
func (r *Room) KeepAway(ev transports.MessageEvent) {
	if r.away == nil {
		r.away = new(Away)
	}
	r.away.Add(ev)
}

// TakeAway returns the messages kept while no resource was in the room
// and starts a new, empty backlog (none kept until the next message).
func (r *Room) TakeAway() Away {
	if r.away == nil {
		return Away{}
	}
	a := *r.away
	r.away = nil
	return a
}

// --- admin ---------------------------------------------------------------

// Filter returns the occupants the room lists (muc#admin items, by nick) whose
// shown role is role and affiliation is aff; an empty string matches any.
// Legacy networks give no lists of absent members: this is what the
// room shows.
func (r *Room) Filter(role, aff string) []Item {
	var out []Item
	for _, o := range r.sorted("") {
		ro, af := PresentRole(o.Role), AffName(o.Affiliation)
		if role != "" && ro != role || aff != "" && af != aff {
			continue
		}
		out = append(out, Item{Nick: o.Nick, Role: ro, Affiliation: af})
	}
	return out
}

// --- a user's rooms ------------------------------------------------------

// Rooms is the set of rooms one user's legacy session is in. Like Room it
// has no lock: it belongs to the user's owner goroutine.
type Rooms struct {
	// rooms is sorted by ID: a user is in a few rooms, and a sorted
	// slice holds them in a pointer each where a map costs a few hundred
	// bytes even for one. nil when empty.
	rooms []*Room
	// Anon is set while the user has an anonymous legacy session the
	// component started for their joins.
	Anon bool
}

// NewRooms returns an empty set.
func NewRooms() *Rooms { return &Rooms{} }

// find returns where the room id is, or would be inserted, and whether it
// is there.
func (u *Rooms) find(id transports.ID) (int, bool) {
	return slices.BinarySearchFunc(u.rooms, id, func(r *Room, id transports.ID) int {
		return strings.Compare(string(r.ID), string(id))
	})
}

// Get returns the room id, or nil.
func (u *Rooms) Get(id transports.ID) *Room {
	if i, ok := u.find(id); ok {
		return u.rooms[i]
	}
	return nil
}

// Put adds r, replacing the room with its ID.
func (u *Rooms) Put(r *Room) {
	i, ok := u.find(r.ID)
	if ok {
		u.rooms[i] = r
		return
	}
	u.rooms = slices.Insert(u.rooms, i, r)
}

// PutNew adds r unless a room with its ID is there; it reports whether it
// did.
func (u *Rooms) PutNew(r *Room) bool {
	i, ok := u.find(r.ID)
	if ok {
		return false
	}
	u.rooms = slices.Insert(u.rooms, i, r)
	return true
}

// Has reports whether r is (still) the user's room with its ID: a room
// that was left, dropped or joined anew meanwhile is not.
func (u *Rooms) Has(r *Room) bool { return r != nil && u.Get(r.ID) == r }

// Remove removes r if it is the room with its ID; it reports whether it
// did.
func (u *Rooms) Remove(r *Room) bool {
	i, ok := u.find(r.ID)
	if !ok || u.rooms[i] != r {
		return false
	}
	u.rooms = slices.Delete(u.rooms, i, i+1)
	if len(u.rooms) == 0 {
		u.rooms = nil // released with the last room
	}
	return true
}

// Len is the number of rooms.
func (u *Rooms) Len() int { return len(u.rooms) }

// All returns the rooms by ID.
func (u *Rooms) All() []*Room { return slices.Clone(u.rooms) }

// Full reports whether the user is in limit rooms or more, so that a new
// join is refused; n is the number of rooms.
func (u *Rooms) Full(limit int) (n int, full bool) {
	return len(u.rooms), len(u.rooms) >= limit
}

// Idle reports whether the set holds no room and no anonymous session,
// so that it may be forgotten.
func (u *Rooms) Idle() bool { return len(u.rooms) == 0 && !u.Anon }

// occupant returns a copy of the other occupant with nick, nil for none.
func (r *Room) occupant(nick string) *Occupant {
	o, ok := r.occupants.get(nick)
	if !ok {
		return nil
	}
	return &o
}
