package discord

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/switchboard-im/switchboard/transports"
)

// How the network reaches its server. discordgo's endpoints are package
// variables naming discord.com; rather than change them (process-wide,
// racy), every session gets an http.Client whose transport sends the
// requests for Discord's hosts to server_url. The gateway's address comes
// from the server (GET /gateway), so the websocket follows.

// discordHosts are the hosts discordgo's endpoints and Discord's messages
// name: REST and the CDN.
var discordHosts = map[string]bool{
	"discord.com":          true,
	"cdn.discordapp.com":   true,
	"media.discordapp.net": true,
}

// rewrite sends requests for discordHosts to base instead.
type rewrite struct {
	base *url.URL
	next http.RoundTripper
}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	if !discordHosts[req.URL.Hostname()] {
		return r.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.URL.Path = r.base.Path + strings.TrimPrefix(req.URL.Path, "/")
	req.URL.RawPath = ""
	req.Host = ""
	return r.next.RoundTrip(req)
}

// transport is the network's HTTP transport: no proxy from the
// environment, bounded handshakes; with a server_url, Discord's hosts
// rewritten to it.
func newTransport(base *url.URL, timeout time.Duration) http.RoundTripper {
	t := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	if base == nil {
		return t
	}
	return rewrite{base: base, next: t}
}

// cdnURL is the address of path on Discord's media CDN, or on the
// server_url that stands in for it.
func (n *Network) cdnURL(path string) string {
	if n.base != nil {
		return n.base.Scheme + "://" + n.base.Host + n.base.Path + path
	}
	return "https://media.discordapp.net/" + path
}

// fromServer reports whether raw names the server the network talks to
// (Discord's hosts, or server_url's host): files there are fetched by the
// adapter itself.
func (n *Network) fromServer(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	if n.base != nil {
		return u.Host == n.base.Host || discordHosts[u.Hostname()]
	}
	return u.Scheme == "https" && discordHosts[u.Hostname()]
}

// login is what a user registered with.
type login struct {
	token string
	bot   bool
}

// authorization is the Authorization header value discordgo sends.
func (l login) authorization() string {
	if l.bot {
		return "Bot " + l.token
	}
	return l.token
}

// parseLogin checks the registration values; its errors never quote the
// token.
func parseLogin(creds transports.Credentials) (login, error) {
	tok := strings.TrimSpace(creds[fieldToken])
	l := login{bot: creds[fieldAccount] != accountUser}
	if v := creds[fieldAccount]; v != "" && v != accountUser && v != accountBot {
		return l, fmt.Errorf("%w: account kind must be %q or %q", transports.ErrInvalidInput, accountBot, accountUser)
	}
	if t, ok := strings.CutPrefix(tok, "Bot "); ok {
		tok, l.bot = t, true
	}
	if tok == "" || len(tok) > 512 {
		return l, fmt.Errorf("%w: the token is empty or too long", transports.ErrInvalidInput)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return l, fmt.Errorf("%w: a token has only printable ASCII characters and no spaces", transports.ErrInvalidInput)
		}
	}
	l.token = tok
	return l, nil
}

// Intent sets tried in order for a bot: all, then without the privileged
// member and presence intents, then without message content (the bot's
// owner did not enable them in the developer portal: Discord closes with
// 4014). User accounts are sent the first.
var intentSets = []discordgo.Intent{
	discordgo.IntentsAll,
	discordgo.IntentsAllWithoutPrivileged | discordgo.IntentMessageContent,
	discordgo.IntentsAllWithoutPrivileged,
}

// deadlines bounds the gateway's handshake, which discordgo reads with no
// deadline: the connection it dials gets one until the adapter clears it
// after READY.
type deadlines struct {
	timeout time.Duration
	mu      sync.Mutex
	conn    net.Conn
}

func (d *deadlines) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: d.timeout}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(d.timeout))
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	return c, nil
}

// clear lifts the deadline of the last connection dialled: it is up.
func (d *deadlines) clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.SetDeadline(time.Time{})
	}
}

// newSession is a discordgo session for l, not opened: events handled in
// order on the reading goroutine, no reconnect of its own (the adapter
// redials through the supervisor's policy), state with recent messages
// (the authors of deleted ones).
func (n *Network) newSession(l login) (*discordgo.Session, *deadlines, error) {
	s, err := discordgo.New(l.authorization())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", transports.ErrInvalidInput, err)
	}
	dl := &deadlines{timeout: n.cfg.Timeout}
	s.Client = &http.Client{Transport: n.transport, Timeout: n.cfg.Timeout}
	s.Dialer = &websocket.Dialer{NetDialContext: dl.dial, HandshakeTimeout: n.cfg.Timeout}
	s.UserAgent = "DiscordBot (https://github.com/switchboard-im/switchboard, 1) Switchboard"
	s.ShouldReconnectOnError = false
	s.ShouldRetryOnRateLimit = true
	s.MaxRestRetries = 2
	s.SyncEvents = true
	s.LogLevel = discordgo.LogError
	s.Identify.Intents = intentSets[0]
	s.State.MaxMessageCount = 50
	return s, dl, nil
}

// openGateway opens s's gateway (IDENTIFY, READY), trying the intent sets
// of a bot in turn. It returns whether message content is among the
// granted intents.
func openGateway(s *discordgo.Session, dl *deadlines, bot bool) (content bool, err error) {
	sets := intentSets
	if !bot {
		sets = sets[:1]
	}
	for _, in := range sets {
		s.Identify.Intents = in
		err = s.Open()
		var ce *websocket.CloseError
		if err == nil {
			dl.clear()
			return in&discordgo.IntentMessageContent != 0, nil
		}
		if !errors.As(err, &ce) || ce.Code != closeDisallowedIntents {
			break
		}
	}
	return false, classify(err)
}

// Gateway close codes (Discord's documentation, "Gateway Close Event
// Codes").
const (
	closeAuthenticationFailed = 4004
	closeInvalidIntents       = 4013
	closeDisallowedIntents    = 4014
)

// classify wraps err, from discordgo or the connection under it, in the
// transports sentinel that says what the user can do. The text is
// Discord's own message, cleaned and cut; never a response body or an
// address.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *discordgo.RESTError
	var ce *websocket.CloseError
	var rl *discordgo.RateLimitError
	switch {
	case errors.As(err, &re):
		text := "HTTP " + fmt.Sprint(re.Response.StatusCode)
		if re.Message != nil && re.Message.Message != "" {
			text = clean(re.Message.Message, 200) + " (" + text + ")"
		}
		switch code := re.Response.StatusCode; {
		case code == http.StatusUnauthorized:
			return fmt.Errorf("%w: Discord: %s", transports.ErrBadCredentials, text)
		case code == http.StatusForbidden:
			return fmt.Errorf("%w: Discord: %s", transports.ErrForbidden, text)
		case code == http.StatusNotFound:
			return fmt.Errorf("%w: Discord: %s", transports.ErrNotFound, text)
		case code == http.StatusTooManyRequests:
			return fmt.Errorf("%w: Discord: %s", transports.ErrBusy, text)
		case code >= 400 && code < 500:
			return fmt.Errorf("%w: Discord: %s", transports.ErrInvalidInput, text)
		}
		return fmt.Errorf("%w: Discord: %s", transports.ErrUnavailable, text)
	case errors.As(err, &rl):
		return fmt.Errorf("%w: Discord's rate limit", transports.ErrBusy)
	case errors.As(err, &ce):
		switch ce.Code {
		case closeAuthenticationFailed:
			return fmt.Errorf("%w: Discord: authentication failed (gateway close 4004)", transports.ErrBadCredentials)
		case closeInvalidIntents, closeDisallowedIntents:
			return fmt.Errorf("%w: Discord refused the gateway intents (close %d)", transports.ErrForbidden, ce.Code)
		}
		return fmt.Errorf("%w: Discord closed the gateway (code %d)", transports.ErrUnavailable, ce.Code)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: Discord did not answer in time", transports.ErrUnavailable)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: Discord did not answer in time", transports.ErrUnavailable)
	}
	return fmt.Errorf("%w: could not reach Discord", transports.ErrUnavailable)
}

// clean makes text from Discord fit to show: valid UTF-8, no control
// characters (newlines become spaces), at most n bytes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = cut(s, n-len("…")) + "…"
	}
	if !utf8.ValidString(s) {
		return ""
	}
	return s
}
