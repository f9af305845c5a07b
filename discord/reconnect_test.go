package discord

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// statuses records what a session's reporting link says.
type statuses struct {
	mu  sync.Mutex
	all []transports.State
}

func (s *statuses) report(st transports.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, st.State)
}

func (s *statuses) get() []transports.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// drop cuts the adapter's gateway connection under discordgo, as a
// network failure would.
func drop(t *testing.T, a *adapter) {
	t.Helper()
	a.dl.mu.Lock()
	defer a.dl.mu.Unlock()
	if err := a.dl.conn.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayDropAndRevokedToken: a dropped gateway is redialled through
// the supervisor's policy (reported as a transient disconnect, then
// connected) and events flow again; once the token is revoked the next
// drop ends the session with ErrBadCredentials, without retrying.
func TestGatewayDropAndRevokedToken(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	st := &statuses{}
	s := newSink()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ad, err := n.Connect(ctx, transports.Account{
		User: "tester@example.org", Credentials: botCreds(sc), Store: nopStore{},
		Reconnect: transports.NewReconnect(transports.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}, nil, st.report),
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ad.Close() })
	a := ad.(*adapter)
	room := ChannelID(sc.ChannelID, sc.GuildID)
	if err := a.JoinRoom(ctx, room, ""); err != nil {
		t.Fatal(err)
	}

	drop(t, a)
	deadline := time.Now().Add(wait)
	for !slices.Equal(st.get(), []transports.State{transports.StateTransientDisconnect, transports.StateConnected}) {
		if time.Now().After(deadline) {
			t.Fatalf("states %v; want a transient disconnect, then connected", st.get())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m, err := bob.ChannelMessageSend(sc.ChannelID, "after the drop")
	if err != nil {
		t.Fatal(err)
	}
	await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
	select {
	case <-a.Done():
		t.Fatalf("the session ended: %v", a.Err())
	default:
	}

	// Alice, the bot's owner, deletes its application: its token is
	// refused from then on. (Spacebar's token reset revokes only tokens
	// issued in an earlier minute.)
	alice, _, err := n.newSession(login{token: sc.Alice.Token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.RequestWithBucketID("POST", "https://discord.com/api/v9/applications/"+sc.Bot.AppID+"/delete", struct{}{}, ""); err != nil {
		t.Fatalf("deleting the bot's application: %v", err)
	}
	drop(t, a)
	select {
	case <-a.Done():
	case <-time.After(wait):
		t.Fatalf("the session did not end; states %v", st.get())
	}
	if err := a.Err(); !errors.Is(err, transports.ErrBadCredentials) || transports.Retryable(err) {
		t.Errorf("Err = %v; want the refused token (not retryable)", err)
	}
	// One transient disconnect for the second drop, and no retry after
	// the refusal.
	time.Sleep(300 * time.Millisecond)
	want := []transports.State{transports.StateTransientDisconnect, transports.StateConnected, transports.StateTransientDisconnect}
	if got := st.get(); !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}

// TestMissedWhileDown: DMs sent while the user's session was closed (the
// process down) are delivered at the next Connect, from the bookmark kept
// in the account's Store, oldest first; what was delivered before is not
// delivered again.
func TestMissedWhileDown(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	store := &transportstest.Store{}
	creds := transports.Credentials{fieldToken: sc.Alice.Token, fieldAccount: accountUser}
	open := func(s *sink) transports.Adapter {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ad, err := n.Connect(ctx, transports.Account{User: "alice@example.org", Credentials: creds, Store: store}, s)
		if err != nil {
			t.Fatal(err)
		}
		return ad
	}
	s1 := newSink()
	first := open(s1)
	dm, err := bob.UserChannelCreate(sc.Alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := bob.ChannelMessageSend(dm.ID, "while you are here")
	if err != nil {
		t.Fatal(err)
	}
	await(t, s1, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(seen.ID) })
	first.Close()

	var missed []string
	for _, text := range []string{"missed one", "missed two"} {
		m, err := bob.ChannelMessageSend(dm.ID, text)
		if err != nil {
			t.Fatal(err)
		}
		missed = append(missed, m.ID)
	}
	s2 := newSink()
	second := open(s2)
	t.Cleanup(func() { second.Close() })
	await(t, s2, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(missed[1]) })
	var got []string
	for _, ev := range s2.all() {
		if m, ok := ev.(*transports.MessageEvent); ok {
			if m.From != UserID(sc.Bob.ID) || m.Own {
				t.Errorf("missed message %+v", m)
			}
			got = append(got, string(m.RemoteID))
		}
	}
	if !slices.Equal(got, missed) {
		t.Errorf("delivered after the restart %v, want the two missed %v", got, missed)
	}
}
