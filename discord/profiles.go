package discord

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// Who is who: people's names and avatars (Profiler), the DM partners as
// the contact list (ContactLister), the guilds on the gateway's
// disco#items (ServerLister), the user's nick in a guild (Nicker), and
// private messages to a room's member (the network's OccupantContacter).

// maxAvatarBytes bounds an avatar read into a profile: a vCard carries
// the picture in the stanza.
const maxAvatarBytes = 256 << 10

// Profile is what Discord shows of a person (display name, avatar), a
// channel (its name) or a guild (its name).
func (a *adapter) Profile(ctx context.Context, id transports.ID) (transports.Profile, error) {
	addr, err := ParseID(id)
	if err != nil {
		return transports.Profile{}, err
	}
	switch addr.Kind {
	case transports.KindRoom:
		ch, err := a.channel(ctx, addr.Channel)
		if err != nil {
			return transports.Profile{}, err
		}
		p := transports.Profile{Name: roomName(ch), About: clean(ch.Topic, 1024)}
		// A channel's picture is its guild's icon; a group DM's, its own.
		switch {
		case ch.GuildID != "":
			p.Avatar = a.pictureOf(ctx, a.guildIcon(ch.GuildID), func(h string) string { return discordgo.EndpointGuildIcon(ch.GuildID, h) })
		case ch.Icon != "":
			p.Avatar = a.pictureOf(ctx, ch.Icon, func(h string) string { return discordgo.EndpointGroupIcon(ch.ID, h) })
		}
		return p, nil
	case transports.KindServer:
		g, err := a.s.State.Guild(addr.Guild)
		if err != nil {
			return transports.Profile{}, fmt.Errorf("%w: this account is not in guild %s", transports.ErrNotFound, addr.Guild)
		}
		a.s.State.RLock()
		name := g.Name
		a.s.State.RUnlock()
		if name == "" { // READY's guilds have no names until GUILD_CREATE
			if full, err := a.s.Guild(addr.Guild, discordgo.WithContext(ctx)); err == nil {
				name = full.Name
			}
		}
		p := transports.Profile{Name: clean(name, 100)}
		p.Avatar = a.pictureOf(ctx, a.guildIcon(addr.Guild), func(h string) string { return discordgo.EndpointGuildIcon(addr.Guild, h) })
		return p, nil
	}
	u, err := a.s.User(addr.User, discordgo.WithContext(ctx))
	if err != nil {
		return transports.Profile{}, classify(err)
	}
	p := transports.Profile{Name: displayName(u, nil)}
	p.Avatar = a.pictureOf(ctx, u.Avatar, func(string) string { return u.AvatarURL("128") })
	return p, nil
}

// guildIcon is the icon hash of guild as the state knows it, "" for none.
func (a *adapter) guildIcon(guild string) string {
	g, err := a.s.State.Guild(guild)
	if err != nil {
		return ""
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	return g.Icon
}

// pictureOf is the picture whose hash is hash (none for ""), read from
// the address url gives for it; nil when it cannot be read (a profile
// without a picture is still a profile).
func (a *adapter) pictureOf(ctx context.Context, hash string, url func(hash string) string) *transports.Avatar {
	if hash == "" {
		return nil
	}
	av, err := a.avatar(ctx, hash, url(hash))
	if err != nil {
		a.log.Debug("discord: a picture", "err", err)
		return nil
	}
	return av
}

// avatar reads the picture hash at url (small, bounded) from the CDN the
// network talks to, so the component gets it with its exact size.
func (a *adapter) avatar(ctx context.Context, hash, url string) (*transports.Avatar, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: a.n.transport, CheckRedirect: noRedirect}).Do(req)
	if err != nil {
		return nil, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: the CDN answered HTTP %d", transports.ErrUnavailable, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAvatarBytes+1))
	if err != nil {
		return nil, classify(err)
	}
	if len(data) > maxAvatarBytes {
		return nil, fmt.Errorf("%w: an avatar over %d KiB", transports.ErrLimit, maxAvatarBytes>>10)
	}
	typ := http.DetectContentType(data)
	return &transports.Avatar{ID: hash, File: transports.Attachment{
		Name: hash, Type: typ, Size: int64(len(data)),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}}, nil
}

// roomName is how a channel is named: "#general", a group DM's name or
// its members' names.
func roomName(ch channelInfo) string {
	if ch.GuildID != "" {
		return "#" + clean(ch.Name, 100)
	}
	if ch.Name != "" {
		return clean(ch.Name, 100)
	}
	var names []string
	for _, u := range ch.Recipients {
		names = append(names, displayName(&u, nil))
	}
	sort.Strings(names)
	return cut(strings.Join(names, ", "), 100)
}

// Contacts are the people the account has DMs with (from READY and the
// DMs opened since).
func (a *adapter) Contacts(context.Context) ([]transports.Contact, error) {
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	var out []transports.Contact
	for _, c := range a.s.State.PrivateChannels {
		if c == nil || c.Type != discordgo.ChannelTypeDM {
			continue
		}
		for _, u := range c.Recipients {
			if u != nil && u.ID != a.self && len(out) < transports.MaxContacts {
				out = append(out, transports.Contact{ID: UserID(u.ID), Name: displayName(u, nil)})
			}
		}
	}
	return out, nil
}

// Servers are the guilds the account is in, with their names, from the
// session's state; a guild whose GUILD_CREATE has not come yet (READY
// lists guilds without names) is asked for over REST.
func (a *adapter) Servers(ctx context.Context) ([]transports.ServerInfo, error) {
	a.s.State.RLock()
	var out []transports.ServerInfo
	for _, g := range a.s.State.Guilds {
		if g != nil && IsSnowflake(g.ID) {
			out = append(out, transports.ServerInfo{ID: GuildID(g.ID), Name: clean(g.Name, 100)})
		}
	}
	a.s.State.RUnlock()
	for i, g := range out {
		if g.Name != "" {
			continue
		}
		addr, _ := ParseID(g.ID)
		if full, err := a.s.Guild(addr.Guild, discordgo.WithContext(ctx)); err == nil {
			out[i].Name = clean(full.Name, 100)
		}
	}
	return out, nil
}

// SetNick sets the account's nick in room's guild (Discord's Change
// Nickname permission; ErrForbidden otherwise); the change is seen in the
// GUILD_MEMBER_UPDATE that follows. A group DM has no nicks.
func (a *adapter) SetNick(ctx context.Context, room transports.ID, nick string) error {
	addr, err := ParseID(room)
	if err != nil {
		return err
	}
	if addr.Kind != transports.KindRoom || addr.Guild == "" {
		return fmt.Errorf("%w: nicks are a guild's", transports.ErrUnsupported)
	}
	if nick == "" || len([]rune(nick)) > 32 {
		return fmt.Errorf("%w: a Discord nick has 1 to 32 characters", transports.ErrInvalidInput)
	}
	return classify(a.s.GuildMemberNickname(addr.Guild, "@me", nick, discordgo.WithContext(ctx)))
}

// OccupantContact is the member behind a room's occupant: the occupant
// ID is their user ID.
func (n *Network) OccupantContact(room transports.ID, nick, occupantID string) (transports.ID, error) {
	if !IsSnowflake(occupantID) {
		return "", fmt.Errorf("%w: no Discord user known for %s", transports.ErrNotFound, cut(nick, 64))
	}
	return UserID(occupantID), nil
}
