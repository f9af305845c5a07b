package app_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestUnregisterForgetsUserData checks the wiring: the registry the app
// builds deletes a user's message-ID map and network state with the
// registration, which live in packages of their own.
func TestUnregisterForgetsUserData(t *testing.T) {
	dir := t.TempDir()
	dbFile := filepath.Join(dir, "switchboard.db")
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "127.0.0.1:5347"
[storage]
path = "`+dbFile+`"
[security]
key_file = "`+filepath.Join(dir, "switchboard.key")+`"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	net := transportstest.New(nil)
	open := func() *app.App {
		t.Helper()
		a, err := app.New(app.Options{
			Config:   cfg,
			Networks: []app.Network{fakeNetwork("irc", net)},
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// raw runs fn on the database while no app holds it.
	raw := func(fn func(*msgid.Map, *netstate.Store)) {
		t.Helper()
		st, err := bolt.Open(dbFile)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(msgid.New(st), netstate.New(st))
	}
	const user = "alice@localhost"

	a := open()
	if err := a.Registry().Register(t.Context(), user, "irc", map[string]string{"nick": "alice"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	raw(func(ids *msgid.Map, state *netstate.Store) {
		if err := ids.Pair(t.Context(), user, "irc", "#go", "L1", "X1"); err != nil {
			t.Fatal(err)
		}
		if err := state.Put(t.Context(), user, "irc", "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	})

	a = open()
	if err := a.Registry().Unregister(t.Context(), user, "irc"); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	a.Close()
	raw(func(ids *msgid.Map, state *netstate.Store) {
		if _, err := ids.XMPPID(t.Context(), user, "irc", "#go", "L1"); !errors.Is(err, msgid.ErrNoMapping) {
			t.Errorf("message ID after Unregister: err = %v, want ErrNoMapping", err)
		}
		if _, err := state.Get(t.Context(), user, "irc", "k"); !errors.Is(err, netstate.ErrNotFound) {
			t.Errorf("network state after Unregister: err = %v, want ErrNotFound", err)
		}
	})
}
