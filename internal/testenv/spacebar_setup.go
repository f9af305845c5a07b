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
	"time"
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
// REST API (about a second), failing t on any error.
func (s *Spacebar) SetupScene(t testing.TB) SpacebarScene {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := s.NewScene(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// NewScene creates the recipe's scene (see [SpacebarScene]) over the REST
// API. Usernames may repeat across calls: Spacebar gives each account a
// random discriminator.
func (s *Spacebar) NewScene(ctx context.Context) (SpacebarScene, error) {
	var sc SpacebarScene
	var err error
	if sc.Alice, err = s.registerUser(ctx, "alice"); err != nil {
		return sc, err
	}
	if sc.Bob, err = s.registerUser(ctx, "bob"); err != nil {
		return sc, err
	}
	if sc.Bot, err = s.createBot(ctx, sc.Alice, "relaybot"); err != nil {
		return sc, err
	}
	if sc.GuildID, err = s.createGuild(ctx, sc.Alice, "testguild"); err != nil {
		return sc, err
	}
	if sc.ChannelID, err = s.createTextChannel(ctx, sc.Alice, sc.GuildID, "general"); err != nil {
		return sc, err
	}
	if err := s.joinGuild(ctx, sc.Alice, sc.Bob, sc.ChannelID); err != nil {
		return sc, err
	}
	return sc, s.authorizeBot(ctx, sc.Alice, sc.Bot, sc.GuildID, "8")
}

// must is the test's side of a call returning (T, error): it fails t on
// the error, else returns the value.
func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// RegisterUser registers an account (POST /auth/register, no captcha or
// date of birth required by the test config) and looks up its ID.
func (s *Spacebar) RegisterUser(t testing.TB, name string) SpacebarUser {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	return must[SpacebarUser](t)(s.registerUser(ctx, name))
}

func (s *Spacebar) registerUser(ctx context.Context, name string) (SpacebarUser, error) {
	var reg struct {
		Token string `json:"token"`
	}
	if err := s.do(ctx, http.MethodPost, "auth/register", "", map[string]any{
		"username": name, "password": "Passw0rd!" + name, "consent": true, "date_of_birth": "1990-01-01",
	}, &reg); err != nil {
		return SpacebarUser{}, err
	}
	var me struct {
		ID string `json:"id"`
	}
	if err := s.do(ctx, http.MethodGet, "users/@me", reg.Token, nil, &me); err != nil {
		return SpacebarUser{}, err
	}
	return SpacebarUser{Name: name, ID: me.ID, Token: reg.Token}, nonEmpty("registered user's id and token", me.ID, reg.Token)
}

// CreateBot creates an application owned by owner and its bot user.
func (s *Spacebar) CreateBot(t testing.TB, owner SpacebarUser, name string) SpacebarBot {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	return must[SpacebarBot](t)(s.createBot(ctx, owner, name))
}

func (s *Spacebar) createBot(ctx context.Context, owner SpacebarUser, name string) (SpacebarBot, error) {
	var app struct {
		ID string `json:"id"`
	}
	if err := s.do(ctx, http.MethodPost, "applications", owner.Token, map[string]any{"name": name}, &app); err != nil {
		return SpacebarBot{}, err
	}
	var bot struct {
		Token string `json:"token"`
	}
	if err := s.do(ctx, http.MethodPost, "applications/"+app.ID+"/bot", owner.Token, nil, &bot); err != nil {
		return SpacebarBot{}, err
	}
	return SpacebarBot{AppID: app.ID, ID: app.ID, Token: bot.Token}, nonEmpty("application id and bot token", app.ID, bot.Token)
}

// CreateGuild creates a guild owned by owner and returns its ID.
func (s *Spacebar) CreateGuild(t testing.TB, owner SpacebarUser, name string) string {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	return must[string](t)(s.createGuild(ctx, owner, name))
}

func (s *Spacebar) createGuild(ctx context.Context, owner SpacebarUser, name string) (string, error) {
	var g struct {
		ID string `json:"id"`
	}
	if err := s.do(ctx, http.MethodPost, "guilds", owner.Token, map[string]any{"name": name}, &g); err != nil {
		return "", err
	}
	return g.ID, nonEmpty("guild id", g.ID)
}

// CreateTextChannel creates a text channel (type 0) in a guild and returns
// its ID; by must be allowed to manage channels.
func (s *Spacebar) CreateTextChannel(t testing.TB, by SpacebarUser, guildID, name string) string {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	return must[string](t)(s.createTextChannel(ctx, by, guildID, name))
}

func (s *Spacebar) createTextChannel(ctx context.Context, by SpacebarUser, guildID, name string) (string, error) {
	var c struct {
		ID string `json:"id"`
	}
	if err := s.do(ctx, http.MethodPost, "guilds/"+guildID+"/channels", by.Token, map[string]any{"name": name, "type": 0}, &c); err != nil {
		return "", err
	}
	return c.ID, nonEmpty("channel id", c.ID)
}

// JoinGuild makes user a member of the channel's guild: inviter (a
// member allowed to invite) creates a permanent invite to the channel and
// user accepts it.
func (s *Spacebar) JoinGuild(t testing.TB, inviter, user SpacebarUser, channelID string) {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := s.joinGuild(ctx, inviter, user, channelID); err != nil {
		t.Fatal(err)
	}
}

func (s *Spacebar) joinGuild(ctx context.Context, inviter, user SpacebarUser, channelID string) error {
	var inv struct {
		Code string `json:"code"`
	}
	if err := s.do(ctx, http.MethodPost, "channels/"+channelID+"/invites", inviter.Token, map[string]any{"max_age": 0}, &inv); err != nil {
		return err
	}
	if err := nonEmpty("invite code", inv.Code); err != nil {
		return err
	}
	return s.do(ctx, http.MethodPost, "invites/"+url.PathEscape(inv.Code), user.Token, map[string]any{}, nil)
}

// AuthorizeBot adds bot to a guild with the given permission bits (a
// decimal string, "8" is administrator) through the OAuth2 authorize call
// a guild manager makes in Discord's web page.
func (s *Spacebar) AuthorizeBot(t testing.TB, by SpacebarUser, bot SpacebarBot, guildID, permissions string) {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := s.authorizeBot(ctx, by, bot, guildID, permissions); err != nil {
		t.Fatal(err)
	}
}

func (s *Spacebar) authorizeBot(ctx context.Context, by SpacebarUser, bot SpacebarBot, guildID, permissions string) error {
	return s.do(ctx, http.MethodPost, "oauth2/authorize?client_id="+url.QueryEscape(bot.AppID), by.Token,
		map[string]any{"authorize": true, "guild_id": guildID, "permissions": permissions}, nil)
}

// SpacebarMessage is a channel message as the REST API lists it.
type SpacebarMessage struct {
	ID      string `json:"id"`
	Content string `json:"content"`
	Author  struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	} `json:"author"`
}

// Say posts text to channel as the user whose token this is, and returns
// the message's ID.
func (s *Spacebar) Say(ctx context.Context, token, channelID, text string) (string, error) {
	var m SpacebarMessage
	if err := s.do(ctx, http.MethodPost, "channels/"+channelID+"/messages", token, map[string]any{"content": text}, &m); err != nil {
		return "", err
	}
	return m.ID, nonEmpty("message id", m.ID)
}

// Messages lists channel's latest messages (at most 50), newest first,
// as the user whose token this is sees them.
func (s *Spacebar) Messages(ctx context.Context, token, channelID string) ([]SpacebarMessage, error) {
	var ms []SpacebarMessage
	return ms, s.do(ctx, http.MethodGet, "channels/"+channelID+"/messages?limit=50", token, nil, &ms)
}

// nonEmpty is an error when one of vs is empty: Spacebar answered without
// what.
func nonEmpty(what string, vs ...string) error {
	for _, v := range vs {
		if v == "" {
			return fmt.Errorf("spacebar answered without a %s", what)
		}
	}
	return nil
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
