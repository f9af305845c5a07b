// Package spacebartest points an unmodified discordgo v0.29.0 at a
// Spacebar server started by testenv, and records a session's gateway
// events for tests to wait on. It is test harness only: testenv itself
// speaks to Spacebar with net/http and does not import discordgo.
package spacebartest

import (
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

var (
	pointMu   sync.Mutex
	pointedAt string
)

// PointAt redirects every discordgo endpoint to base (a server root such
// as "http://127.0.0.1:16000/"). discordgo has no per-session base URL:
// its endpoints are package variables, the derived ones computed once at
// init, so each is set here; the per-ID endpoint functions read them at
// call time and follow.
//
// Because they are globals, tests that use it must not run in parallel
// with tests pointing discordgo at a different server: a session's
// goroutines read these variables while another test would write them (a
// data race). For one server it is idempotent: pointing again at the
// current base writes nothing, so parallel tests sharing one Spacebar are
// safe.
func PointAt(base string) {
	pointMu.Lock()
	defer pointMu.Unlock()
	if pointedAt == base {
		return
	}
	pointedAt = base
	discordgo.EndpointDiscord = base
	discordgo.EndpointAPI = base + "api/v" + discordgo.APIVersion + "/"
	api := discordgo.EndpointAPI
	discordgo.EndpointGuilds = api + "guilds/"
	discordgo.EndpointChannels = api + "channels/"
	discordgo.EndpointUsers = api + "users/"
	discordgo.EndpointGateway = api + "gateway"
	discordgo.EndpointGatewayBot = discordgo.EndpointGateway + "/bot"
	discordgo.EndpointWebhooks = api + "webhooks/"
	discordgo.EndpointStickers = api + "stickers/"
	discordgo.EndpointStageInstances = api + "stage-instances"
	discordgo.EndpointSKUs = api + "skus"
	discordgo.EndpointCDN = base
	discordgo.EndpointCDNAttachments = base + "attachments/"
	discordgo.EndpointCDNAvatars = base + "avatars/"
	discordgo.EndpointCDNIcons = base + "icons/"
	discordgo.EndpointCDNSplashes = base + "splashes/"
	discordgo.EndpointCDNChannelIcons = base + "channel-icons/"
	discordgo.EndpointCDNBanners = base + "banners/"
	discordgo.EndpointCDNGuilds = base + "guilds/"
	discordgo.EndpointCDNRoleIcons = base + "role-icons/"
	discordgo.EndpointVoice = api + "voice/"
	discordgo.EndpointVoiceRegions = discordgo.EndpointVoice + "regions"
	discordgo.EndpointNitroStickersPacks = api + "sticker-packs"
	discordgo.EndpointGuildCreate = api + "guilds"
	discordgo.EndpointApplications = api + "applications"
	discordgo.EndpointOAuth2 = api + "oauth2/"
	discordgo.EndpointOAuth2Applications = discordgo.EndpointOAuth2 + "applications"
	discordgo.EndpointOauth2 = discordgo.EndpointOAuth2
	discordgo.EndpointOauth2Applications = discordgo.EndpointOAuth2Applications
}

// Session is a discordgo session on sb for token ("Bot "+token for a bot,
// the bare token for a user account) with every intent, its events
// recorded. It is not opened: call Open on it (after adding any handler
// that must see READY). It is closed at cleanup.
func Session(t testing.TB, sb *testenv.Spacebar, token string) (*discordgo.Session, *Recorder) {
	t.Helper()
	PointAt(sb.BaseURL())
	s, err := discordgo.New(token)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = discordgo.LogWarning
	s.Identify.Intents = discordgo.IntentsAll
	r := NewRecorder()
	s.AddHandler(func(_ *discordgo.Session, e *discordgo.Event) { r.add(e) })
	t.Cleanup(func() { s.Close() })
	return s, r
}

// Recorder keeps every gateway event a session dispatched, in order, for
// tests to wait on. Safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []*discordgo.Event
	added  chan struct{} // closed and replaced at each event
}

// NewRecorder is an empty recorder; add its handler to a session with
// session.AddHandler(func(_ *discordgo.Session, e *discordgo.Event) {...}),
// as [Session] does.
func NewRecorder() *Recorder {
	return &Recorder{added: make(chan struct{})}
}

func (r *Recorder) add(e *discordgo.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	close(r.added)
	r.added = make(chan struct{})
}

// Wait blocks until an event of type typ (as the gateway names it, e.g.
// "MESSAGE_CREATE") whose decoded struct satisfies match (nil: any) has
// been recorded, at any time since the recorder started, and returns that
// struct. It fails the test after timeout. Earlier events count, so a
// test may act first and wait after. With the session's state enabled (the
// default), some structs are shared with it (READY's guilds, which
// GUILD_CREATE fills in): read those under session.State.RLock.
func Wait[T any](t testing.TB, r *Recorder, typ string, match func(T) bool, timeout time.Duration) T {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		r.mu.Lock()
		events, added := r.events[seen:], r.added
		seen = len(r.events)
		r.mu.Unlock()
		for _, e := range events {
			if e.Type != typ {
				continue
			}
			v, ok := e.Struct.(T)
			if ok && (match == nil || match(v)) {
				return v
			}
		}
		select {
		case <-added:
		case <-deadline.C:
			var zero T
			t.Fatalf("no %s event matching within %s", typ, timeout)
			return zero
		}
	}
}
