package discord

import (
	"context"
	"maps"
	"slices"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// Members of joined guild channels as they change: presence, nick, and
// leaving the guild. Only members a room shows are concerned; others
// appear when they speak (see occupant).

// show maps a Discord status to an XMPP availability. An offline member
// stays an occupant (a member of the guild), shown as extended away.
func show(s discordgo.Status) transports.Show {
	switch s {
	case discordgo.StatusIdle:
		return transports.Away
	case discordgo.StatusDoNotDisturb:
		return transports.DoNotDisturb
	case discordgo.StatusOffline, discordgo.StatusInvisible:
		return transports.ExtendedAway
	}
	return transports.Available
}

// partnerShow is a contact's availability: as show, except that an
// offline contact is unavailable (a contact, unlike a guild member, is
// not somewhere they could be away from).
func partnerShow(s discordgo.Status) transports.Show {
	if s == discordgo.StatusOffline || s == discordgo.StatusInvisible {
		return transports.Offline
	}
	return show(s)
}

// Watch makes ids (people) the ones whose presence the user asked for
// beyond the DM partners: what the state knows of them now is delivered,
// and their changes after (onPresence). Someone no guild of the account
// shows online is offline.
func (a *adapter) Watch(_ context.Context, ids []transports.ID) error {
	users := make(map[string]bool, len(ids))
	for _, id := range ids {
		if addr, err := ParseID(id); err == nil && addr.Kind == transports.KindContact && addr.User != a.self {
			users[addr.User] = true
		}
	}
	a.mu.Lock()
	a.watched = users
	a.mu.Unlock()
	now := make(map[string]discordgo.Status, len(users))
	a.s.State.RLock()
	for _, g := range a.s.State.Guilds {
		for _, p := range g.Presences {
			if p != nil && p.User != nil && users[p.User.ID] && partnerShow(p.Status) != transports.Offline {
				now[p.User.ID] = p.Status
			}
		}
	}
	a.s.State.RUnlock()
	for _, u := range slices.Sorted(maps.Keys(users)) {
		show := transports.Offline
		if st, ok := now[u]; ok {
			show = partnerShow(st)
		}
		a.sink.Deliver(&transports.PresenceEvent{From: UserID(u), Presence: transports.Presence{Show: show}})
	}
	return nil
}

// guildRooms are the joined rooms of guild; with any, every joined room.
func (a *adapter) guildRooms(guild string, any bool) []*room {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*room
	for _, r := range a.rooms {
		if any || (r.guild == guild && guild != "") {
			out = append(out, r)
		}
	}
	return out
}

// onPresence shows a member's new availability in the rooms showing
// them: the guild's, or all (a status is the user's, not the guild's)
// when the event names no guild; a DM partner's also as their presence.
func (a *adapter) onPresence(p *discordgo.PresenceUpdate) {
	if p.User == nil || p.User.ID == a.self {
		return
	}
	a.profileChanged(p.User)
	a.mu.Lock()
	_, partner := a.dmOf[p.User.ID]
	partner = partner || a.watched[p.User.ID]
	a.mu.Unlock()
	if partner {
		a.sink.Deliver(&transports.PresenceEvent{From: UserID(p.User.ID), Presence: transports.Presence{Show: partnerShow(p.Status)}})
	}
	for _, r := range a.guildRooms(p.GuildID, p.GuildID == "") {
		nick, ok := r.nick(p.User.ID)
		if !ok {
			continue
		}
		m := a.stateMember(r.guild, p.User.ID)
		role, aff := a.standing(r.guild, p.User.ID, m)
		a.sink.Deliver(&transports.OccupantEvent{Room: r.id, Nick: nick, Role: role, Affiliation: aff, Account: p.User.ID,
			OccupantID: p.User.ID, Hats: a.hats(r.guild, m), Presence: transports.Presence{Show: show(p.Status)}})
	}
}

// onMemberUpdate shows a member's new nick (guild nick or name), or new
// roles (role, affiliation, hats), in the rooms showing them.
func (a *adapter) onMemberUpdate(m *discordgo.GuildMemberUpdate) {
	if m.Member == nil || m.User == nil {
		return
	}
	// Without the member's former state (not in discordgo's state) the
	// roles may have changed: the update is shown.
	rolesChanged := m.BeforeUpdate == nil || !slices.Equal(m.BeforeUpdate.Roles, m.Roles)
	for _, r := range a.guildRooms(m.GuildID, false) {
		old, renamed, ok := r.rename(m.User, displayName(m.User, m.Member))
		if !ok || (old == renamed && !rolesChanged) {
			continue
		}
		if old == renamed {
			renamed = "" // the roles changed, not the nick
		}
		role, aff := a.standing(r.guild, m.User.ID, m.Member)
		a.sink.Deliver(&transports.OccupantEvent{Room: r.id, Nick: old, NewNick: renamed, Role: role, Affiliation: aff,
			Account: m.User.ID, OccupantID: m.User.ID, Hats: a.hats(r.guild, m.Member), Self: m.User.ID == a.self})
	}
}

// onMemberRemove shows a member who left (or was removed from) the
// guild leaving its rooms; when it is the account itself, the rooms are
// gone.
func (a *adapter) onMemberRemove(m *discordgo.GuildMemberRemove) {
	if m.Member == nil || m.User == nil {
		return
	}
	self := m.User.ID == a.self
	for _, r := range a.guildRooms(m.GuildID, false) {
		nick, ok := r.forget(m.User.ID)
		if !ok && !self {
			continue
		}
		if self {
			a.mu.Lock()
			delete(a.rooms, r.channel)
			a.mu.Unlock()
		}
		a.sink.Deliver(&transports.OccupantEvent{Room: r.id, Nick: nick, Left: true, Self: self, Account: m.User.ID,
			OccupantID: m.User.ID, Reason: "left the guild"})
	}
}

// onGuildDelete: the account left the guild, or was removed from it.
func (a *adapter) onGuildDelete(g *discordgo.GuildDelete) {
	if g.Guild == nil || g.Unavailable {
		return // an outage, not a removal
	}
	a.onMemberRemove(&discordgo.GuildMemberRemove{Member: &discordgo.Member{GuildID: g.ID, User: &discordgo.User{ID: a.self}}})
}

// onChannelUpdate shows a joined room's new topic (a group DM's new
// name).
func (a *adapter) onChannelUpdate(c *discordgo.ChannelUpdate) {
	if c.Channel == nil {
		return
	}
	a.mu.Lock()
	r, ok := a.rooms[c.ID]
	a.mu.Unlock()
	if !ok {
		return
	}
	subject, before := c.Topic, ""
	if c.BeforeUpdate != nil {
		before = c.BeforeUpdate.Topic
	}
	if r.guild == "" {
		subject = c.Name
		if c.BeforeUpdate != nil {
			before = c.BeforeUpdate.Name
		}
	}
	if c.BeforeUpdate != nil && subject == before {
		return // another change (name, permissions, position)
	}
	a.sink.Deliver(&transports.SubjectEvent{Room: r.id, Subject: clean(subject, 1024)})
}

// profileChanged delivers a DM partner's new profile when a presence
// update shows a name or avatar other than the last one delivered.
func (a *adapter) profileChanged(u *discordgo.User) {
	if u.Username == "" && u.GlobalName == "" && u.Avatar == "" {
		return // a partial user: nothing about the profile
	}
	a.mu.Lock()
	_, partner := a.dmOf[u.ID]
	key := displayName(u, nil) + "\x00" + u.Avatar
	same := a.profiles[u.ID] == key
	if partner && !same {
		if len(a.profiles) >= maxOurs {
			clear(a.profiles)
		}
		a.profiles[u.ID] = key
	}
	a.mu.Unlock()
	if !partner || same {
		return
	}
	p := transports.Profile{Name: displayName(u, nil)}
	ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
	p.Avatar = a.pictureOf(ctx, u.Avatar, func(string) string { return u.AvatarURL("128") })
	cancel()
	a.sink.Deliver(&transports.ProfileEvent{From: UserID(u.ID), Profile: p})
}
