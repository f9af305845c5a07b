package transportstest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// RoomNetwork is a fake network with group chats, IRC-like:
//
//   - IDs starting with '#' are rooms, IDs containing '.' are servers,
//     everything else is a contact (transports.Addresser);
//   - it can be used without registration (transports.AnonymousNetwork):
//     the anonymous account connects with the MUC nick;
//   - its adapters implement Rooms, Moderator, History, RoomLister,
//     Reactor, Typer and RoomSubject, and its Capabilities say so (with
//     ConferenceType "irc").
//
// Joining "#banned" fails with ErrForbidden, the nick "taken" (or a seeded
// occupant's nick) with ErrConflict, nicks longer than MaxNickLen are
// truncated by the "server". Other rooms hold the occupants given with
// SeedRoom, by default "alice" (moderator, admin) and "bob" (participant),
// and a topic set by alice.
type RoomNetwork struct {
	*Network
}

// MaxNickLen is the longest nick the fake rooms accept as is; longer nicks
// are cut, as an IRC server with NICKLEN does.
const MaxNickLen = 16

// RoomSeed is the state a fake room has when the user joins it.
type RoomSeed struct {
	Occupants []transports.OccupantEvent
	Topic     string
	TopicBy   string
	// OwnRole is the role the user gets on joining (default participant).
	OwnRole transports.Role
	// History is what History returns (oldest first).
	History []transports.MessageEvent
	// NoHistory makes History fail with ErrUnsupported, like an IRC
	// server without chathistory.
	NoHistory bool
	// Name and OwnOccupantID are the RoomReadyEvent's Name and
	// OccupantID.
	Name          string
	OwnOccupantID string
}

// NewRooms returns a fake network with rooms and the given username →
// password accounts.
func NewRooms(accounts map[string]string) *RoomNetwork {
	n := New(accounts)
	n.Caps.Rooms = true
	n.Caps.RoomListing = true
	n.Caps.AnonymousJoin = true
	n.Caps.ConferenceType = "irc"
	n.Caps.ChatStates = true
	n.Caps.Reactions = true
	n.Caps.Replies = true
	return &RoomNetwork{Network: n}
}

// Kind implements transports.Addresser.
func (n *RoomNetwork) Kind(id transports.ID) (transports.IDKind, error) {
	s := string(id)
	switch {
	case s == "" || strings.ContainsAny(s, " \r\n"):
		return 0, fmt.Errorf("%w: %q is not a valid name", transports.ErrInvalidInput, s)
	case strings.HasPrefix(s, "#"):
		return transports.KindRoom, nil
	case strings.Contains(s, "."):
		return transports.KindServer, nil
	}
	return transports.KindContact, nil
}

// AnonymousAccount implements transports.AnonymousNetwork.
func (n *RoomNetwork) AnonymousAccount(user string, room transports.ID, nick string) (transports.Account, error) {
	if nick == "" {
		return transports.Account{}, fmt.Errorf("%w: a nick is required", transports.ErrInvalidInput)
	}
	return transports.Account{User: user, Credentials: transports.Credentials{"anonymous": "true", "nick": nick}}, nil
}

// SeedRoom sets the state of room for joins that happen later.
func (n *Network) SeedRoom(room transports.ID, seed RoomSeed) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seeds == nil {
		n.seeds = make(map[transports.ID]RoomSeed)
	}
	n.seeds[room] = seed
}

func (n *Network) seed(room transports.ID) RoomSeed {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.seeds[room]; ok {
		return s
	}
	return RoomSeed{
		Occupants: []transports.OccupantEvent{
			{Room: room, Nick: "alice", Role: transports.RoleModerator, Affiliation: transports.AffiliationAdmin, Account: "alice"},
			{Room: room, Nick: "bob", Role: transports.RoleParticipant},
		},
		Topic:   "Welcome to " + string(room),
		TopicBy: "alice",
	}
}

// SetRoomList sets what ListRooms returns for server.
func (n *Network) SetRoomList(server transports.ID, rooms []transports.RoomInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listings == nil {
		n.listings = make(map[transports.ID][]transports.RoomInfo)
	}
	n.listings[server] = rooms
}

// ListCalls counts ListRooms calls on all adapters.
func (n *Network) ListCalls() int64 { return n.listCalls.Load() }

// fakeRoom is a room an adapter is in.
type fakeRoom struct {
	nick      string
	role      transports.Role
	occupants map[string]transports.OccupantEvent
}

// Kick is a Kick, SetRole or SetAffiliation call an adapter received.
type Kick struct {
	Room        transports.ID
	Nick        string
	Reason      string
	Role        transports.Role        // SetRole
	Affiliation transports.Affiliation // SetAffiliation
	Op          string                 // "kick", "role", "affiliation"
}

// Reaction is a React call an adapter received.
type Reaction struct {
	To       transports.ID
	Target   transports.RemoteID
	Reaction string
	Remove   bool
}

// Typing is a SetTyping call an adapter received.
type Typing struct {
	To    transports.ID
	State transports.ChatState
}

func (a *Adapter) roomsMap() map[transports.ID]*fakeRoom {
	if a.rooms == nil {
		a.rooms = make(map[transports.ID]*fakeRoom)
	}
	return a.rooms
}

// JoinRoom implements transports.Rooms.
func (a *Adapter) JoinRoom(ctx context.Context, room transports.ID, nick string) error {
	if a.Closed() {
		return transports.ErrNotConnected
	}
	if !strings.HasPrefix(string(room), "#") {
		return fmt.Errorf("%w: %s: not a channel", transports.ErrNotFound, room)
	}
	if nick == "" || strings.ContainsAny(nick, " ,*?!@") {
		return fmt.Errorf("%w: %s: Erroneous nickname", transports.ErrInvalidInput, nick)
	}
	if room == "#banned" {
		return fmt.Errorf("%w: %s: Cannot join channel (+b)", transports.ErrForbidden, room)
	}
	seed := a.net.seed(room)
	if nick == "taken" {
		return fmt.Errorf("%w: %s: Nickname is already in use", transports.ErrConflict, nick)
	}
	for _, o := range seed.Occupants {
		if strings.EqualFold(o.Nick, nick) {
			return fmt.Errorf("%w: %s: Nickname is already in use", transports.ErrConflict, nick)
		}
	}
	got := nick
	if len(got) > MaxNickLen {
		got = got[:MaxNickLen]
	}
	role := seed.OwnRole
	if role == transports.RoleNone {
		role = transports.RoleParticipant
	}
	fr := &fakeRoom{nick: got, role: role, occupants: make(map[string]transports.OccupantEvent)}
	a.mu.Lock()
	a.roomsMap()[room] = fr
	a.joins = append(a.joins, room)
	for _, o := range seed.Occupants {
		o.Room = room
		fr.occupants[o.Nick] = o
	}
	a.mu.Unlock()
	for _, o := range seed.Occupants {
		o.Room = room
		a.sink.Deliver(&o)
	}
	a.sink.Deliver(&transports.RoomReadyEvent{Room: room, Nick: got, Role: role, Name: seed.Name, OccupantID: seed.OwnOccupantID})
	a.sink.Deliver(&transports.SubjectEvent{Room: room, Subject: seed.Topic, Nick: seed.TopicBy})
	return nil
}

// LeaveRoom implements transports.Rooms.
func (a *Adapter) LeaveRoom(ctx context.Context, room transports.ID) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.rooms[room]; !ok {
		return fmt.Errorf("%w: %s: You're not on that channel", transports.ErrNotFound, room)
	}
	delete(a.rooms, room)
	a.left = append(a.left, room)
	return nil
}

// Joined reports whether the adapter is in room.
func (a *Adapter) Joined(room transports.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.rooms[room]
	return ok
}

// Joins returns the rooms JoinRoom was called for, in order.
func (a *Adapter) Joins() []transports.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.joins)
}

// Left returns the rooms LeaveRoom left, in order.
func (a *Adapter) Left() []transports.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.left)
}

// Nick returns the user's nick in room, or "".
func (a *Adapter) Nick(room transports.ID) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.rooms[room]; r != nil {
		return r.nick
	}
	return ""
}

// Kicks returns the moderation calls the adapter received.
func (a *Adapter) Kicks() []Kick {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.kicks)
}

// Reactions returns the React calls the adapter received.
func (a *Adapter) Reactions() []Reaction {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reactions)
}

// Typings returns the SetTyping calls the adapter received.
func (a *Adapter) Typings() []Typing {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.typings)
}

// sendRoom handles Send to a room: the message is echoed (Own, EchoOf),
// as IRCv3 echo-message does.
func (a *Adapter) sendRoom(m transports.Message, id transports.RemoteID, atts ...transports.Attachment) error {
	a.mu.Lock()
	r := a.rooms[m.To]
	nick := ""
	if r != nil {
		nick = r.nick
	}
	a.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: %s: Cannot send to channel", transports.ErrForbidden, m.To)
	}
	a.sink.Deliver(&transports.MessageEvent{
		From: m.To, Room: true, Nick: nick, RemoteID: id, Body: m.Body, Action: m.Action,
		Own: true, EchoOf: m.ID, ReplyTo: m.ReplyTo, Time: time.Now(), Attachments: atts,
	})
	return nil
}

func (a *Adapter) moderate(room transports.ID, nick string) (*fakeRoom, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.rooms[room]
	if r == nil {
		return nil, fmt.Errorf("%w: %s: You're not on that channel", transports.ErrNotFound, room)
	}
	if r.role != transports.RoleModerator {
		return nil, fmt.Errorf("%w: %s: You're not channel operator", transports.ErrForbidden, room)
	}
	if _, ok := r.occupants[nick]; !ok {
		return nil, fmt.Errorf("%w: %s: They aren't on that channel", transports.ErrNotFound, nick)
	}
	return r, nil
}

// Kick implements transports.Moderator.
func (a *Adapter) Kick(ctx context.Context, room transports.ID, nick, reason string) error {
	r, err := a.moderate(room, nick)
	if err != nil {
		return err
	}
	a.mu.Lock()
	delete(r.occupants, nick)
	a.kicks = append(a.kicks, Kick{Op: "kick", Room: room, Nick: nick, Reason: reason})
	by := r.nick
	a.mu.Unlock()
	a.sink.Deliver(&transports.OccupantEvent{Room: room, Nick: nick, Left: true, Kicked: true, By: by, Reason: reason})
	return nil
}

// SetRole implements transports.Moderator.
func (a *Adapter) SetRole(ctx context.Context, room transports.ID, nick string, role transports.Role) error {
	r, err := a.moderate(room, nick)
	if err != nil {
		return err
	}
	a.mu.Lock()
	o := r.occupants[nick]
	o.Role = role
	r.occupants[nick] = o
	a.kicks = append(a.kicks, Kick{Op: "role", Room: room, Nick: nick, Role: role})
	a.mu.Unlock()
	a.sink.Deliver(&o)
	return nil
}

// SetAffiliation implements transports.Moderator.
func (a *Adapter) SetAffiliation(ctx context.Context, room transports.ID, nick string, aff transports.Affiliation) error {
	r, err := a.moderate(room, nick)
	if err != nil {
		return err
	}
	a.mu.Lock()
	o := r.occupants[nick]
	o.Affiliation = aff
	ev := o
	if aff == transports.AffiliationOutcast {
		delete(r.occupants, nick)
		ev = transports.OccupantEvent{Room: room, Nick: nick, Left: true, Banned: true, By: r.nick, Affiliation: aff}
	} else {
		r.occupants[nick] = o
	}
	a.kicks = append(a.kicks, Kick{Op: "affiliation", Room: room, Nick: nick, Affiliation: aff})
	a.mu.Unlock()
	a.sink.Deliver(&ev)
	return nil
}

// History implements transports.History: the seeded history since since,
// the last max messages.
func (a *Adapter) History(ctx context.Context, room transports.ID, since time.Time, max int) ([]transports.MessageEvent, error) {
	seed := a.net.seed(room)
	if seed.NoHistory {
		return nil, fmt.Errorf("%w: %s keeps no history", transports.ErrUnsupported, room)
	}
	var out []transports.MessageEvent
	for _, m := range seed.History {
		if !since.IsZero() && m.Time.Before(since) {
			continue
		}
		m.From, m.Room = room, true
		out = append(out, m)
	}
	if max >= 0 && len(out) > max {
		out = out[len(out)-max:]
	}
	return out, nil
}

// ListRooms implements transports.RoomLister: the list set with
// SetRoomList, or five rooms "#room1".."#room5".
func (a *Adapter) ListRooms(ctx context.Context, server transports.ID) ([]transports.RoomInfo, error) {
	a.net.listCalls.Add(1)
	if server == "down.example" {
		return nil, fmt.Errorf("%w: %s: connection refused", transports.ErrUnavailable, server)
	}
	a.net.mu.Lock()
	list, ok := a.net.listings[server]
	a.net.mu.Unlock()
	if ok {
		return slices.Clone(list), nil
	}
	for i := 1; i <= 5; i++ {
		id := "#room" + strconv.Itoa(i)
		list = append(list, transports.RoomInfo{ID: transports.ID(id), Name: id, Members: 10 * i, Topic: "Topic " + strconv.Itoa(i)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list, nil
}

// React implements transports.Reactor; reactions in rooms are echoed.
func (a *Adapter) React(ctx context.Context, to transports.ID, target transports.RemoteID, reaction string, remove bool) error {
	a.mu.Lock()
	a.reactions = append(a.reactions, Reaction{To: to, Target: target, Reaction: reaction, Remove: remove})
	r := a.rooms[to]
	a.mu.Unlock()
	if r != nil {
		a.sink.Deliver(&transports.ReactionEvent{From: to, Room: true, Nick: r.nick, Target: target, Reaction: reaction, Remove: remove})
	}
	return nil
}

// SetTyping implements transports.Typer.
func (a *Adapter) SetTyping(ctx context.Context, to transports.ID, state transports.ChatState) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.typings = append(a.typings, Typing{To: to, State: state})
	return nil
}

// SetSubject implements transports.RoomSubject; the change is echoed.
func (a *Adapter) SetSubject(ctx context.Context, room transports.ID, subject string) error {
	a.mu.Lock()
	r := a.rooms[room]
	a.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: %s: You're not on that channel", transports.ErrNotFound, room)
	}
	a.sink.Deliver(&transports.SubjectEvent{Room: room, Subject: subject, Nick: r.nick, Time: time.Now()})
	return nil
}

var (
	_ transports.Network          = (*RoomNetwork)(nil)
	_ transports.Addresser        = (*RoomNetwork)(nil)
	_ transports.AnonymousNetwork = (*RoomNetwork)(nil)
	_ transports.Rooms            = (*Adapter)(nil)
	_ transports.Moderator        = (*Adapter)(nil)
	_ transports.History          = (*Adapter)(nil)
	_ transports.RoomLister       = (*Adapter)(nil)
	_ transports.Reactor          = (*Adapter)(nil)
	_ transports.Typer            = (*Adapter)(nil)
	_ transports.RoomSubject      = (*Adapter)(nil)
)
