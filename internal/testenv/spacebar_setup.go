package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// SpacebarUser is a registered Spacebar account. Token is a user token,
// sent as the Authorization header as is (no prefix), the way Discord's
// clients send theirs.
type SpacebarUser struct {
	Name  string
	ID    string
	Token string
}

// SpacebarBot is an application's bot user. Token is the bare bot token:
// Discord clients send "Bot "+Token. The bot user's ID is the
// application's.
type SpacebarBot struct {
	AppID string
	ID    string
	Token string
}

// SpacebarScene is what the recipe's setup.sh creates: users alice (the
// guild's owner) and bob, alice's application "relaybot" with its bot,
// guild "testguild" with a text channel "general" (besides the default
// one Spacebar creates with the guild), bob joined through an invite, and
// the bot authorised into the guild as administrator.
type SpacebarScene struct {
	Alice, Bob SpacebarUser
	Bot        SpacebarBot
	GuildID    string
	ChannelID  string
}

// SetupScene creates the recipe's scene (see [SpacebarScene]) over the
// REST API (about a second). Usernames may repeat across calls: Spacebar
// gives each account a random discriminator.
func (s *Spacebar) SetupScene(t testing.TB) SpacebarScene {
	t.Helper()
	var sc SpacebarScene
	sc.Alice = s.RegisterUser(t, "alice")
	sc.Bob = s.RegisterUser(t, "bob")
	sc.Bot = s.CreateBot(t, sc.Alice, "relaybot")
	sc.GuildID = s.CreateGuild(t, sc.Alice, "testguild")
	sc.ChannelID = s.CreateTextChannel(t, sc.Alice, sc.GuildID, "general")
	s.JoinGuild(t, sc.Alice, sc.Bob, sc.ChannelID)
	s.AuthorizeBot(t, sc.Alice, sc.Bot, sc.GuildID, "8")
	return sc
}

// RegisterUser registers an account (POST /auth/register, no captcha or
// date of birth required by the test config) and looks up its ID.
func (s *Spacebar) RegisterUser(t testing.TB, name string) SpacebarUser {
	t.Helper()
	var reg struct {
		Token string `json:"token"`
	}
	s.call(t, http.MethodPost, "auth/register", "", map[string]any{
		"username": name, "password": "Passw0rd!" + name, "consent": true, "date_of_birth": "1990-01-01",
	}, &reg)
	var me struct {
		ID string `json:"id"`
	}
	s.call(t, http.MethodGet, "users/@me", reg.Token, nil, &me)
	nonEmpty(t, "registered user's id", me.ID)
	nonEmpty(t, "registered user's token", reg.Token)
	return SpacebarUser{Name: name, ID: me.ID, Token: reg.Token}
}

// CreateBot creates an application owned by owner and its bot user.
func (s *Spacebar) CreateBot(t testing.TB, owner SpacebarUser, name string) SpacebarBot {
	t.Helper()
	var app struct {
		ID string `json:"id"`
	}
	s.call(t, http.MethodPost, "applications", owner.Token, map[string]any{"name": name}, &app)
	nonEmpty(t, "application id", app.ID)
	var bot struct {
		Token string `json:"token"`
	}
	s.call(t, http.MethodPost, "applications/"+app.ID+"/bot", owner.Token, nil, &bot)
	nonEmpty(t, "bot token", bot.Token)
	return SpacebarBot{AppID: app.ID, ID: app.ID, Token: bot.Token}
}

// CreateGuild creates a guild owned by owner and returns its ID.
func (s *Spacebar) CreateGuild(t testing.TB, owner SpacebarUser, name string) string {
	t.Helper()
	var g struct {
		ID string `json:"id"`
	}
	s.call(t, http.MethodPost, "guilds", owner.Token, map[string]any{"name": name}, &g)
	nonEmpty(t, "guild id", g.ID)
	return g.ID
}

// CreateTextChannel creates a text channel (type 0) in a guild and returns
// its ID; by must be allowed to manage channels.
func (s *Spacebar) CreateTextChannel(t testing.TB, by SpacebarUser, guildID, name string) string {
	t.Helper()
	var c struct {
		ID string `json:"id"`
	}
	s.call(t, http.MethodPost, "guilds/"+guildID+"/channels", by.Token, map[string]any{"name": name, "type": 0}, &c)
	nonEmpty(t, "channel id", c.ID)
	return c.ID
}

// JoinGuild makes user a member of the channel's guild: inviter (a
// member allowed to invite) creates a permanent invite to the channel and
// user accepts it.
func (s *Spacebar) JoinGuild(t testing.TB, inviter, user SpacebarUser, channelID string) {
	t.Helper()
	var inv struct {
		Code string `json:"code"`
	}
	s.call(t, http.MethodPost, "channels/"+channelID+"/invites", inviter.Token, map[string]any{"max_age": 0}, &inv)
	nonEmpty(t, "invite code", inv.Code)
	s.call(t, http.MethodPost, "invites/"+url.PathEscape(inv.Code), user.Token, map[string]any{}, nil)
}

// AuthorizeBot adds bot to a guild with the given permission bits (a
// decimal string, "8" is administrator) through the OAuth2 authorize call
// a guild manager makes in Discord's web page.
func (s *Spacebar) AuthorizeBot(t testing.TB, by SpacebarUser, bot SpacebarBot, guildID, permissions string) {
	t.Helper()
	s.call(t, http.MethodPost, "oauth2/authorize?client_id="+url.QueryEscape(bot.AppID), by.Token,
		map[string]any{"authorize": true, "guild_id": guildID, "permissions": permissions}, nil)
}

func nonEmpty(t testing.TB, what, v string) {
	t.Helper()
	if v == "" {
		t.Fatalf("spacebar answered without a %s", what)
	}
}

// call is one JSON request to the REST API, failing the test on any
// error or non-2xx answer; out (if not nil) receives the decoded body.
func (s *Spacebar) call(t testing.TB, method, path, token string, in, out any) {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := s.do(ctx, method, path, token, in, out); err != nil {
		t.Fatal(err)
	}
}

func (s *Spacebar) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.APIURL()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("spacebar %s /%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("spacebar %s /%s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("spacebar %s /%s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("spacebar %s /%s: decoding %q: %w", method, path, b, err)
		}
	}
	return nil
}
