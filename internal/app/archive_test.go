package app_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestUnregisterForgetsArchive checks the wiring: the registry the app
// builds deletes the user's room archive with the registration, and
// leaves other users' alone.
func TestUnregisterForgetsArchive(t *testing.T) {
	dir := t.TempDir()
	dbFile := filepath.Join(dir, "switchboard.db")
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "127.0.0.1:5347"
[storage]
path = "`+dbFile+`"
[security]
key_file = "`+filepath.Join(dir, "switchboard.key")+`"
[archive]
enabled = false
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	open := func() *app.App {
		t.Helper()
		a, err := app.New(app.Options{
			Config:   cfg,
			Networks: []app.Network{fakeNetwork("irc", transportstest.New(nil))},
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	raw := func(fn func(*archive.Archive)) {
		t.Helper()
		st, err := bolt.Open(dbFile)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		a := archive.New(st, archive.Bounds{})
		fn(a)
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	const user, other = "alice@localhost", "bob@localhost"

	a := open()
	for _, u := range []string{user, other} {
		if err := a.Registry().Register(t.Context(), u, "irc", map[string]string{"nick": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	raw(func(ar *archive.Archive) {
		for _, u := range []string{user, other} {
			if err := ar.Add(t.Context(), u, "irc", "#go", archive.Entry{ID: "L1", Time: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	})

	// Off in the config, the archive is still forgotten with the user.
	a = open()
	if err := a.Registry().Unregister(t.Context(), user, "irc"); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	a.Close()
	raw(func(ar *archive.Archive) {
		for u, want := range map[string]int{user: 0, other: 1} {
			p, err := ar.Query(t.Context(), u, "irc", "#go", archive.Query{Max: 0})
			if err != nil || p.Count != want {
				t.Errorf("archive of %s after Unregister of %s: %d messages (%v), want %d", u, user, p.Count, err, want)
			}
		}
	})
}
