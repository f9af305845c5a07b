package discord

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Addresses. Users, channels and guilds on Discord are all snowflakes
// (decimal uint64s), so an ID says what it names by its form, never by a
// look-up:
//
//	<user>            a person (or bot): one-to-one chat through a DM
//	<channel>%<guild> a guild's text channel, a room
//	<channel>%dm      a group DM, a room
//	<guild>%guild     a guild itself (its node: browsing, its notices)
//
// Every function here is pure: no I/O, no state.

// Address is a parsed ID.
type Address struct {
	// Kind is what the ID names.
	Kind transports.IDKind
	// User is the person's snowflake (KindContact).
	User string
	// Channel is the channel's snowflake (KindRoom).
	Channel string
	// Guild is the guild's snowflake (a guild channel, or KindServer);
	// empty for a group DM.
	Guild string
}

// Group reports whether a is a group DM.
func (a Address) Group() bool { return a.Kind == transports.KindRoom && a.Guild == "" }

const (
	groupSuffix = "dm"
	guildSuffix = "guild"
)

// IsSnowflake reports whether s is a snowflake as Discord writes them: a
// decimal uint64 above zero, without sign or leading zero.
func IsSnowflake(s string) bool {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// ParseID tells what id names. It returns an error wrapping
// transports.ErrInvalidInput for anything but the four forms of the
// package (see Address); it quotes at most a cut of id.
func ParseID(id transports.ID) (Address, error) {
	s := string(id)
	left, right, two := strings.Cut(s, "%")
	switch {
	case !two && IsSnowflake(left):
		return Address{Kind: transports.KindContact, User: left}, nil
	case two && IsSnowflake(left) && IsSnowflake(right):
		return Address{Kind: transports.KindRoom, Channel: left, Guild: right}, nil
	case two && IsSnowflake(left) && right == groupSuffix:
		return Address{Kind: transports.KindRoom, Channel: left}, nil
	case two && IsSnowflake(left) && right == guildSuffix:
		return Address{Kind: transports.KindServer, Guild: left}, nil
	}
	return Address{}, fmt.Errorf("%w: %q is not a Discord address (a user ID, channel%%guild, channel%%dm or guild%%guild)", transports.ErrInvalidInput, cut(s, 64))
}

// ID formats a as an ID; it is ParseID's inverse for every Address
// ParseID returns.
func (a Address) ID() transports.ID {
	switch a.Kind {
	case transports.KindContact:
		return UserID(a.User)
	case transports.KindServer:
		return GuildID(a.Guild)
	}
	if a.Guild == "" {
		return GroupID(a.Channel)
	}
	return ChannelID(a.Channel, a.Guild)
}

// UserID is the ID of the person user.
func UserID(user string) transports.ID { return transports.ID(user) }

// ChannelID is the ID of the text channel channel of guild.
func ChannelID(channel, guild string) transports.ID {
	return transports.ID(channel + "%" + guild)
}

// GroupID is the ID of the group DM channel.
func GroupID(channel string) transports.ID { return transports.ID(channel + "%" + groupSuffix) }

// GuildID is the ID of the guild itself.
func GuildID(guild string) transports.ID { return transports.ID(guild + "%" + guildSuffix) }

// cut returns s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
