package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
)

// secret is a password distinctive enough to search for in raw bytes.
const secret = "hunter2-Zq9xV-distinctive-Passw0rd"

var testKey = bytes.Repeat([]byte{0x42}, KeySize)

// env is a Registry on a bbolt file in a temporary directory, with the
// message-ID map and network state it forgets on Unregister.
type env struct {
	reg   *Registry
	ids   *msgid.Map
	state *netstate.Store
	st    *bolt.Store
	path  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "switchboard.db")}
	e.open(t, testKey)
	t.Cleanup(func() { e.st.Close() })
	return e
}

// open (re)opens the store and builds a Registry with key on it.
func (e *env) open(t testing.TB, key []byte) {
	t.Helper()
	st, err := bolt.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	ids, state := msgid.New(st), netstate.New(st)
	reg, err := New(st, key, ids, state)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	e.st, e.reg, e.ids, e.state = st, reg, ids, state
}

// reopen closes the store and opens it again with key.
func (e *env) reopen(t testing.TB, key []byte) {
	t.Helper()
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t, key)
}

func mustRegister(t testing.TB, r *Registry, user, network string, creds map[string]string) {
	t.Helper()
	if err := r.Register(context.Background(), user, network, creds); err != nil {
		t.Fatalf("Register(%s, %s): %v", user, network, err)
	}
}

func TestRegisterLookup(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	creds := map[string]string{"username": "alice", "password": secret, "server": "irc.example.net", "unicode": "пароль ☃"}
	before := time.Now()
	mustRegister(t, e.reg, "alice@localhost", "irc", creds)

	got, err := e.reg.Lookup(ctx, "alice@localhost", "irc")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if got.User != "alice@localhost" || got.Network != "irc" {
		t.Errorf("Lookup = %s on %s, want alice@localhost on irc", got.User, got.Network)
	}
	if !maps.Equal(got.Credentials, creds) {
		t.Errorf("Lookup credentials differ from the registered ones")
	}
	if got.Created.Before(before.Add(-time.Second)) || got.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("Created = %v, want about %v", got.Created, before)
	}

	// The caller's map is not shared with the registry.
	creds["password"] = "changed"
	got.Credentials["password"] = "changed too"
	again, err := e.reg.Lookup(ctx, "alice@localhost", "irc")
	if err != nil || again.Credentials["password"] != secret {
		t.Errorf("Lookup after mutating maps: err %v, password changed", err)
	}

	// Nil credentials come back as an empty map.
	mustRegister(t, e.reg, "bob@localhost", "irc", nil)
	got, err = e.reg.Lookup(ctx, "bob@localhost", "irc")
	if err != nil || got.Credentials == nil || len(got.Credentials) != 0 {
		t.Errorf("Lookup of nil credentials = %v, %v; want empty map", got.Credentials, err)
	}
}

func TestLookupNotRegistered(t *testing.T) {
	e := newEnv(t)
	mustRegister(t, e.reg, "alice@localhost", "irc", nil)
	for _, tt := range []struct{ user, network string }{
		{"bob@localhost", "irc"},
		{"alice@localhost", "discord"},
		{"alice@localhos", "irc"},
		{"alice@localhost", "ir"},
	} {
		if _, err := e.reg.Lookup(t.Context(), tt.user, tt.network); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Lookup(%s, %s): err = %v, want ErrNotRegistered", tt.user, tt.network, err)
		}
	}
}

func TestRegisterReplace(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": "old", "nick": "al"})
	first, err := e.reg.Lookup(ctx, "alice@localhost", "irc")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": "new"})

	got, err := e.reg.Lookup(ctx, "alice@localhost", "irc")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"password": "new"}; !maps.Equal(got.Credentials, want) {
		t.Errorf("credentials after replace have keys %v, want only the new ones", slices.Sorted(maps.Keys(got.Credentials)))
	}
	if !got.Created.Equal(first.Created) {
		t.Errorf("Created changed on replace: %v, was %v", got.Created, first.Created)
	}
	if n, err := e.reg.Count(ctx, "irc"); err != nil || n != 1 {
		t.Errorf("Count after replace = %d, %v; want 1", n, err)
	}
}

func TestUnregister(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, u := range []string{"alice@localhost", "bob@localhost"} {
		mustRegister(t, e.reg, u, "irc", map[string]string{"password": secret})
		if err := e.reg.SetSettings(ctx, u, "irc", map[string]string{"nick": u}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := e.ids.Pair(ctx, u, "irc", "#chan", fmt.Sprint("L", i), fmt.Sprint("X", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.state.Put(ctx, u, "irc", "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// The same user on another network keeps everything.
	mustRegister(t, e.reg, "alice@localhost", "discord", nil)
	if err := e.reg.SetSettings(ctx, "alice@localhost", "discord", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := e.ids.Pair(ctx, "alice@localhost", "discord", "#chan", "L0", "X0"); err != nil {
		t.Fatal(err)
	}
	if err := e.state.Put(ctx, "alice@localhost", "discord", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	if err := e.reg.Unregister(ctx, "alice@localhost", "irc"); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if _, err := e.reg.Lookup(ctx, "alice@localhost", "irc"); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Lookup after Unregister: err = %v, want ErrNotRegistered", err)
	}
	if s, err := e.reg.Settings(ctx, "alice@localhost", "irc"); err != nil || len(s) != 0 {
		t.Errorf("Settings after Unregister = %v, %v; want empty", s, err)
	}
	for i := range 3 {
		if _, err := e.ids.XMPPID(ctx, "alice@localhost", "irc", "#chan", fmt.Sprint("L", i)); !errors.Is(err, msgid.ErrNoMapping) {
			t.Errorf("XMPPID after Unregister: err = %v, want ErrNoMapping", err)
		}
		if _, err := e.ids.LegacyID(ctx, "alice@localhost", "irc", "#chan", fmt.Sprint("X", i)); !errors.Is(err, msgid.ErrNoMapping) {
			t.Errorf("LegacyID after Unregister: err = %v, want ErrNoMapping", err)
		}
	}
	if _, err := e.state.Get(ctx, "alice@localhost", "irc", "k"); !errors.Is(err, netstate.ErrNotFound) {
		t.Errorf("network state after Unregister: err = %v, want ErrNotFound", err)
	}
	prefix := userKey("irc", "alice@localhost") + "\x00"
	for _, bucket := range []string{"msgids", "state"} {
		n := 0
		if err := e.st.Scan(ctx, bucket, prefix, func(string, []byte) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("%d %s entries left behind (err %v)", n, bucket, err)
		}
	}

	// Others are untouched.
	for _, tt := range []struct{ user, network string }{
		{"bob@localhost", "irc"},
		{"alice@localhost", "discord"},
	} {
		if _, err := e.reg.Lookup(ctx, tt.user, tt.network); err != nil {
			t.Errorf("Lookup(%s, %s) after unrelated Unregister: %v", tt.user, tt.network, err)
		}
		if s, err := e.reg.Settings(ctx, tt.user, tt.network); err != nil || len(s) != 1 {
			t.Errorf("Settings(%s, %s) after unrelated Unregister = %v, %v", tt.user, tt.network, s, err)
		}
		if id, err := e.ids.XMPPID(ctx, tt.user, tt.network, "#chan", "L0"); err != nil || id != "X0" {
			t.Errorf("XMPPID(%s, %s) after unrelated Unregister = %q, %v", tt.user, tt.network, id, err)
		}
		if v, err := e.state.Get(ctx, tt.user, tt.network, "k"); err != nil || string(v) != "v" {
			t.Errorf("network state of %s on %s after unrelated Unregister = %q, %v", tt.user, tt.network, v, err)
		}
	}

	if err := e.reg.Unregister(ctx, "alice@localhost", "irc"); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("second Unregister: err = %v, want ErrNotRegistered", err)
	}
	// Registering again starts from scratch.
	mustRegister(t, e.reg, "alice@localhost", "irc", nil)
	if s, err := e.reg.Settings(ctx, "alice@localhost", "irc"); err != nil || len(s) != 0 {
		t.Errorf("Settings after re-registering = %v, %v; want empty", s, err)
	}
}

func TestListAndCount(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ircUsers := []string{"zed@b", "alice@x.org", "bob@y", "alice@x", "Alice@x", "alice@x.org.uk"}
	for _, u := range ircUsers {
		mustRegister(t, e.reg, u, "irc", map[string]string{"password": "pw-" + u})
	}
	// Networks whose names are prefixes or extensions of "irc".
	mustRegister(t, e.reg, "carol@z", "ir", nil)
	mustRegister(t, e.reg, "dave@z", "irc2", nil)
	mustRegister(t, e.reg, "erin@z", "discord", nil)

	want := slices.Sorted(slices.Values(ircUsers))
	var got []string
	err := e.reg.List(ctx, "irc", func(reg Registration) error {
		got = append(got, reg.User)
		if reg.Network != "irc" {
			t.Errorf("List(irc) yielded network %q", reg.Network)
		}
		if reg.Credentials["password"] != "pw-"+reg.User {
			t.Errorf("List(irc): %s has another user's credentials", reg.User)
		}
		// fn may use the registry.
		if _, err := e.reg.Settings(ctx, reg.User, reg.Network); err != nil {
			t.Errorf("Settings inside List: %v", err)
		}
		return e.reg.SetSettings(ctx, reg.User, reg.Network, map[string]string{"seen": "yes"})
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List(irc) = %q, want %q", got, want)
	}

	tests := []struct {
		network string
		want    []string
	}{
		{"ir", []string{"carol@z"}},
		{"irc2", []string{"dave@z"}},
		{"discord", []string{"erin@z"}},
		{"sms", nil},
	}
	for _, tt := range tests {
		var users []string
		if err := e.reg.List(ctx, tt.network, func(reg Registration) error {
			users = append(users, reg.User)
			return nil
		}); err != nil {
			t.Errorf("List(%s): %v", tt.network, err)
		}
		if !slices.Equal(users, tt.want) {
			t.Errorf("List(%s) = %q, want %q", tt.network, users, tt.want)
		}
		if n, err := e.reg.Count(ctx, tt.network); err != nil || n != len(tt.want) {
			t.Errorf("Count(%s) = %d, %v; want %d", tt.network, n, err, len(tt.want))
		}
	}
	if n, err := e.reg.Count(ctx, "irc"); err != nil || n != len(ircUsers) {
		t.Errorf("Count(irc) = %d, %v; want %d", n, err, len(ircUsers))
	}

	// fn's error stops the listing.
	errStop := errors.New("stop")
	calls := 0
	err = e.reg.List(ctx, "irc", func(Registration) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("List with failing fn: %d calls, err %v; want 1, errStop", calls, err)
	}
}

// TestSealedBlobMoved checks that credentials sealed for one registration
// cannot be opened as another's.
func TestSealedBlobMoved(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const bobSecret = "bob-" + secret
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": secret})
	mustRegister(t, e.reg, "bob@localhost", "irc", map[string]string{"password": bobSecret})
	bobRecord, err := e.st.Get(ctx, bucketRegistrations, userKey("irc", "bob@localhost"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct{ user, network string }{
		{"alice@localhost", "irc"},     // another user
		{"bob@localhost", "discord"},   // another network
		{"bob@localhostirc", "irc"},    // a concatenation of user and network
		{"alice@localhost", "irc.net"}, // different both ways
	}
	for _, tt := range tests {
		if err := e.st.Put(ctx, bucketRegistrations, userKey(tt.network, tt.user), bobRecord); err != nil {
			t.Fatal(err)
		}
		reg, err := e.reg.Lookup(ctx, tt.user, tt.network)
		if err == nil {
			t.Errorf("Lookup(%s, %s) of a record moved from bob opened it (password leaked: %v)",
				tt.user, tt.network, reg.Credentials["password"] == bobSecret)
			continue
		}
		if errors.Is(err, ErrNotRegistered) {
			t.Errorf("Lookup(%s, %s): err = %v, want an opening error", tt.user, tt.network, err)
		}
		if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, bobSecret) {
			t.Errorf("error contains a password: %q", msg)
		}
	}

	// List skips the bad record, lists the rest, and reports it.
	var users []string
	err = e.reg.List(ctx, "irc", func(reg Registration) error {
		users = append(users, reg.User)
		if reg.Credentials["password"] != bobSecret {
			t.Errorf("List: %s has wrong credentials", reg.User)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "skipped 2 of 3") {
		t.Errorf("List with bad records: err = %v, want it to report 2 skipped", err)
	}
	if want := []string{"bob@localhost"}; !slices.Equal(users, want) {
		t.Errorf("List with bad records yielded %q, want %q", users, want)
	}
}

func TestWrongKey(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": secret})
	other := bytes.Repeat([]byte{0x43}, KeySize)
	if _, err := New(e.st, other); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("New with another key: err = %v, want ErrKeyMismatch", err)
	}
	// A database from before key checks: only the registration tells.
	if err := e.st.Delete(ctx, bucketMeta, keyCheckKey); err != nil {
		t.Fatal(err)
	}
	if sealed, err := Sealed(ctx, e.st); err != nil || !sealed {
		t.Errorf("Sealed with a registration and no check = %v, %v; want true", sealed, err)
	}
	if _, err := New(e.st, other); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("New with another key on an old database: err = %v, want ErrKeyMismatch", err)
	}
	if _, err := e.st.Get(ctx, bucketMeta, keyCheckKey); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused key wrote a check value: %v", err)
	}
	// The right key still works, and records its check.
	e.reopen(t, testKey)
	if _, err := e.reg.Lookup(ctx, "alice@localhost", "irc"); err != nil {
		t.Errorf("Lookup with the right key after reopen: %v", err)
	}
	if _, err := e.st.Get(ctx, bucketMeta, keyCheckKey); err != nil {
		t.Errorf("no check value written for the right key: %v", err)
	}
	if _, err := New(e.st, other); !errors.Is(err, ErrKeyMismatch) || strings.Contains(err.Error(), secret) {
		t.Errorf("New with another key after the check was written: err = %v", err)
	}
}

func TestSealedNewDatabase(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if sealed, err := Sealed(t.Context(), st); err != nil || sealed {
		t.Fatalf("Sealed(new database) = %v, %v; want false", sealed, err)
	}
	if _, err := New(st, testKey); err != nil {
		t.Fatal(err)
	}
	if sealed, err := Sealed(t.Context(), st); err != nil || !sealed {
		t.Fatalf("Sealed after New = %v, %v; want true: the key is bound to the database", sealed, err)
	}
}

func TestCorruptRecord(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": secret})
	key := userKey("irc", "alice@localhost")
	good, err := e.st.Get(ctx, bucketRegistrations, key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
	}{
		{"not JSON", "garbage"},
		{"truncated blob", `{"v":1,"credentials":"AAAA","created":"2024-01-01T00:00:00Z"}`},
		{"empty blob", `{"v":1,"created":"2024-01-01T00:00:00Z"}`},
		{"future version", strings.Replace(string(good), `"v":1`, `"v":2`, 1)},
		{"flipped ciphertext", flipLastBase64(string(good))},
	}
	for _, tt := range tests {
		if err := e.st.Put(ctx, bucketRegistrations, key, []byte(tt.data)); err != nil {
			t.Fatal(err)
		}
		_, err := e.reg.Lookup(ctx, "alice@localhost", "irc")
		if err == nil || errors.Is(err, ErrNotRegistered) {
			t.Errorf("%s: Lookup err = %v, want a decoding error", tt.name, err)
		}
	}
	// Registering again repairs it.
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": "x"})
	if _, err := e.reg.Lookup(ctx, "alice@localhost", "irc"); err != nil {
		t.Errorf("Lookup after re-registering: %v", err)
	}
}

// flipLastBase64 changes the last base64 digit of the credentials blob in a
// JSON record.
func flipLastBase64(rec string) string {
	i := strings.Index(rec, `"credentials":"`)
	j := strings.Index(rec[i+len(`"credentials":"`):], `"`) + i + len(`"credentials":"`)
	// Change a digit a few places before the end, clear of '=' padding.
	k := j - 4
	c := byte('A')
	if rec[k] == 'A' {
		c = 'B'
	}
	return rec[:k] + string(c) + rec[k+1:]
}

// TestPasswordNotInFile checks that credentials never reach the disk in the
// clear.
func TestPasswordNotInFile(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const user2Secret = "second-" + secret
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": secret, "nick": "alice"})
	mustRegister(t, e.reg, "alice@localhost", "discord", map[string]string{"token": user2Secret})
	// Exercise the paths that read and rewrite registrations.
	mustRegister(t, e.reg, "alice@localhost", "irc", map[string]string{"password": secret, "nick": "alice2"})
	if _, err := e.reg.Lookup(ctx, "alice@localhost", "irc"); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.List(ctx, "irc", func(Registration) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, user2Secret, "hunter2"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("database file contains the plaintext %q", s)
		}
	}
	// Sanity check that the search would find a string we did store.
	if !bytes.Contains(raw, []byte("alice@localhost")) {
		t.Error("database file does not contain the user JID; is this the right file?")
	}
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	r := e.reg
	mustRegister(t, r, "alice@localhost", "irc", nil)
	tests := []struct {
		name string
		call func() error
	}{
		{"Register empty user", func() error { return r.Register(ctx, "", "irc", nil) }},
		{"Register empty network", func() error { return r.Register(ctx, "alice@localhost", "", nil) }},
		{"Register NUL user", func() error { return r.Register(ctx, "alice@localhost\x00irc", "x", nil) }},
		{"Register NUL network", func() error { return r.Register(ctx, "alice@localhost", "i\x00rc", nil) }},
		{"Register bad UTF-8", func() error {
			return r.Register(ctx, "alice@localhost", "irc", map[string]string{"password": "\xff" + secret})
		}},
		{"Lookup NUL", func() error { _, err := r.Lookup(ctx, "alice@localhost\x00", "irc"); return err }},
		{"Unregister empty", func() error { return r.Unregister(ctx, "", "irc") }},
		{"List empty", func() error { return r.List(ctx, "", func(Registration) error { return nil }) }},
		{"List NUL", func() error { return r.List(ctx, "irc\x00", func(Registration) error { return nil }) }},
		{"Count empty", func() error { _, err := r.Count(ctx, ""); return err }},
		{"Settings NUL", func() error { _, err := r.Settings(ctx, "a\x00", "irc"); return err }},
		{"SetSettings bad UTF-8", func() error {
			return r.SetSettings(ctx, "alice@localhost", "irc", map[string]string{"k": "\xff"})
		}},
	}
	for _, tt := range tests {
		err := tt.call()
		if err == nil {
			t.Errorf("%s succeeded, want an error", tt.name)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error contains the password: %q", tt.name, err)
		}
	}
	if n, err := r.Count(ctx, "irc"); err != nil || n != 1 {
		t.Errorf("Count after invalid calls = %d, %v; want 1", n, err)
	}
}

func TestNew(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(st, make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
	if _, err := New(nil, testKey); err == nil {
		t.Error("New with a nil store succeeded")
	}
	if _, err := New(st, testKey); err != nil {
		t.Errorf("New with a %d-byte key: %v", KeySize, err)
	}
}

func TestSettings(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	r := e.reg
	s, err := r.Settings(ctx, "alice@localhost", "irc")
	if err != nil || s == nil || len(s) != 0 {
		t.Fatalf("Settings with none set = %#v, %v; want empty non-nil map", s, err)
	}

	want := map[string]string{"nick": "alice", "autojoin": "#a,#b", "empty": ""}
	if err := r.SetSettings(ctx, "alice@localhost", "irc", want); err != nil {
		t.Fatal(err)
	}
	want["nick"] = "mutated after SetSettings"
	if got, err := r.Settings(ctx, "alice@localhost", "irc"); err != nil || got["nick"] != "alice" || len(got) != 3 {
		t.Errorf("Settings = %v, %v", got, err)
	}
	// Other users and networks see nothing.
	for _, tt := range []struct{ user, network string }{{"bob@localhost", "irc"}, {"alice@localhost", "discord"}} {
		if got, err := r.Settings(ctx, tt.user, tt.network); err != nil || len(got) != 0 {
			t.Errorf("Settings(%s, %s) = %v, %v; want empty", tt.user, tt.network, got, err)
		}
	}
	// SetSettings replaces the whole map.
	if err := r.SetSettings(ctx, "alice@localhost", "irc", map[string]string{"nick": "al"}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Settings(ctx, "alice@localhost", "irc"); err != nil || !maps.Equal(got, map[string]string{"nick": "al"}) {
		t.Errorf("Settings after replace = %v, %v", got, err)
	}
	// An empty map clears them.
	if err := r.SetSettings(ctx, "alice@localhost", "irc", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Settings(ctx, "alice@localhost", "irc"); err != nil || len(got) != 0 {
		t.Errorf("Settings after clearing = %v, %v", got, err)
	}
}

func TestCanceledContext(t *testing.T) {
	e := newEnv(t)
	mustRegister(t, e.reg, "alice@localhost", "irc", nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := e.reg
	calls := []struct {
		name string
		call func() error
	}{
		{"Register", func() error { return r.Register(ctx, "bob@localhost", "irc", nil) }},
		{"Lookup", func() error { _, err := r.Lookup(ctx, "alice@localhost", "irc"); return err }},
		{"Unregister", func() error { return r.Unregister(ctx, "alice@localhost", "irc") }},
		{"List", func() error { return r.List(ctx, "irc", func(Registration) error { return nil }) }},
		{"Count", func() error { _, err := r.Count(ctx, "irc"); return err }},
		{"Settings", func() error { _, err := r.Settings(ctx, "alice@localhost", "irc"); return err }},
		{"SetSettings", func() error { return r.SetSettings(ctx, "alice@localhost", "irc", map[string]string{"a": "b"}) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", c.name, err)
		}
	}
}

func BenchmarkRegister(b *testing.B) {
	e := newEnv(b)
	ctx := b.Context()
	creds := map[string]string{"username": "alice", "password": secret, "server": "irc.example.net"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.reg.Register(ctx, fmt.Sprintf("user%06d@localhost", i), "irc", creds); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStartupList10k measures what a restart costs with 10 000
// registrations: opening the store, building the Registry and listing (and
// opening) every registration.
func BenchmarkStartupList10k(b *testing.B) {
	const n = 10_000
	e := newEnv(b)
	ctx := b.Context()
	for i := range n {
		mustRegister(b, e.reg, fmt.Sprintf("user%06d@localhost", i), "irc",
			map[string]string{"username": fmt.Sprint("user", i), "password": secret, "server": "irc.example.net"})
	}
	if err := e.st.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := bolt.Open(e.path)
		if err != nil {
			b.Fatal(err)
		}
		reg, err := New(st, testKey)
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		if err := reg.List(ctx, "irc", func(Registration) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("listed %d registrations, want %d", count, n)
		}
	}
}

// failingData is a UserData whose Forget fails until it is told not to.
type failingData struct{ fail bool }

func (f *failingData) Forget(context.Context, string, string) error {
	if f.fail {
		return errors.New("disk on fire")
	}
	return nil
}

func TestUnregisterKeepsTheRegistrationWhenForgetFails(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	bad := &failingData{fail: true}
	reg, err := New(e.st, testKey, e.ids, bad)
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, reg, "alice@localhost", "irc", nil)
	if err := reg.SetSettings(ctx, "alice@localhost", "irc", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Unregister(ctx, "alice@localhost", "irc"); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Unregister with a failing Forget: err = %v, want its error", err)
	}
	if _, err := reg.Lookup(ctx, "alice@localhost", "irc"); err != nil {
		t.Errorf("registration after a failed Unregister: %v", err)
	}
	if s, err := reg.Settings(ctx, "alice@localhost", "irc"); err != nil || s["k"] != "v" {
		t.Errorf("settings after a failed Unregister = %v, %v", s, err)
	}
	bad.fail = false
	if err := reg.Unregister(ctx, "alice@localhost", "irc"); err != nil {
		t.Fatalf("Unregister again: %v", err)
	}
	if _, err := reg.Lookup(ctx, "alice@localhost", "irc"); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Lookup after the retried Unregister: err = %v, want ErrNotRegistered", err)
	}
}
