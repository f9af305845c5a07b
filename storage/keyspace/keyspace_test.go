package keyspace

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		want  string // "" for no error, else a part of the error
	}{
		{"none", nil, ""},
		{"good", []string{"user", "alice@localhost", "network", "irc"}, ""},
		{"empty", []string{"user", "alice@localhost", "network", ""}, "empty network"},
		{"NUL", []string{"user", "alice@localhost\x00irc", "network", "x"}, "user contains a NUL byte"},
		{"first bad part is named", []string{"user", "", "network", "\x00"}, "empty user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.pairs...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check = %v, want an error with %q", err, tt.want)
			}
		})
	}
	if err := Check("password", "hunter2\x00"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Check of a secret = %v; want an error without the value", err)
	}
}

func TestDeletePrefix(t *testing.T) {
	st := bolttest.New(t).Store()
	ctx := t.Context()
	all := []string{"irc\x00alice\x00a", "irc\x00alice\x00b", "irc\x00alice2\x00a", "irc\x00bob\x00a", "email\x00alice\x00a"}
	for _, k := range all {
		if err := st.Put(ctx, "b", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Put(ctx, "other", "irc\x00alice\x00a", []byte("v")); err != nil {
		t.Fatal(err)
	}
	n, err := DeletePrefix(ctx, st, "b", "irc\x00alice\x00")
	if err != nil || n != 2 {
		t.Fatalf("DeletePrefix = %d, %v; want 2", n, err)
	}
	var left []string
	if err := st.Scan(ctx, "b", "", func(k string, _ []byte) error { left = append(left, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"email\x00alice\x00a", "irc\x00alice2\x00a", "irc\x00bob\x00a"}; !slices.Equal(left, want) {
		t.Errorf("left = %q, want %q", left, want)
	}
	if _, err := st.Get(ctx, "other", "irc\x00alice\x00a"); err != nil {
		t.Errorf("another bucket lost its key: %v", err)
	}
	if n, err := DeletePrefix(ctx, st, "b", "irc\x00alice\x00"); err != nil || n != 0 {
		t.Errorf("DeletePrefix with nothing left = %d, %v", n, err)
	}
	if _, err := DeletePrefix(ctx, st, "b", ""); err == nil {
		t.Error("DeletePrefix with an empty prefix succeeded")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := DeletePrefix(canceled, st, "b", "irc\x00"); !errors.Is(err, context.Canceled) {
		t.Errorf("DeletePrefix with a canceled context: err = %v", err)
	}
}
