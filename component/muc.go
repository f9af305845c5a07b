package component

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The MUC service side (XEP-0045) for networks whose adapters implement
// transports.Rooms, modelled on biboumi: a legacy room is room@domain, an
// occupant room@domain/nick.
//
// State. For every user the component keeps the rooms their legacy
// session is in (userRooms): the occupant list, the user's own nick, role
// and affiliation, the subject, and which of the user's XMPP resources are
// joined. A second resource joining a room gets the state replayed from
// this cache; the legacy network is not asked again (only for history).
//
// Goroutines. The user's room state is owned by their owner goroutine
// (c.owners): legacy events run there (userSink.Deliver hands them over),
// and so do the state steps of the user's room stanzas, which themselves
// run in the user's lane (c.lanes), in order: joins, leaves, group chat
// messages, admin requests. A stanza's work reads and changes the state
// only inside c.own, and waits for the legacy network (JoinRoom, History,
// Send) outside it; owner work never waits for the network, so that a
// replay and a live event never interleave and no lock is needed.
// JoinRoom returns only after its events were delivered.
//
// Join (XEP-0045 §7.2). The joining resource gets every other occupant's
// presence, then its own with status 110 (and 210 when the network gave
// another nick than the one asked for), then the history (when the
// adapter implements transports.History), then the subject, always,
// possibly empty. Live traffic that arrives meanwhile is held back and
// follows the subject.
//
// Leave. A resource that leaves gets its unavailable presence (110). When
// the last one left, the legacy room is left too, unless the user is
// registered, keeps their session while offline (stay_connected) and, two
// seconds later, has no available resource at all: their client went
// offline, and the room stays joined (bouncer mode) so that highlights
// reach them as offline messages. Other chatter meanwhile is not stored:
// the network's history (IRC chathistory) brings it back on rejoin.
//
// Sending. Room stanzas go to the joined resources' full JIDs straight
// away, or through the outbox when the stream is down.

// Phases of a joined resource.
type mucPhase int

const (
	// phaseJoining: the legacy join is under way (before RoomReadyEvent).
	phaseJoining mucPhase = iota
	// phaseSyncing: the occupants and the self-presence were sent; the
	// history and subject follow. Broadcasts are held back.
	phaseSyncing
	// phaseJoined: in the room; gets every broadcast.
	phaseJoined
)

const (
	// joinTimeout bounds a legacy join.
	joinTimeout = 45 * time.Second
	// connectWait bounds the wait for a legacy session to come up when a
	// join needs one.
	connectWait = 30 * time.Second
	// subjectWait bounds the wait for the subject after a join, for
	// networks that would not send one.
	subjectWait = 3 * time.Second
	// leaveGrace is how long after the last resource left a room the
	// component looks whether the user went offline (bouncer mode).
	leaveGrace = 2 * time.Second
	// defaultHistory is the number of history messages sent on join when
	// the client does not say; maxHistory is the most ever fetched.
	defaultHistory = 20
	maxHistory     = 100
	// reactionTargets bounds the reactions remembered per room.
	reactionTargets = 500
	// awayMessages and awayBytes bound the chatter kept per room while
	// the user is away (bouncer mode).
	awayMessages = 100
	awayBytes    = 64 << 10
)

// mucService holds the MUC state of all users. mu guards the map only: a
// user's entry and everything in it belong to the user's owner goroutine.
type mucService struct {
	mu    sync.Mutex
	users map[string]*userRooms

	listMu sync.Mutex
	lists  map[string]roomList // user + "\x00" + server
}

func newMUCService() *mucService {
	return &mucService{users: make(map[string]*userRooms), lists: make(map[string]roomList)}
}

// roomList is a legacy server's room list, as fetched at a time.
type roomList struct {
	at    time.Time
	rooms []transports.RoomInfo
}

// userRooms is one user's rooms, owned by the user's owner goroutine.
type userRooms struct {
	rooms map[transports.ID]*mucRoom
	// anon is set while the user has an anonymous legacy session the
	// component started for their joins (Capabilities.AnonymousJoin).
	anon bool
}

// user returns user's rooms, creating the entry. Owner work only.
func (m *mucService) user(user string) *userRooms {
	m.mu.Lock()
	defer m.mu.Unlock()
	ur := m.users[user]
	if ur == nil {
		ur = &userRooms{rooms: make(map[transports.ID]*mucRoom)}
		m.users[user] = ur
	}
	return ur
}

// get returns user's rooms, or nil. Owner work only.
func (m *mucService) get(user string) *userRooms {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.users[user]
}

// mucRoom is a room a user's legacy session is in.
type mucRoom struct {
	id      transports.ID
	jid     jid.JID // room@domain
	adapter transports.Adapter

	nick     string // the user's nick (asked for, until RoomReadyEvent)
	role     transports.Role
	aff      transports.Affiliation
	presence transports.Presence
	ready    bool // RoomReadyEvent seen
	// nickChanged: the network said it changed the nick on join.
	nickChanged bool

	occupants map[string]*occupant // others, by nick

	subject     transports.SubjectEvent
	subjectSeen chan struct{} // closed at the first SubjectEvent

	res map[string]*mucResource // the user's resources, by resourcepart

	reactions reactionCache

	// away is the room's chatter while none of the user's resources is in
	// it (bouncer mode), replayed at the next join as history when the
	// network has none.
	away awayBacklog
}

// occupant is someone else in a room.
type occupant struct {
	nick     string
	role     transports.Role
	aff      transports.Affiliation
	presence transports.Presence
	account  string
}

// mucResource is one of the user's resources in a room.
type mucResource struct {
	full       jid.JID
	phase      mucPhase
	asked      string // the nick it asked for
	hist       historyRequest
	pending    []any           // broadcasts held back while syncing
	pendingIDs map[string]bool // legacy IDs of held-back messages
}

func newRoom(id transports.ID, j jid.JID, a transports.Adapter, nick string) *mucRoom {
	return &mucRoom{
		id: id, jid: j, adapter: a, nick: nick,
		occupants:   make(map[string]*occupant),
		subjectSeen: make(chan struct{}),
		res:         make(map[string]*mucResource),
	}
}

func (r *mucRoom) sawSubject() bool {
	select {
	case <-r.subjectSeen:
		return true
	default:
		return false
	}
}

// resources returns the room's resources in a stable order.
func (r *mucRoom) resources() []*mucResource {
	out := make([]*mucResource, 0, len(r.res))
	for _, rr := range r.res {
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].full.String() < out[j].full.String() })
	return out
}

// occupantJID is room@domain/nick, or the room's JID when nick cannot be a
// resourcepart.
func (r *mucRoom) occupantJID(nick string) string {
	if nick == "" {
		return r.jid.String()
	}
	j, err := r.jid.WithResource(nick)
	if err != nil {
		return r.jid.String()
	}
	return j.String()
}

// kindOf says what a legacy ID names; networks without an Addresser have
// only contacts.
func (c *Component) kindOf(id transports.ID) (transports.IDKind, error) {
	if a, ok := c.net.(transports.Addresser); ok {
		return a.Kind(id)
	}
	return transports.KindContact, nil
}

// isRoom reports whether j is the JID (bare or occupant) of a legacy room.
func (c *Component) isRoom(j jid.JID) (transports.ID, bool) {
	id, err := legacyID(j)
	if err != nil {
		return "", false
	}
	k, err := c.kindOf(id)
	return id, err == nil && k == transports.KindRoom
}

// mucSend writes a room stanza to the stream, or to the outbox when the
// stream is down.
func (c *Component) mucSend(ctx context.Context, v any) {
	err := c.send(ctx, v)
	if err == nil {
		return
	}
	if err2 := c.queue(ctx, v); err2 != nil {
		c.log.Warn("room stanza lost", "send_err", err, "store_err", err2)
	}
}

// after runs job in user's lane once d has passed, unless the component
// stops first.
func (c *Component) after(d time.Duration, user string, job func(ctx context.Context)) {
	ctx := c.ctx()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.lanes.Post(ctx, user, job)
	}()
}

// --- presences -----------------------------------------------------------

func (c *Component) occupantPresence(r *mucRoom, o *occupant, to jid.JID) *outPresence {
	p := &outPresence{From: r.occupantJID(o.nick), To: to.String(), Show: o.presence.Show.String(), Status: o.presence.Status}
	p.Extra = []any{&mucUserX{Item: &mucItem{Affiliation: affName(o.aff), Role: presentRole(o.role)}}}
	return p
}

func (c *Component) selfPresence(r *mucRoom, to jid.JID, codes ...int) *outPresence {
	p := &outPresence{From: r.occupantJID(r.nick), To: to.String(), Show: r.presence.Show.String(), Status: r.presence.Status}
	p.Extra = []any{&mucUserX{
		Item:   &mucItem{Affiliation: affName(r.aff), Role: presentRole(r.role)},
		Status: statuses(append([]int{statusSelf}, codes...)...),
	}}
	return p
}

// selfUnavailable tells a resource it is out of the room.
func (c *Component) selfUnavailable(r *mucRoom, nick string, to jid.JID, status string, item *mucItem, codes ...int) *outPresence {
	if item == nil {
		item = &mucItem{}
	}
	item.Affiliation, item.Role = affName(r.aff), "none"
	return &outPresence{Type: "unavailable", From: r.occupantJID(nick), To: to.String(), Status: status,
		Extra: []any{&mucUserX{Item: item, Status: statuses(append([]int{statusSelf}, codes...)...)}}}
}

func (c *Component) subjectMessage(r *mucRoom, to jid.JID) *outMessage {
	from := r.jid.String()
	if r.subject.Nick != "" {
		from = r.occupantJID(r.subject.Nick)
	}
	m := &outMessage{Type: "groupchat", ID: newID(), From: from, To: to.String(), Extra: []any{&subjectElem{Text: r.subject.Subject}}}
	if !r.subject.Time.IsZero() {
		m.Delay = &delayElem{From: r.jid.String(), Stamp: r.subject.Time.UTC().Format(time.RFC3339Nano)}
	}
	return m
}

// replay sends rr the occupants and its own presence, and moves it
// to phaseSyncing.
func (c *Component) replay(ctx context.Context, r *mucRoom, rr *mucResource) {
	nicks := make([]string, 0, len(r.occupants))
	for n := range r.occupants {
		nicks = append(nicks, n)
	}
	sort.Strings(nicks)
	for _, n := range nicks {
		if n == r.nick {
			continue
		}
		c.mucSend(ctx, c.occupantPresence(r, r.occupants[n], rr.full))
	}
	var codes []int
	if r.nickChanged || rr.asked != r.nick {
		codes = append(codes, statusNickModified)
	}
	c.mucSend(ctx, c.selfPresence(r, rr.full, codes...))
	rr.phase = phaseSyncing
}

// broadcast sends build's stanza to every joined resource of r and
// holds it back for those still syncing. legacyID, if any, is the legacy
// message ID of a message, so that history does not repeat it.
func (c *Component) broadcast(ctx context.Context, r *mucRoom, legacyID string, build func(to jid.JID) any) {
	for _, rr := range r.resources() {
		switch rr.phase {
		case phaseJoined:
			c.mucSend(ctx, build(rr.full))
		case phaseSyncing:
			rr.pending = append(rr.pending, build(rr.full))
			if legacyID != "" {
				if rr.pendingIDs == nil {
					rr.pendingIDs = make(map[string]bool)
				}
				rr.pendingIDs[legacyID] = true
			}
		}
	}
}

// --- joining -------------------------------------------------------------

// historyRequest is a join's <history/> (XEP-0045 §7.2.13).
type historyRequest struct {
	given                         bool
	maxStanzas, maxChars, seconds int // -1: not given
	since                         time.Time
}

func parseHistory(x *node) historyRequest {
	h := historyRequest{maxStanzas: -1, maxChars: -1, seconds: -1}
	el := x.Child("", "history")
	if el == nil {
		return h
	}
	h.given = true
	num := func(name string) int {
		if v := el.Attr(name); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return n
			}
		}
		return -1
	}
	h.maxStanzas, h.maxChars, h.seconds = num("maxstanzas"), num("maxchars"), num("seconds")
	if v := el.Attr("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			h.since = t
		}
	}
	return h
}

// params turns the request into History arguments; ok is false when no
// history is wanted.
func (h historyRequest) params(now time.Time) (since time.Time, max int, ok bool) {
	if h.maxStanzas == 0 || h.maxChars == 0 {
		return time.Time{}, 0, false
	}
	max = defaultHistory
	if h.given && (h.seconds >= 0 || !h.since.IsZero()) {
		max = maxHistory
	}
	if h.maxStanzas > 0 {
		max = min(h.maxStanzas, maxHistory)
	}
	since = h.since
	if h.seconds >= 0 {
		if s := now.Add(-time.Duration(h.seconds) * time.Second); s.After(since) {
			since = s
		}
	}
	return since, max, true
}

// roomPresence handles a presence to a room or occupant JID. It reports
// false when the presence is not a MUC matter (a contact's JID), so that
// the caller handles it. It runs in the user's lane.
func (c *Component) roomPresence(s *stanza) bool {
	id, err := legacyID(s.to)
	if err != nil {
		return false
	}
	join := s.Child(nsMUC, "x") != nil && s.typ == ""
	kind, err := c.kindOf(id)
	if err != nil {
		if join {
			c.mucError(s, errorf("modify", "jid-malformed", "%v", err))
			return true
		}
		return false
	}
	if kind != transports.KindRoom {
		if join {
			what := "a contact"
			if kind == transports.KindServer {
				what = "a server"
			}
			c.mucError(s, errorf("cancel", "item-not-found", "%s is %s, not a room.", id, what))
			return true
		}
		return false
	}
	switch s.typ {
	case "":
		if s.to.Resourcepart() == "" {
			if join {
				c.mucError(s, errorf("modify", "jid-malformed", "A nickname is required: join %s/yournick.", s.to.Bare()))
			}
			return true
		}
		c.joinRoom(s, id)
	case "unavailable":
		if s.to.Resourcepart() != "" {
			c.leaveRoom(s, id)
		}
	default:
		return false
	}
	return true
}

// mucError answers a join with an error presence from the occupant
// JID it was sent to.
func (c *Component) mucError(s *stanza, e *stanzaError) {
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	c.sendQuiet(ctx, &outPresence{ID: s.id, Type: "error", From: s.to.String(), To: s.from.String(),
		Error: e.Wire(), Extra: []any{&mucJoinX{}}})
}

// joinRoom handles an available presence to room@domain/nick: a join, a
// second resource joining, or a presence update of a joined resource. It
// runs in the user's lane.
func (c *Component) joinRoom(s *stanza, id transports.ID) {
	ctx := c.ctx()
	user := s.from.Bare()
	u := user.String()
	resName, nick := s.from.Resourcepart(), s.to.Resourcepart()
	hist := parseHistory(s.Child(nsMUC, "x"))

	// The room's state decides: a presence update of a joined resource,
	// another resource joining (replayed from the state), or a new join.
	type outcome int
	const (
		newJoin outcome = iota
		updated
		replayed
		refused
	)
	var (
		got    outcome
		serr   *stanzaError
		r      *mucRoom
		mirror transports.Adapter
	)
	if !c.own(ctx, u, func(ctx context.Context) {
		ur := c.muc.user(u)
		r = ur.rooms[id]
		if r != nil && r.adapter != c.sup.Adapter(u) {
			// The session the room was joined with is gone.
			c.dropRoom(ctx, ur, r, "The connection to "+c.net.Identity().Name+" was lost.", statusTechnical)
			r = nil
		}
		if r != nil {
			if rr := r.res[resName]; rr != nil {
				if nick != r.nick && nick != rr.asked {
					got, serr = refused, errorf("modify", "not-acceptable", "Changing your nick in a room is not supported by %s.", c.net.Identity().Name)
					return
				}
				// A presence update: show the resource its presence.
				if rr.phase == phaseJoined {
					c.mucSend(ctx, c.selfPresence(r, rr.full))
				}
				got, mirror = updated, r.adapter
				return
			}
			// Another resource of the user is in the room: replay the cache.
			rr := &mucResource{full: s.from, asked: nick, hist: hist}
			r.res[resName] = rr
			c.replay(ctx, r, rr)
			got = replayed
			return
		}
		if n := len(ur.rooms); n >= c.roomsPerUser() {
			c.log.Info("room join refused: too many rooms", "user", u, "max", n)
			got, serr = refused, errorf("wait", "policy-violation", "You are in %d rooms on %s, the most this gateway allows; leave one first.", n, c.net.Identity().Name)
		}
	}) {
		return // shutting down
	}
	switch got {
	case refused:
		c.mucError(s, serr)
		return
	case updated:
		// An anonymous user's availability reaches the gateway only
		// through their rooms: mirror it (IRC AWAY). Registered users'
		// presence to the gateway does that.
		if mirror != nil && !c.registered(ctx, user) {
			p := transports.Presence{Show: parseShow(s.ChildText("", "show")), Status: s.ChildText("", "status")}
			if err := mirror.SetPresence(ctx, p); err != nil {
				c.log.Debug("mirroring presence", "user", u, "err", err)
			}
		}
		return
	case replayed:
		c.finishJoin(ctx, u, r)
		return
	}

	if !c.netCaps().Rooms {
		c.mucError(s, errorf("cancel", "feature-not-implemented", "%s has no rooms.", c.net.Identity().Name))
		return
	}
	a, serr := c.roomAdapter(ctx, user, id, nick)
	if serr != nil {
		c.mucError(s, serr)
		c.maybeStopAnon(ctx, user)
		return
	}
	rooms, ok := a.(transports.Rooms)
	if !ok {
		c.mucError(s, errorf("cancel", "feature-not-implemented", "%s has no rooms.", c.net.Identity().Name))
		c.maybeStopAnon(ctx, user)
		return
	}
	r = newRoom(id, s.to.Bare(), a, nick)
	r.res[resName] = &mucResource{full: s.from, asked: nick, hist: hist, phase: phaseJoining}
	if !c.own(ctx, u, func(context.Context) { c.muc.user(u).rooms[id] = r }) {
		return
	}

	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	err := rooms.JoinRoom(jctx, id, nick)
	cancel()

	joined, anon := false, false
	c.own(ctx, u, func(ctx context.Context) {
		ur := c.muc.user(u)
		anon = ur.anon
		if err != nil {
			if ur.rooms[id] == r {
				delete(ur.rooms, id)
			}
			return
		}
		if ur.rooms[id] != r {
			return // gone meanwhile (kicked, session lost); the user was told
		}
		if !r.ready {
			// The adapter did not deliver RoomReadyEvent: go on with what
			// it delivered.
			c.roomReady(ctx, r, &transports.RoomReadyEvent{Room: id, Nick: r.nick, Role: r.role, Affiliation: r.aff})
		}
		joined = true
	})
	if err != nil {
		c.log.Info("room join refused", "user", u, "room", string(id), "err", err)
		c.mucError(s, stanzaerr.FromLegacy(err))
		c.maybeStopAnon(ctx, user)
		return
	}
	if !joined {
		return
	}
	c.finishJoin(ctx, u, r)
	if !anon {
		c.rememberRoom(ctx, user, id, r.nick)
	}
}

// roomAdapter returns the user's adapter for a join, starting a session
// when there is none: the registered one, or an anonymous one. It runs in
// the user's lane: it may wait for the session to come up.
func (c *Component) roomAdapter(ctx context.Context, user jid.JID, room transports.ID, nick string) (transports.Adapter, *stanzaError) {
	u := user.String()
	if a := c.sup.Adapter(u); a != nil {
		return a, nil
	}
	name := c.net.Identity().Name
	if !c.sup.Running(u) {
		if c.registered(ctx, user) {
			c.startUser(ctx, user)
		} else {
			an, ok := c.net.(transports.AnonymousNetwork)
			if !ok || !c.netCaps().AnonymousJoin {
				return nil, errorf("auth", "registration-required", "Register with %s first to join rooms.", c.domain)
			}
			acct, err := an.AnonymousAccount(u, room, nick)
			if err != nil {
				return nil, stanzaerr.FromLegacy(err)
			}
			if !c.own(ctx, u, func(context.Context) { c.muc.user(u).anon = true }) {
				return nil, errorf("wait", "service-unavailable", "The gateway is shutting down.")
			}
			c.sup.Start(acct)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if a := c.sup.Adapter(u); a != nil {
			return a, nil
		}
		st := c.sup.Status(u)
		if st.State == transports.StateBadCredentials {
			return nil, errorf("auth", "not-authorized", "%s refused the login: %s", name, stanzaerr.Detail(st.Text))
		}
		if !c.sup.Running(u) {
			return nil, errorf("wait", "service-unavailable", "You are not connected to %s.", name)
		}
		select {
		case <-wctx.Done():
			text := "Could not connect to " + name + " in time"
			if st.Text != "" {
				text += ": " + stanzaerr.Detail(st.Text)
			}
			return nil, errorf("wait", "remote-server-timeout", "%s.", text)
		case <-tick.C:
		}
	}
}

// roomReady records the user's own state and, on the first
// RoomReadyEvent, sends the joining resources the occupants and their
// self-presence. Owner work.
func (c *Component) roomReady(ctx context.Context, r *mucRoom, ev *transports.RoomReadyEvent) {
	if ev.Nick != "" {
		r.nick = ev.Nick
	}
	r.role, r.aff = ev.Role, ev.Affiliation
	if r.ready {
		return
	}
	r.ready = true
	delete(r.occupants, r.nick)
	for _, rr := range r.resources() {
		if rr.phase == phaseJoining {
			c.replay(ctx, r, rr)
		}
	}
	r.nickChanged = false // said to the resources that asked
}

// finishJoin sends the resources that are syncing their history, the
// subject and what was held back meanwhile. It runs in the user's lane:
// it waits for the network's history and subject.
func (c *Component) finishJoin(ctx context.Context, user string, r *mucRoom) {
	var syncing []*mucResource
	hists := make(map[*mucResource]historyRequest)
	var away awayBacklog
	if !c.own(ctx, user, func(context.Context) {
		for _, rr := range r.resources() {
			if rr.phase == phaseSyncing {
				syncing = append(syncing, rr)
				hists[rr] = rr.hist
			}
		}
		if len(syncing) > 0 {
			away, r.away = r.away, awayBacklog{}
		}
	}) {
		return
	}

	history := make(map[*mucResource][]transports.MessageEvent)
	h, hasHistory := r.adapter.(transports.History)
	now := time.Now()
	for _, rr := range syncing {
		since, max, ok := hists[rr].params(now)
		if !ok {
			continue
		}
		if hasHistory {
			hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			evs, err := h.History(hctx, r.id, since, max)
			cancel()
			if err == nil {
				for _, ev := range evs {
					if ev.RemoteID != "" {
						c.mapRoomMessage(ctx, user, r.id, string(ev.RemoteID), roomMessageID(&ev))
					}
				}
				history[rr] = evs
				continue
			}
			c.log.Info("room history unavailable", "user", user, "room", string(r.id), "err", err)
		}
		// What the component kept while the user was away.
		history[rr] = away.since(since, max)
	}

	// subjectSeen is closed by owner work; waiting on it needs no lock.
	if !r.sawSubject() {
		t := time.NewTimer(subjectWait)
		select {
		case <-r.subjectSeen:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}

	c.own(ctx, user, func(ctx context.Context) {
		if ur := c.muc.get(user); ur == nil || ur.rooms[r.id] != r {
			return
		}
		for _, rr := range syncing {
			if r.res[rr.full.Resourcepart()] != rr || rr.phase != phaseSyncing {
				continue // left meanwhile
			}
			var backlog []any
			for i := range history[rr] {
				ev := &history[rr][i]
				if rr.pendingIDs[string(ev.RemoteID)] {
					continue
				}
				backlog = append(backlog, c.groupchatStanza(r, ev, rr.full, true))
			}
			if rr.hist.maxChars > 0 {
				backlog = trimChars(backlog, rr.hist.maxChars)
			}
			if away.dropped > 0 && history[rr] != nil {
				// Never silently: say what the backlog could not keep.
				c.mucSend(ctx, &outMessage{Type: "groupchat", ID: newID(), From: r.jid.String(), To: rr.full.String(),
					Body: fmt.Sprintf("%d earlier %s while you were away %s not kept: this gateway keeps the last %d per room.",
						away.dropped, plural(away.dropped, "message", "messages"), plural(away.dropped, "was", "were"), awayMessages)})
			}
			for _, m := range backlog {
				c.mucSend(ctx, m)
			}
			c.mucSend(ctx, c.subjectMessage(r, rr.full))
			for _, p := range rr.pending {
				c.mucSend(ctx, p)
			}
			rr.pending, rr.pendingIDs = nil, nil
			rr.phase = phaseJoined
		}
	})
}

// trimChars drops the oldest stanzas until the rest fit in max characters
// of XML (XEP-0045 maxchars).
func trimChars(stanzas []any, max int) []any {
	total := 0
	for i := len(stanzas) - 1; i >= 0; i-- {
		total += len(mustMarshal(stanzas[i]))
		if total > max {
			return stanzas[i+1:]
		}
	}
	return stanzas
}

// --- leaving -------------------------------------------------------------

// leaveRoom handles an unavailable presence to room@domain/nick. It runs
// in the user's lane.
func (c *Component) leaveRoom(s *stanza, id transports.ID) {
	ctx := c.ctx()
	user := s.from.Bare()
	u := user.String()
	var in, last bool
	var r *mucRoom
	if !c.own(ctx, u, func(ctx context.Context) {
		ur := c.muc.get(u) // a leave creates nothing
		if ur == nil {
			return
		}
		if r = ur.rooms[id]; r == nil {
			return
		}
		rr := r.res[s.from.Resourcepart()]
		if rr == nil {
			return
		}
		in = true
		delete(r.res, s.from.Resourcepart())
		if rr.phase != phaseJoining {
			c.mucSend(ctx, c.selfUnavailable(r, r.nick, rr.full, s.ChildText("", "status"), nil))
		}
		last = len(r.res) == 0
	}) {
		return
	}
	if !in {
		// Not in the room: confirm anyway, clients wait for it.
		c.sendQuiet(ctx, &outPresence{Type: "unavailable", From: s.to.String(), To: s.from.String(),
			Extra: []any{&mucUserX{Item: &mucItem{Affiliation: "none", Role: "none"}, Status: statuses(statusSelf)}}})
		return
	}
	if last {
		c.lastResourceLeft(ctx, user, r)
	}
}

// resourceGone removes a resource that went offline from every room. It
// runs in the user's lane.
func (c *Component) resourceGone(ctx context.Context, user jid.JID, res string) {
	var emptied []*mucRoom
	c.own(ctx, user.String(), func(context.Context) {
		ur := c.muc.get(user.String())
		if ur == nil {
			return
		}
		for _, r := range ur.rooms {
			if r.res[res] != nil {
				delete(r.res, res)
				if len(r.res) == 0 {
					emptied = append(emptied, r)
				}
			}
		}
	})
	for _, r := range emptied {
		c.lastResourceLeft(ctx, user, r)
	}
}

// lastResourceLeft decides what happens to a room the user's last
// resource left: bouncer mode or leaving the legacy room. It runs in the
// user's lane.
func (c *Component) lastResourceLeft(ctx context.Context, user jid.JID, r *mucRoom) {
	if ctx.Err() != nil {
		return // shutting down: rooms stay as they are (bouncer rooms are rejoined at start)
	}
	u := user.String()
	if c.registered(ctx, user) {
		settings, err := c.reg.Settings(ctx, u, c.net.Name())
		if err != nil {
			c.log.Warn("reading settings", "user", u, "err", err)
		}
		if c.stayConnected(settings) {
			c.after(leaveGrace, u, func(ctx context.Context) {
				stale := true
				c.own(ctx, u, func(context.Context) {
					ur := c.muc.get(u)
					stale = ur == nil || ur.rooms[r.id] != r || len(r.res) > 0
				})
				if stale {
					return
				}
				if !c.presence.online(u) {
					c.log.Info("user offline: staying in the room", "user", u, "room", string(r.id))
					return
				}
				c.leaveLegacy(ctx, user, r)
			})
			return
		}
	}
	c.leaveLegacy(ctx, user, r)
}

// leaveLegacy leaves the legacy room if no resource is in it any more. It
// runs in the user's lane.
func (c *Component) leaveLegacy(ctx context.Context, user jid.JID, r *mucRoom) {
	if ctx.Err() != nil {
		return // shutting down: leaving is not the user's wish
	}
	u := user.String()
	gone, anon := false, false
	c.own(ctx, u, func(context.Context) {
		ur := c.muc.get(u)
		if ur == nil {
			return
		}
		gone, anon = ur.rooms[r.id] == r && len(r.res) == 0, ur.anon
		if gone {
			delete(ur.rooms, r.id)
		}
	})
	if !gone {
		return
	}
	if !anon {
		c.forgetRoom(ctx, user, r.id)
	}
	if rooms, ok := r.adapter.(transports.Rooms); ok && r.adapter == c.sup.Adapter(u) {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := rooms.LeaveRoom(lctx, r.id); err != nil {
			c.log.Info("leaving legacy room", "user", u, "room", string(r.id), "err", err)
		}
		cancel()
	}
	c.maybeStopAnon(ctx, user)
}

// maybeStopAnon ends the anonymous session of a user who is in no room
// any more, and forgets their room state when it is empty. It runs in the
// user's lane (Stop waits for the session).
func (c *Component) maybeStopAnon(ctx context.Context, user jid.JID) {
	u := user.String()
	stop := false
	c.own(ctx, u, func(context.Context) {
		ur := c.muc.get(u)
		if ur == nil {
			return
		}
		stop = ur.anon && len(ur.rooms) == 0
		if stop {
			ur.anon = false
		}
		c.muc.release(u, ur)
	})
	if stop && !c.registered(ctx, user) {
		c.log.Info("anonymous user left their last room", "user", u)
		c.sup.Stop(u)
	}
}

// release forgets user's entry ur when it holds no room and no anonymous
// session. Owner work.
func (m *mucService) release(user string, ur *userRooms) {
	if len(ur.rooms) > 0 || ur.anon {
		return
	}
	m.mu.Lock()
	if m.users[user] == ur {
		delete(m.users, user)
	}
	m.mu.Unlock()
}

// dropRoom forgets a room the legacy session is no longer in and tells the
// joined resources they are out, with status and codes. Owner work.
func (c *Component) dropRoom(ctx context.Context, ur *userRooms, r *mucRoom, status string, codes ...int) {
	if ur.rooms[r.id] == r {
		delete(ur.rooms, r.id)
	}
	for _, rr := range r.resources() {
		if rr.phase != phaseJoining {
			c.mucSend(ctx, c.selfUnavailable(r, r.nick, rr.full, status, nil, codes...))
		}
	}
	r.res = map[string]*mucResource{}
}

// roomsOnState forgets the rooms of a legacy session that ended: a room
// belongs to the adapter that joined it. Owner work.
func (c *Component) roomsOnState(ctx context.Context, user jid.JID, st transports.Status) {
	u := user.String()
	ur := c.muc.get(u)
	if ur == nil {
		return
	}
	cur := c.sup.Adapter(u)
	status := "Disconnected from " + c.net.Identity().Name
	if st.Text != "" {
		status += ": " + stanzaerr.Detail(st.Text)
	}
	dropped := false
	for _, r := range ur.rooms {
		if r.adapter != cur {
			c.dropRoom(ctx, ur, r, status+".", statusTechnical)
			dropped = true
		}
	}
	if dropped && len(ur.rooms) == 0 { // and forget the emptied state
		c.later(u, func(ctx context.Context) { c.maybeStopAnon(ctx, user) })
	}
}

// selfPing answers XEP-0410 pings to an occupant JID: a result when the
// sender is in the room under that nick, not-acceptable otherwise. The
// answer is owner work: the stream reader never waits for a user's work.
func (c *Component) selfPing(s *stanza, id transports.ID) {
	u := s.from.Bare().String()
	c.owners.Post(c.ctx(), u, func(ctx context.Context) {
		joined := false
		if ur := c.muc.get(u); ur != nil {
			if r := ur.rooms[id]; r != nil && r.adapter == c.sup.Adapter(u) {
				rr := r.res[s.from.Resourcepart()]
				joined = rr != nil && rr.phase != phaseJoining && (s.to.Resourcepart() == "" || s.to.Resourcepart() == r.nick)
			}
		}
		if !joined {
			c.replyError(s.node, errorf("cancel", "not-acceptable", "You are not in this room."))
			return
		}
		c.result(s, nil)
	})
}

// awayBacklog keeps a room's latest messages while none of the user's
// resources is in it, within awayMessages and awayBytes of bodies; dropped
// counts the older ones it let go. Owner work.
type awayBacklog struct {
	msgs    []transports.MessageEvent
	bytes   int
	dropped int
}

func (b *awayBacklog) add(ev transports.MessageEvent) {
	b.msgs = append(b.msgs, ev)
	b.bytes += len(ev.Body)
	for len(b.msgs) > awayMessages || b.bytes > awayBytes && len(b.msgs) > 1 {
		b.bytes -= len(b.msgs[0].Body)
		b.msgs[0] = transports.MessageEvent{}
		b.msgs = b.msgs[1:]
		b.dropped++
	}
}

// since returns at most max of the latest messages stamped at or after
// since (zero: any), oldest first, like transports.History.
func (b *awayBacklog) since(since time.Time, max int) []transports.MessageEvent {
	var out []transports.MessageEvent
	for _, ev := range b.msgs {
		if since.IsZero() || !ev.Time.Before(since) {
			out = append(out, ev)
		}
	}
	if max > 0 && len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}
