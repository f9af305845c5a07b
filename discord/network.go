// Package discord is the Discord transport: one user's Discord account (a
// bot token, or the user's own account's token) as XMPP contacts and
// rooms. Guild text channels and group DMs are rooms, people are
// contacts reached through DMs; edits, deletions, reactions, replies,
// typing and files go both ways. It speaks Discord's REST API v9 and
// gateway through github.com/bwmarrin/discordgo, to Discord or to a
// Discord-compatible server (Spacebar), and knows nothing of XMPP.
package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// Registration field names and the account kinds.
const (
	fieldToken   = "token"
	fieldAccount = "account"
	accountBot   = "bot"
	accountUser  = "user"
)

// Network is the Discord network. It holds no per-user state.
type Network struct {
	cfg       Config
	base      *url.URL // server_url, nil for Discord
	transport http.RoundTripper
	log       *slog.Logger
}

// New returns the network for cfg, which Check found fine. It does no
// I/O.
func New(cfg Config) (*Network, error) {
	cfg = cfg.withDefaults()
	n := &Network{cfg: cfg, log: cfg.Logger}
	if cfg.ServerURL != "" {
		u, err := parseServerURL(cfg.ServerURL)
		if err != nil {
			return nil, fmt.Errorf("[discord] server_url: %w", err)
		}
		n.base = u
	}
	n.transport = newTransport(n.base, cfg.Timeout)
	logOnce.Do(func() { discordgo.Logger = discordgoLog })
	return n, nil
}

// Name is "discord".
func (n *Network) Name() string { return "discord" }

// Identity is gateway/discord.
func (n *Network) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "discord", Name: "Discord"}
}

// Capabilities are what Discord has and this package implements.
func (n *Network) Capabilities() transports.Capabilities {
	return transports.Capabilities{
		Rooms:          true,
		RoomListing:    true,
		StayConnected:  true,
		ConferenceType: "text",
		ChatStates:     true,
		Reactions:      true,
		Replies:        true,
		Corrections:    true,
		Retractions:    true,
		Moderation:     true,
		Attachments:    true,
		SendFiles:      true,
		Profiles:       true,
		Contacts:       true,
		WatchPresence:  true,
		ServerListing:  true,
		NickChange:     true,
		OccupantIDs:    true,
		// A private message to room/nick is a DM to the member.
		PrivateMessages: true,
		MaxOccupants:    n.cfg.MaxMembers,
		// Discord takes 2 000 characters a message; longer bodies are
		// split into at most maxParts messages.
		MaxBody: maxParts * maxMessageRunes * 4,
	}
}

// LoginFields are the token and which kind of account it is.
func (n *Network) LoginFields() []transports.Field {
	return []transports.Field{
		{
			Name:  fieldToken,
			Label: "Discord token",
			Desc: "A bot token: create an application at https://discord.com/developers/applications, " +
				"add a bot, copy its token (Bot → Reset Token), enable the Message Content intent, and add the bot to your guilds. " +
				"Or your own account's token (Discord's terms forbid automating user accounts: the account may be banned). " +
				"The token is stored encrypted and never shown.",
			Kind:     transports.FieldSecret,
			Required: true,
			Legacy:   "password",
			MaxLen:   512,
		},
		{
			Name:    fieldAccount,
			Label:   "Kind of account",
			Desc:    "Bot: the token of your own bot. User: your own account (against Discord's terms, at your own risk).",
			Kind:    transports.FieldList,
			Default: accountBot,
			Options: []transports.Option{
				{Label: "A bot of mine", Value: accountBot},
				{Label: "My own account (against Discord's terms)", Value: accountUser},
			},
		},
	}
}

// Kind tells users, rooms and guilds apart by their form (see ParseID).
func (n *Network) Kind(id transports.ID) (transports.IDKind, error) {
	a, err := ParseID(id)
	return a.Kind, err
}

// Validate logs in with the token: GET /users/@me, then the gateway's
// IDENTIFY up to READY, and closes. A refused token is an error wrapping
// ErrBadCredentials with Discord's text; a bot token registered as a user
// account (or the other way round) ErrInvalidInput.
func (n *Network) Validate(ctx context.Context, creds transports.Credentials) error {
	l, err := parseLogin(creds)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	s, dl, err := n.newSession(l)
	if err != nil {
		return err
	}
	if _, err := n.checkToken(ctx, s, l); err != nil {
		return err
	}
	release, err := n.budget("(registration) discord")
	if err != nil {
		return err
	}
	defer release()
	if _, err := openGateway(s, dl, l.bot); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		n.log.Debug("discord: closing the registration check's gateway", "err", err)
	}
	return nil
}

// checkToken is the REST half of a login: whose token it is.
func (n *Network) checkToken(ctx context.Context, s *discordgo.Session, l login) (*discordgo.User, error) {
	u, err := s.User("@me", discordgo.WithContext(ctx))
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
		// The call takes nothing but the token: any refusal is the
		// token's (Discord answers 401, Spacebar 400).
		text := fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		if re.Message != nil && re.Message.Message != "" {
			text = clean(re.Message.Message, 200) + " (" + text + ")"
		}
		return nil, fmt.Errorf("%w: Discord: %s", transports.ErrBadCredentials, text)
	}
	if err != nil {
		return nil, classify(err)
	}
	if u.Bot != l.bot {
		if u.Bot {
			return nil, fmt.Errorf("%w: this is a bot's token; register it as a bot", transports.ErrInvalidInput)
		}
		return nil, fmt.Errorf("%w: this is a user account's token; register it as a user account", transports.ErrInvalidInput)
	}
	return u, nil
}

// budget accounts for one gateway connection of user.
func (n *Network) budget(user string) (func(), error) {
	if n.cfg.Budget == nil {
		return func() {}, nil
	}
	release, err := n.cfg.Budget.Open(user)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transports.ErrLimit, err)
	}
	return release, nil
}

// logOnce sets discordgo's logger, a package variable, once, before any
// session of the process runs.
var logOnce sync.Once

// discordgoLog sends discordgo's own logs (errors only: its lower levels
// quote payloads, which may be message texts) to slog at debug level,
// cut: they are mostly the noise of a connection closing.
func discordgoLog(level, _ int, format string, a ...any) {
	slog.Debug("discordgo: " + clean(fmt.Sprintf(format, a...), 300))
}
