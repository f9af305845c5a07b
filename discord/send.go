package discord

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// What the user does, from XMPP to Discord.

// target is the channel a conversation's messages go to: a joined
// room's, or the DM channel with a person (opened on first use).
func (a *adapter) target(ctx context.Context, to transports.ID) (channel string, r *room, err error) {
	addr, err := ParseID(to)
	if err != nil {
		return "", nil, err
	}
	switch addr.Kind {
	case transports.KindRoom:
		a.mu.Lock()
		r, ok := a.rooms[addr.Channel]
		a.mu.Unlock()
		if !ok || r.id != to {
			return "", nil, fmt.Errorf("%w: join %s first", transports.ErrNotFound, to)
		}
		return addr.Channel, r, nil
	case transports.KindContact:
		a.mu.Lock()
		ch, ok := a.dmOf[addr.User]
		a.mu.Unlock()
		if ok {
			return ch, nil, nil
		}
		if addr.User == a.self {
			return "", nil, fmt.Errorf("%w: that is this account itself", transports.ErrInvalidInput)
		}
		c, err := a.s.UserChannelCreate(addr.User, discordgo.WithContext(ctx))
		if err != nil {
			return "", nil, classify(err)
		}
		a.rememberDM(c.ID, addr.User)
		return c.ID, nil, nil
	}
	return "", nil, fmt.Errorf("%w: %s is a guild, not a conversation", transports.ErrInvalidInput, to)
}

// Send sends msg, split into at most 4 messages of 2 000 characters;
// a longer body is refused with ErrLimit and nothing is sent. It returns
// the first message's ID. An action is sent in italics.
func (a *adapter) Send(ctx context.Context, msg transports.Message) (transports.RemoteID, error) {
	return a.send(ctx, msg, nil)
}

// SendFiles sends msg with its files attached to its last message,
// streamed from each file's Open (see postFiles).
func (a *adapter) SendFiles(ctx context.Context, msg transports.Message) (transports.RemoteID, error) {
	for _, f := range msg.Files {
		if f.Open == nil {
			return "", fmt.Errorf("%w: a file without content", transports.ErrInvalidInput)
		}
	}
	return a.send(ctx, msg, msg.Files)
}

func (a *adapter) send(ctx context.Context, msg transports.Message, files []transports.File) (transports.RemoteID, error) {
	channel, r, err := a.target(ctx, msg.To)
	if err != nil {
		return "", err
	}
	body := msg.Body
	if r != nil {
		body = markup(body, r.nicks())
	}
	if msg.Action && body != "" {
		body = "_" + body + "_"
	}
	parts := splitMessage(body, maxMessageRunes)
	if len(parts) > maxParts {
		return "", fmt.Errorf("%w: Discord takes %d characters a message; this one has %d (at most %d messages are sent for one)",
			transports.ErrLimit, maxMessageRunes, utf8.RuneCountInString(body), maxParts)
	}
	done := a.begin(channel)
	defer done()
	var first transports.RemoteID
	for i, p := range parts {
		ms := &discordgo.MessageSend{
			Content:         p,
			AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{discordgo.AllowedMentionTypeUsers}, RepliedUser: true},
		}
		if i == 0 && msg.ReplyTo != "" {
			ms.Reference = &discordgo.MessageReference{MessageID: string(msg.ReplyTo), ChannelID: channel}
		}
		last := i == len(parts)-1
		if ms.Content == "" && !(last && len(files) > 0) {
			return "", fmt.Errorf("%w: an empty message", transports.ErrInvalidInput)
		}
		var m *discordgo.Message
		var err error
		if last && len(files) > 0 {
			m, err = a.postFiles(ctx, channel, ms, files)
		} else {
			m, err = a.s.ChannelMessageSendComplex(channel, ms, discordgo.WithContext(ctx))
		}
		if err != nil {
			if i > 0 {
				return first, fmt.Errorf("after %d of %d parts: %w", i, len(parts), classify(err))
			}
			return "", classify(err)
		}
		x := ""
		if i == 0 {
			first, x = transports.RemoteID(m.ID), msg.ID
		}
		a.mark("msg", m.ID, x)
	}
	return first, nil
}

// Edit replaces the text of the user's message target; a text over
// 2 000 characters is refused (ErrLimit).
func (a *adapter) Edit(ctx context.Context, to transports.ID, target transports.RemoteID, body string) error {
	channel, r, err := a.target(ctx, to)
	if err != nil {
		return err
	}
	if r != nil {
		body = markup(body, r.nicks())
	}
	if n := utf8.RuneCountInString(body); n > maxMessageRunes {
		return fmt.Errorf("%w: Discord takes %d characters a message; the correction has %d", transports.ErrLimit, maxMessageRunes, n)
	}
	done := a.begin(channel)
	defer done()
	if _, err := a.s.ChannelMessageEdit(channel, string(target), body, discordgo.WithContext(ctx)); err != nil {
		return classify(err)
	}
	a.mark("edit", string(target), "")
	return nil
}

// Retract deletes the user's message target.
func (a *adapter) Retract(ctx context.Context, to transports.ID, target transports.RemoteID) error {
	channel, _, err := a.target(ctx, to)
	if err != nil {
		return err
	}
	done := a.begin(channel)
	defer done()
	if err := a.s.ChannelMessageDelete(channel, string(target), discordgo.WithContext(ctx)); err != nil {
		return classify(err)
	}
	a.mark("del", string(target), "")
	return nil
}

// React adds or removes the user's reaction: a Unicode emoji, or a
// custom emoji written :name: as Discord's reactions arrive (see
// emojiText), found by name in the room's guild, then in the account's
// other guilds.
func (a *adapter) React(ctx context.Context, to transports.ID, target transports.RemoteID, reaction string, remove bool) error {
	channel, r, err := a.target(ctx, to)
	if err != nil {
		return err
	}
	guild := ""
	if r != nil {
		guild = r.guild
	}
	api, err := a.emojiRef(guild, reaction)
	if err != nil {
		return err
	}
	defer a.begin(channel)()
	op := "react"
	if remove {
		op = "unreact"
		err = a.s.MessageReactionRemove(channel, string(target), api, "@me", discordgo.WithContext(ctx))
	} else {
		err = a.s.MessageReactionAdd(channel, string(target), api, discordgo.WithContext(ctx))
	}
	if err != nil {
		return classify(err)
	}
	a.mark(op, string(target)+" "+reaction, "") // its event is not news
	return nil
}

// emojiRef is how Discord's API names reaction: a Unicode emoji as it
// is; a custom one, :name:, as name:id of the first emoji of that name in
// guild ("" for a DM), else in the account's other guilds (as a Discord
// client offers them).
func (a *adapter) emojiRef(guild, reaction string) (string, error) {
	if reaction == "" || len(reaction) > 64 {
		return "", fmt.Errorf("%w: not a reaction Discord takes", transports.ErrInvalidInput)
	}
	name, custom := strings.CutPrefix(reaction, ":")
	if name, custom = strings.CutSuffix(name, ":"); !custom || name == "" {
		if reaction[0] == ':' {
			return "", fmt.Errorf("%w: a custom emoji is written :name:", transports.ErrInvalidInput)
		}
		return reaction, nil
	}
	a.s.State.RLock()
	defer a.s.State.RUnlock()
	find := func(g *discordgo.Guild) string {
		for _, e := range g.Emojis {
			if e != nil && e.Name == name && e.ID != "" {
				return e.Name + ":" + e.ID
			}
		}
		return ""
	}
	for _, g := range a.s.State.Guilds {
		if g != nil && g.ID == guild {
			if ref := find(g); ref != "" {
				return ref, nil
			}
		}
	}
	for _, g := range a.s.State.Guilds {
		if g != nil && g.ID != guild {
			if ref := find(g); ref != "" {
				return ref, nil
			}
		}
	}
	return "", fmt.Errorf("%w: no custom emoji named %s in your guilds", transports.ErrNotFound, clean(name, 64))
}

// SetTyping shows the user typing (Discord shows it for 10 s); other
// states send nothing, Discord has no "stopped typing".
func (a *adapter) SetTyping(ctx context.Context, to transports.ID, state transports.ChatState) error {
	if state != transports.Composing {
		return nil
	}
	channel, _, err := a.target(ctx, to)
	if err != nil {
		return err
	}
	return classify(a.s.ChannelTyping(channel, discordgo.WithContext(ctx)))
}

// SetPresence mirrors the user's availability: away and extended away
// are idle, do-not-disturb dnd, offline invisible.
func (a *adapter) SetPresence(_ context.Context, p transports.Presence) error {
	status := discordgo.StatusOnline
	switch p.Show {
	case transports.Away, transports.ExtendedAway:
		status = discordgo.StatusIdle
	case transports.DoNotDisturb:
		status = discordgo.StatusDoNotDisturb
	case transports.Offline:
		status = discordgo.StatusInvisible
	}
	err := a.s.UpdateStatusComplex(discordgo.UpdateStatusData{Status: string(status), AFK: status == discordgo.StatusIdle, Activities: []*discordgo.Activity{}})
	if errors.Is(err, discordgo.ErrWSNotFound) {
		return fmt.Errorf("%w: the gateway is reconnecting", transports.ErrNotConnected)
	}
	if err != nil {
		return classify(err)
	}
	return nil
}

// ModerateRetract deletes someone else's message target in room, as a
// member allowed to manage messages; Discord decides (ErrForbidden with
// its text otherwise). The reason goes to the guild's audit log. The
// deletion's event comes back Moderated, by the user's own nick.
func (a *adapter) ModerateRetract(ctx context.Context, room transports.ID, target transports.RemoteID, reason string) error {
	channel, r, err := a.target(ctx, room)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: %s is not a room", transports.ErrInvalidInput, room)
	}
	done := a.begin(channel)
	defer done()
	opts := []discordgo.RequestOption{discordgo.WithContext(ctx)}
	if reason = clean(reason, 400); reason != "" {
		opts = append(opts, discordgo.WithAuditLogReason(url.PathEscape(reason)))
	}
	if err := a.s.ChannelMessageDelete(channel, string(target), opts...); err != nil {
		return classify(err)
	}
	a.mark("mod", string(target), reason)
	return nil
}

// SetSubject changes a guild channel's topic (the user needs Discord's
// Manage Channels permission: ErrForbidden otherwise) or a group DM's
// name; the change is seen in the CHANNEL_UPDATE that follows.
func (a *adapter) SetSubject(ctx context.Context, room transports.ID, subject string) error {
	channel, r, err := a.target(ctx, room)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: %s is not a room", transports.ErrInvalidInput, room)
	}
	edit := &discordgo.ChannelEdit{Topic: subject}
	if r.guild == "" {
		edit = &discordgo.ChannelEdit{Name: subject}
	}
	if n := utf8.RuneCountInString(subject); n > 1024 {
		return fmt.Errorf("%w: Discord takes topics of 1024 characters; this one has %d", transports.ErrLimit, n)
	}
	_, err = a.s.ChannelEditComplex(channel, edit, discordgo.WithContext(ctx))
	return classify(err)
}
