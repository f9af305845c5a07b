package netstate

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

func TestGetPut(t *testing.T) {
	f := bolttest.New(t)
	state := New(f.Store())
	ctx := t.Context()
	const user, net = "alice@example.org", "email"
	if _, err := state.Get(ctx, user, net, "INBOX"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset state: err = %v, want ErrNotFound", err)
	}
	if err := state.Put(ctx, user, net, "INBOX", []byte("7:41")); err != nil {
		t.Fatal(err)
	}
	if err := state.Put(ctx, user, net, "INBOX", []byte("7:42")); err != nil {
		t.Fatal(err)
	}
	state = New(f.Reopen())
	if v, err := state.Get(ctx, user, net, "INBOX"); err != nil || string(v) != "7:42" {
		t.Fatalf("state after reopen = %q, %v; want 7:42", v, err)
	}
	// Keys are per user and network.
	for _, tt := range []struct{ user, network, key string }{
		{"bob@example.org", net, "INBOX"},
		{user, "irc", "INBOX"},
		{user, net, "INBOX2"},
		{user, net, "INBO"},
	} {
		if _, err := state.Get(ctx, tt.user, tt.network, tt.key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s, %s, %s): err = %v, want ErrNotFound", tt.user, tt.network, tt.key, err)
		}
	}
}

func TestForget(t *testing.T) {
	f := bolttest.New(t)
	state := New(f.Store())
	ctx := t.Context()
	type scope struct{ user, network string }
	gone := scope{"alice@localhost", "email"}
	kept := []scope{{"bob@localhost", "email"}, {"alice@localhost", "irc"}, {"alice@localhost2", "email"}}
	for _, s := range append([]scope{gone}, kept...) {
		for _, k := range []string{"INBOX", "Sent"} {
			if err := state.Put(ctx, s.user, s.network, k, []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := state.Forget(ctx, gone.user, gone.network); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	for _, k := range []string{"INBOX", "Sent"} {
		if _, err := state.Get(ctx, gone.user, gone.network, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after Forget: err = %v, want ErrNotFound", k, err)
		}
		for _, s := range kept {
			if v, err := state.Get(ctx, s.user, s.network, k); err != nil || string(v) != "v" {
				t.Errorf("%s of %v after another user's Forget = %q, %v", k, s, v, err)
			}
		}
	}
	if err := state.Forget(ctx, gone.user, gone.network); err != nil {
		t.Errorf("Forget with nothing to forget: %v", err)
	}
}

func TestInvalidInput(t *testing.T) {
	f := bolttest.New(t)
	state := New(f.Store())
	ctx := t.Context()
	s := state
	tests := []struct {
		name string
		call func() error
	}{
		{"Get empty user", func() error { _, err := s.Get(ctx, "", "email", "k"); return err }},
		{"Get empty key", func() error { _, err := s.Get(ctx, "a@b", "email", ""); return err }},
		{"Put NUL user", func() error { return s.Put(ctx, "a@b\x00", "email", "k", nil) }},
		{"Put NUL network", func() error { return s.Put(ctx, "a@b", "em\x00ail", "k", nil) }},
		{"Put empty key", func() error { return s.Put(ctx, "a@b", "email", "", nil) }},
		{"Forget empty network", func() error { return s.Forget(ctx, "a@b", "") }},
	}
	for _, tt := range tests {
		if err := tt.call(); err == nil {
			t.Errorf("%s succeeded, want an error", tt.name)
		}
	}
	n := 0
	if err := f.Store().Scan(ctx, bucket, "", func(string, []byte) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("invalid calls wrote %d entries (%v)", n, err)
	}
}

func TestCanceledContext(t *testing.T) {
	f := bolttest.New(t)
	state := New(f.Store())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := state
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "a@b", "email", "k"); return err }},
		{"Put", func() error { return s.Put(ctx, "a@b", "email", "k", []byte("v")) }},
		{"Forget", func() error { return s.Forget(ctx, "a@b", "email") }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", c.name, err)
		}
	}
}
