package discord

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// room is a joined guild channel or group DM: who is shown in it under
// which nick. Nicks are unique in a room: a member whose name another
// member has already is shown as "name (username)", or "name (ID)".
type room struct {
	id      transports.ID
	channel string
	guild   string // "" for a group DM

	mu     sync.Mutex
	nickOf map[string]string // user ID → nick
	idOf   map[string]string // nick → user ID
}

func newRoom(id transports.ID, channel, guild string) *room {
	return &room{id: id, channel: channel, guild: guild, nickOf: map[string]string{}, idOf: map[string]string{}}
}

// assign gives user a unique nick in r, from base; added is false when
// the user had one already (which it returns).
func (r *room) assign(u *discordgo.User, base string) (nick string, added bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.nickOf[u.ID]; ok {
		return n, false
	}
	for _, n := range []string{base, base + " (" + u.Username + ")", base + " (" + u.ID + ")"} {
		if other, taken := r.idOf[n]; !taken || other == u.ID {
			nick = n
			break
		}
	}
	r.nickOf[u.ID], r.idOf[nick] = nick, u.ID
	return nick, true
}

// rename gives a shown user a unique nick from base; ok is false when r
// does not show the user.
func (r *room) rename(u *discordgo.User, base string) (old, renamed string, ok bool) {
	r.mu.Lock()
	old, ok = r.nickOf[u.ID]
	if !ok {
		r.mu.Unlock()
		return "", "", false
	}
	if old == base {
		r.mu.Unlock()
		return old, old, true
	}
	delete(r.nickOf, u.ID)
	delete(r.idOf, old)
	r.mu.Unlock()
	renamed, _ = r.assign(u, base)
	return old, renamed, true
}

// forget stops showing user; ok is false when r did not show them.
func (r *room) forget(user string) (nick string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	nick, ok = r.nickOf[user]
	if ok {
		delete(r.nickOf, user)
		delete(r.idOf, nick)
	}
	return nick, ok
}

// nicks is a copy of r's nick → user ID table.
func (r *room) nicks() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.idOf))
	for n, id := range r.idOf {
		out[n] = id
	}
	return out
}

func (r *room) nick(user string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nickOf[user]
	return n, ok
}

// displayName is how Discord shows a user: the guild nick, else the
// global display name, else the username.
func displayName(u *discordgo.User, m *discordgo.Member) string {
	switch {
	case m != nil && m.Nick != "":
		return clean(m.Nick, 64)
	case u.GlobalName != "":
		return clean(u.GlobalName, 64)
	}
	if n := clean(u.Username, 64); n != "" {
		return n
	}
	return u.ID
}

// occupant is the nick of a live event's author in r; an author not
// shown yet (a capped member list, a newcomer) is announced first.
func (a *adapter) occupant(r *room, u *discordgo.User, m *discordgo.Member) string {
	if u.ID == a.self {
		n, _ := r.nick(u.ID)
		return n
	}
	nick, added := r.assign(u, displayName(u, m))
	if added {
		role, aff := a.standing(r.guild, u.ID, m)
		a.sink.Deliver(&transports.OccupantEvent{Room: r.id, Nick: nick, Role: role, Affiliation: aff, Account: u.ID,
			OccupantID: u.ID, Hats: a.hats(r.guild, m)})
	}
	return nick
}

// occupantNick is u's nick in r if shown, else its display name; it
// announces nobody.
func (a *adapter) occupantNick(r *room, u *discordgo.User) string {
	if n, ok := r.nick(u.ID); ok {
		return n
	}
	return displayName(u, nil)
}

// occupantByID is occupant for a user known only by ID (reactions,
// typing): member when the event carried it, else the state's, else a
// REST look-up.
func (a *adapter) occupantByID(r *room, user string, m *discordgo.Member) string {
	if n, ok := r.nick(user); ok {
		return n
	}
	if m == nil || m.User == nil {
		m = a.member(r.guild, user)
	}
	if m == nil || m.User == nil {
		return user
	}
	return a.occupant(r, m.User, m)
}

// member is a copy of a guild member from the state, else from REST; nil
// if neither has it.
func (a *adapter) member(guild, user string) *discordgo.Member {
	if guild == "" {
		return nil
	}
	if m := a.stateMember(guild, user); m != nil {
		return m
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
	defer cancel()
	m, err := a.s.GuildMember(guild, user, discordgo.WithContext(ctx))
	if err != nil {
		return nil
	}
	return m
}

// stateMember is a copy of a guild member from the state, nil if it has
// none; it does no I/O.
func (a *adapter) stateMember(guild, user string) *discordgo.Member {
	m, err := a.s.State.Member(guild, user)
	if err != nil {
		return nil
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	c := *m
	if m.User != nil {
		u := *m.User
		c.User = &u
	}
	c.Roles = slices.Clone(m.Roles)
	return &c
}

// guildInfo is what the adapter reads of a guild for roles.
type guildInfo struct {
	owner   string
	members int                       // member count, 0 if unknown
	perms   map[string]int64          // role ID → permissions
	roles   map[string]discordgo.Role // role ID → the role (name, colour, rank)
}

func (a *adapter) guildInfo(guild string) guildInfo {
	info := guildInfo{perms: map[string]int64{}, roles: map[string]discordgo.Role{}}
	g, err := a.s.State.Guild(guild)
	if err != nil {
		return info
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	info.owner, info.members = g.OwnerID, g.MemberCount
	for _, r := range g.Roles {
		if r != nil {
			info.perms[r.ID] = r.Permissions
			info.roles[r.ID] = *r
		}
	}
	return info
}

// hats are a member's named roles (XEP-0317), highest first; the
// guild-wide @everyone role is none.
func (a *adapter) hats(guild string, m *discordgo.Member) []transports.Hat {
	if guild == "" || m == nil || len(m.Roles) == 0 {
		return nil
	}
	g := a.guildInfo(guild)
	var roles []discordgo.Role
	for _, id := range m.Roles {
		if r, ok := g.roles[id]; ok && id != guild {
			roles = append(roles, r)
		}
	}
	slices.SortStableFunc(roles, func(x, y discordgo.Role) int { return y.Position - x.Position })
	var out []transports.Hat
	for _, r := range roles {
		out = append(out, transports.Hat{ID: r.ID, Title: clean(r.Name, 100), Hue: hue(r.Color)})
	}
	return out
}

// hue is an RGB colour's hue angle in degrees, -1 for no colour (0).
func hue(rgb int) float64 {
	if rgb <= 0 {
		return -1
	}
	r, g, b := float64(rgb>>16&0xff)/255, float64(rgb>>8&0xff)/255, float64(rgb&0xff)/255
	hi, lo := max(r, g, b), min(r, g, b)
	d := hi - lo
	if d == 0 {
		return 0
	}
	var h float64
	switch hi {
	case r:
		h = (g - b) / d
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	h *= 60
	if h < 0 {
		h += 360
	}
	return h
}

// standing maps a member's Discord standing to MUC: the guild's owner
// is an owner, administrators are admins, both moderators, as are those
// who may manage messages; everyone else a participating member. In a
// group DM everyone is a participating member.
func (a *adapter) standing(guild, user string, m *discordgo.Member) (transports.Role, transports.Affiliation) {
	if guild == "" {
		return transports.RoleParticipant, transports.AffiliationMember
	}
	g := a.guildInfo(guild)
	if user == g.owner && g.owner != "" {
		return transports.RoleModerator, transports.AffiliationOwner
	}
	perms := g.perms[guild] // @everyone's role has the guild's ID
	if m != nil {
		for _, r := range m.Roles {
			perms |= g.perms[r]
		}
	}
	switch {
	case perms&discordgo.PermissionAdministrator != 0:
		return transports.RoleModerator, transports.AffiliationAdmin
	case perms&discordgo.PermissionManageMessages != 0:
		return transports.RoleModerator, transports.AffiliationMember
	}
	return transports.RoleParticipant, transports.AffiliationMember
}

// textChannel reports whether a guild channel of type t carries
// messages.
func textChannel(t discordgo.ChannelType) bool {
	switch t {
	case discordgo.ChannelTypeGuildText, discordgo.ChannelTypeGuildNews,
		discordgo.ChannelTypeGuildPublicThread, discordgo.ChannelTypeGuildPrivateThread, discordgo.ChannelTypeGuildNewsThread:
		return true
	}
	return false
}

// JoinRoom shows a guild channel (its members, capped at max_members:
// see members) or a group DM (its recipients). Discord
// has no joining: the account sees the channel or it does not (an error
// wrapping ErrNotFound or ErrForbidden). The nick is the account's own
// in the guild; nick is not used.
func (a *adapter) JoinRoom(ctx context.Context, id transports.ID, _ string) error {
	addr, err := ParseID(id)
	if err != nil {
		return err
	}
	if addr.Kind != transports.KindRoom {
		return fmt.Errorf("%w: %s is not a channel", transports.ErrInvalidInput, id)
	}
	ch, err := a.channel(ctx, addr.Channel)
	if err != nil {
		return err
	}
	if addr.Group() && ch.Type != discordgo.ChannelTypeGroupDM || !addr.Group() && (ch.GuildID != addr.Guild || !textChannel(ch.Type)) {
		return fmt.Errorf("%w: no text channel %s", transports.ErrNotFound, id)
	}
	r := newRoom(id, addr.Channel, addr.Guild)
	wasJoined := a.markJoined(ctx, addr.Channel, true)
	members, capped, err := a.members(ctx, ch)
	if err != nil {
		return err
	}
	var events []transports.Event
	var self *discordgo.Member
	for _, m := range members {
		if m.User.ID == a.self {
			self = m
			continue
		}
		nick, _ := r.assign(m.User, displayName(m.User, m))
		role, aff := a.standing(addr.Guild, m.User.ID, m)
		events = append(events, &transports.OccupantEvent{Room: id, Nick: nick, Role: role, Affiliation: aff, Account: m.User.ID,
			OccupantID: m.User.ID, Hats: a.hats(addr.Guild, m)})
	}
	if self == nil {
		if self = a.member(addr.Guild, a.self); self == nil {
			self = &discordgo.Member{User: &discordgo.User{ID: a.self, Username: a.self}}
			a.s.State.RLock()
			if u := a.s.State.User; u != nil {
				cu := *u
				self.User = &cu
			}
			a.s.State.RUnlock()
		}
	}
	ownNick, _ := r.assign(self.User, displayName(self.User, self))
	role, aff := a.standing(addr.Guild, a.self, self)
	subject := ch.Topic
	if addr.Group() {
		subject = ch.Name
	}
	a.mu.Lock()
	a.rooms[addr.Channel] = r
	a.mu.Unlock()
	for _, ev := range events {
		a.sink.Deliver(ev)
	}
	ready := &transports.RoomReadyEvent{Room: id, Nick: ownNick, Role: role, Affiliation: aff, Name: roomName(ch)}
	if capped {
		ready.Members = max(a.guildInfo(addr.Guild).members, a.n.cfg.MaxMembers+1)
	}
	a.sink.Deliver(ready)
	a.sink.Deliver(&transports.SubjectEvent{Room: id, Subject: clean(subject, 1024)})
	a.catchUpRoom(addr.Channel, wasJoined)
	a.releaseHeld(addr.Channel)
	return nil
}

// members lists who a room shows, and whether the list was capped: a
// group DM's recipients; a guild's members, all of them when there are
// at most max_members, else max_members of them chosen as a Discord
// client shows a big guild: those online first (the state's presences),
// then the channel's recent authors, then the first the server lists.
// Without the privileged members intent, only the members the state
// knows.
func (a *adapter) members(ctx context.Context, ch channelInfo) ([]*discordgo.Member, bool, error) {
	var out []*discordgo.Member
	if ch.GuildID == "" {
		for _, u := range ch.Recipients {
			out = append(out, &discordgo.Member{User: &u})
		}
		return out, false, nil
	}
	max := a.n.cfg.MaxMembers
	after := ""
	// Up to two more than shown: one may be the account itself, which is
	// not an occupant; one more tells whether there are more.
	for len(out) < max+2 {
		want := min(1000, max+2-len(out))
		page, err := a.s.GuildMembers(ch.GuildID, after, want, discordgo.WithContext(ctx))
		if err != nil {
			a.log.Debug("discord: guild members not listed; showing the known ones", "err", classify(err))
			known := a.stateMembers(ch.GuildID, max+1)
			return known[:min(len(known), max)], len(known) > max, nil
		}
		for _, m := range page {
			if m != nil && m.User != nil {
				out = append(out, m)
			}
		}
		if len(page) < want {
			break
		}
		after = page[len(page)-1].User.ID
	}
	others := len(out)
	if slices.ContainsFunc(out, func(m *discordgo.Member) bool { return m.User.ID == a.self }) {
		others--
	}
	if others <= max {
		return out, false, nil
	}
	return a.prioritised(ctx, ch, out, max), true, nil
}

// recentAuthors is how many of a channel's latest messages name the
// recently active members of a capped room.
const recentAuthors = 50

// prioritised picks max of a big guild's members other than the account
// itself: online ones, then the channel's recent authors, then listed in
// the server's order. A failed look at the recent messages only loses
// that step.
func (a *adapter) prioritised(ctx context.Context, ch channelInfo, listed []*discordgo.Member, max int) []*discordgo.Member {
	out := make([]*discordgo.Member, 0, max)
	seen := make(map[string]bool, max)
	add := func(m *discordgo.Member) {
		if m != nil && m.User != nil && m.User.ID != a.self && !seen[m.User.ID] && len(out) < max {
			seen[m.User.ID] = true
			out = append(out, m)
		}
	}
	for _, m := range a.onlineMembers(ch.GuildID, max) {
		add(m)
	}
	if len(out) < max {
		msgs, err := a.s.ChannelMessages(ch.ID, recentAuthors, "", "", "", discordgo.WithContext(ctx))
		if err != nil {
			a.log.Debug("discord: recent authors not read", "err", classify(err))
		}
		for _, msg := range msgs { // newest first
			if msg == nil || msg.Author == nil || msg.WebhookID != "" || seen[msg.Author.ID] {
				continue
			}
			m := a.stateMember(ch.GuildID, msg.Author.ID)
			if m == nil {
				u := *msg.Author
				m = &discordgo.Member{User: &u}
				if msg.Member != nil {
					m.Nick, m.Roles = msg.Member.Nick, slices.Clone(msg.Member.Roles)
				}
			}
			add(m)
		}
	}
	for _, m := range listed {
		add(m)
	}
	return out
}

// onlineMembers are at most max members of guild the state knows to be
// online, idle or busy.
func (a *adapter) onlineMembers(guild string, max int) []*discordgo.Member {
	g, err := a.s.State.Guild(guild)
	if err != nil {
		return nil
	}
	a.s.State.RLock()
	var ids []string
	for _, p := range g.Presences {
		if p != nil && p.User != nil && len(ids) < max && p.Status != "" && show(p.Status) != transports.ExtendedAway {
			ids = append(ids, p.User.ID)
		}
	}
	a.s.State.RUnlock()
	var out []*discordgo.Member
	for _, id := range ids {
		if m := a.stateMember(guild, id); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (a *adapter) stateMembers(guild string, max int) []*discordgo.Member {
	g, err := a.s.State.Guild(guild)
	if err != nil {
		return nil
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	var out []*discordgo.Member
	for _, m := range g.Members {
		if m != nil && m.User != nil && len(out) < max {
			c, u := *m, *m.User
			c.User = &u
			out = append(out, &c)
		}
	}
	return out
}

// LeaveRoom stops showing room; Discord has nothing to leave.
func (a *adapter) LeaveRoom(ctx context.Context, id transports.ID) error {
	addr, err := ParseID(id)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if r, ok := a.rooms[addr.Channel]; !ok || r.id != id {
		a.mu.Unlock()
		return fmt.Errorf("%w: not in %s", transports.ErrNotFound, id)
	}
	delete(a.rooms, addr.Channel)
	a.mu.Unlock()
	a.markJoined(ctx, addr.Channel, false)
	return nil
}

// History is a joined room's latest messages (at most 100, Discord's
// page), oldest first, with their times.
func (a *adapter) History(ctx context.Context, id transports.ID, since time.Time, max int) ([]transports.MessageEvent, error) {
	addr, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	r, ok := a.rooms[addr.Channel]
	a.mu.Unlock()
	if !ok || r.id != id {
		return nil, fmt.Errorf("%w: not in %s", transports.ErrNotFound, id)
	}
	msgs, err := a.s.ChannelMessages(addr.Channel, min(max, 100), "", "", "", discordgo.WithContext(ctx))
	if err != nil {
		return nil, classify(err)
	}
	var out []transports.MessageEvent
	for _, m := range msgs { // newest first
		if m == nil || m.Author == nil || (m.Type != discordgo.MessageTypeDefault && m.Type != discordgo.MessageTypeReply) {
			continue
		}
		if !since.IsZero() && m.Timestamp.Before(since) {
			break
		}
		ev := a.historyEvent(r, m)
		out = append(out, *ev)
	}
	slices.Reverse(out)
	return out, nil
}

// historyEvent is a past message of r: its author's nick as shown now,
// nobody announced.
func (a *adapter) historyEvent(r *room, m *discordgo.Message) *transports.MessageEvent {
	c := conv{id: r.id, room: r}
	ev := &transports.MessageEvent{
		From: r.id, Room: true, RemoteID: transports.RemoteID(m.ID),
		Body: a.body(c, m), Time: m.Timestamp, Own: m.Author.ID == a.self,
		Nick: a.occupantNick(r, m.Author), OccupantID: m.Author.ID,
	}
	if m.MessageReference != nil && m.Type == discordgo.MessageTypeReply {
		ev.ReplyTo = transports.RemoteID(m.MessageReference.MessageID)
	}
	ev.Attachments = a.files(m)
	return ev
}

// ListRooms lists a guild's text channels (server is the guild's ID,
// <guild>%guild), with their names and topics, in Discord's order. A
// guild the account is not in is an error wrapping ErrNotFound or
// ErrForbidden.
func (a *adapter) ListRooms(ctx context.Context, server transports.ID) ([]transports.RoomInfo, error) {
	addr, err := ParseID(server)
	if err != nil {
		return nil, err
	}
	if addr.Kind != transports.KindServer {
		return nil, fmt.Errorf("%w: %s is not a guild", transports.ErrInvalidInput, server)
	}
	// The guilds the account is in are the state's (READY, then
	// GUILD_CREATE and GUILD_DELETE): one it left is not asked for.
	if _, err := a.s.State.Guild(addr.Guild); err != nil {
		return nil, fmt.Errorf("%w: this account is not in guild %s", transports.ErrNotFound, addr.Guild)
	}
	chans, err := a.s.GuildChannels(addr.Guild, discordgo.WithContext(ctx))
	if err != nil {
		return nil, classify(err)
	}
	slices.SortStableFunc(chans, func(x, y *discordgo.Channel) int { return x.Position - y.Position })
	// Discord has no member count per channel: a text channel shows
	// the guild's members (those the channel's permissions let in).
	members := a.guildInfo(addr.Guild).members
	threads := a.activeThreads(ctx, addr.Guild)
	var out []transports.RoomInfo
	for _, ch := range chans {
		if ch == nil || (ch.Type != discordgo.ChannelTypeGuildText && ch.Type != discordgo.ChannelTypeGuildNews) {
			continue
		}
		name := "#" + clean(ch.Name, 100)
		out = append(out, transports.RoomInfo{ID: ChannelID(ch.ID, addr.Guild), Name: name, Topic: clean(ch.Topic, 300), Members: members})
		for _, th := range threads[ch.ID] {
			out = append(out, transports.RoomInfo{ID: ChannelID(th.ID, addr.Guild), Name: name + " › " + clean(th.Name, 100), Members: th.MemberCount})
		}
	}
	return out, nil
}

// activeThreads are guild's active threads by parent channel, in the
// order Discord lists them; none where the server will not list them (a
// listing is no reason to fail).
func (a *adapter) activeThreads(ctx context.Context, guild string) map[string][]*discordgo.Channel {
	list, err := a.s.GuildThreadsActive(guild, discordgo.WithContext(ctx))
	if err != nil || list == nil {
		a.log.Debug("discord: active threads not listed", "err", classify(err))
		return nil
	}
	out := make(map[string][]*discordgo.Channel)
	for _, th := range list.Threads {
		if th != nil && th.ParentID != "" && textChannel(th.Type) {
			out[th.ParentID] = append(out[th.ParentID], th)
		}
	}
	return out
}
