package discord

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// The tests below run against a real Spacebar (a server implementing
// Discord's REST API v9 and gateway), one per test package: it takes
// 16–20 s to start. It is started by the first test that needs it and
// stopped by TestMain. A missing prerequisite (PostgreSQL 15, npm) fails
// those tests; it never skips them.

var shared testenv.SharedSpacebar

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// spacebar is the package's shared server.
func spacebar(t *testing.T) *testenv.Spacebar {
	t.Helper()
	return shared.Get(t)
}

var (
	usersOnce               sync.Once
	sbAlice, sbBob, sbCarol testenv.SpacebarUser
)

// scene is the recipe's scene (testenv.SpacebarScene) with a guild,
// channel and bot of its own, for users registered once per package:
// Spacebar refuses more than about twenty registrations from one address
// in a while.
func scene(t *testing.T, sb *testenv.Spacebar) testenv.SpacebarScene {
	t.Helper()
	usersOnce.Do(func() {
		sbAlice, sbBob, sbCarol = sb.RegisterUser(t, "alice"), sb.RegisterUser(t, "bob"), sb.RegisterUser(t, "carol")
	})
	if sbAlice.ID == "" || sbBob.ID == "" || sbCarol.ID == "" {
		t.Fatal("the package's users were not registered (see the first test's failure)")
	}
	sc := testenv.SpacebarScene{Alice: sbAlice, Bob: sbBob}
	sc.Bot = sb.CreateBot(t, sc.Alice, "relaybot")
	sc.GuildID = sb.CreateGuild(t, sc.Alice, "testguild")
	sc.ChannelID = sb.CreateTextChannel(t, sc.Alice, sc.GuildID, "general")
	sb.JoinGuild(t, sc.Alice, sc.Bob, sc.ChannelID)
	sb.AuthorizeBot(t, sc.Alice, sc.Bot, sc.GuildID, "8")
	return sc
}

// network is a Network pointed at sb.
func network(t *testing.T, sb *testenv.Spacebar) *Network {
	t.Helper()
	n, err := New(Config{ServerURL: sb.BaseURL(), Timeout: 20 * time.Second, MaxAttachment: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const wait = 15 * time.Second

// sink records what an adapter delivers, for tests to wait on.
type sink struct {
	mu     sync.Mutex
	events []transports.Event
	added  chan struct{}
}

func newSink() *sink { return &sink{added: make(chan struct{})} }

func (s *sink) Deliver(ev transports.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	close(s.added)
	s.added = make(chan struct{})
}

// all is every event delivered so far.
func (s *sink) all() []transports.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]transports.Event(nil), s.events...)
}

// await waits until an event of type T matching ok was delivered (at any
// time) and returns it.
func await[T transports.Event](t *testing.T, s *sink, ok func(T) bool) T {
	t.Helper()
	return awaitFrom(t, s, 0, ok)
}

// awaitFrom is await for the events from the from'th on (0-based).
func awaitFrom[T transports.Event](t *testing.T, s *sink, from int, ok func(T) bool) T {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		events, added := s.events[min(from, len(s.events)):], s.added
		s.mu.Unlock()
		for _, ev := range events {
			if v, is := ev.(T); is && (ok == nil || ok(v)) {
				return v
			}
		}
		select {
		case <-added:
		case <-deadline.C:
			var zero T
			t.Fatalf("no %T matching within %s; delivered: %s", zero, wait, describe(s.all()))
			return zero
		}
	}
}

func describe(evs []transports.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n\t%T %+v", ev, ev)
	}
	return b.String()
}

// connect connects an adapter for creds, closed at cleanup.
func connect(t *testing.T, n *Network, creds transports.Credentials, s transports.Sink) *adapter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ad, err := n.Connect(ctx, transports.Account{User: "tester@example.org", Credentials: creds, Store: nopStore{}}, s)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { ad.Close() })
	return ad.(*adapter)
}

type nopStore struct{}

func (nopStore) Get(context.Context, string) ([]byte, error) { return nil, transports.ErrNotFound }
func (nopStore) Put(context.Context, string, []byte) error   { return nil }

func botCreds(sc testenv.SpacebarScene) transports.Credentials {
	return transports.Credentials{fieldToken: sc.Bot.Token, fieldAccount: accountBot}
}

// peer is another account acting on Spacebar over REST, with its gateway
// events on a channel, through the same rewriting client the network
// uses (so that is tested too).
type peer struct {
	*discordgo.Session
	events chan *discordgo.Event
}

func newPeer(t *testing.T, n *Network, u testenv.SpacebarUser) *peer {
	t.Helper()
	s, dl, err := n.newSession(login{token: u.Token})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{Session: s, events: make(chan *discordgo.Event, 256)}
	s.AddHandler(func(_ *discordgo.Session, e *discordgo.Event) {
		select {
		case p.events <- e:
		default:
		}
	})
	if _, err := openGateway(s, dl, false); err != nil {
		t.Fatalf("peer %s gateway: %v", u.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return p
}

// next waits for the peer's next gateway event of type typ that ok
// accepts.
func (p *peer) next(t *testing.T, typ string, ok func(*discordgo.Event) bool) *discordgo.Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-p.events:
			if e.Type == typ && (ok == nil || ok(e)) {
				return e
			}
		case <-deadline:
			t.Fatalf("peer: no %s within %s", typ, wait)
			return nil
		}
	}
}

func TestValidate(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	tests := []struct {
		name  string
		creds transports.Credentials
		want  error // nil: valid
	}{
		{"bot token", botCreds(sc), nil},
		{"bot token with its prefix", transports.Credentials{fieldToken: "Bot " + sc.Bot.Token}, nil},
		{"user token", transports.Credentials{fieldToken: sc.Bob.Token, fieldAccount: accountUser}, nil},
		{"user token as a bot", transports.Credentials{fieldToken: sc.Bob.Token, fieldAccount: accountBot}, transports.ErrInvalidInput},
		// Discord refuses a bot token without its prefix (401); Spacebar
		// takes it, and the account then says it is a bot.
		{"bot token as a user", transports.Credentials{fieldToken: sc.Bot.Token, fieldAccount: accountUser}, transports.ErrInvalidInput},
		{"refused token", transports.Credentials{fieldToken: "bm90LWEtdG9rZW4.secretsecret", fieldAccount: accountUser}, transports.ErrBadCredentials},
		{"token with a space", transports.Credentials{fieldToken: "abc def"}, transports.ErrInvalidInput},
		{"unknown kind", transports.Credentials{fieldToken: "abc", fieldAccount: "robot"}, transports.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.Validate(context.Background(), tt.creds)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v; want an error wrapping %v", err, tt.want)
			}
			if tok := strings.TrimPrefix(tt.creds[fieldToken], "Bot "); len(tok) > 6 && strings.Contains(err.Error(), tok) {
				t.Errorf("the error quotes the token: %v", err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes: %v", len(err.Error()), err)
			}
		})
	}
}
