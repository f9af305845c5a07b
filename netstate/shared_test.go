package netstate

import (
	"errors"
	"testing"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// TestShared checks what is netstate's own about the shared state (the
// NetStore contract itself is checked by transportstest's conformance,
// run on this type in component): it survives a reopen, is separate from
// the per-user state and its Forget, and refuses malformed keys.
func TestShared(t *testing.T) {
	f := bolttest.New(t)
	ctx := t.Context()
	state := New(f.Store())
	sms := state.Shared("sms")
	if ok, err := sms.CompareAndSwap(ctx, "number/+15550001", nil, []byte("alice@localhost")); err != nil || !ok {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	if err := state.Put(ctx, "alice@localhost", "sms", "number/+15550001", []byte("per-user")); err != nil {
		t.Fatal(err)
	}
	if err := state.Forget(ctx, "alice@localhost", "sms"); err != nil {
		t.Fatal(err)
	}
	sms = New(f.Reopen()).Shared("sms")
	if v, err := sms.Get(ctx, "number/+15550001"); err != nil || string(v) != "alice@localhost" {
		t.Fatalf("after Forget of the user and a reopen: %q, %v; want the shared value kept", v, err)
	}
	if _, err := sms.Get(ctx, "number/+15550002"); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent key: err = %v, want ErrNotFound", err)
	}
	for _, bad := range []struct{ network, key string }{{"sms", ""}, {"sms", "a\x00b"}, {"", "k"}, {"s\x00ms", "k"}} {
		if err := New(f.Store()).Shared(bad.network).Put(ctx, bad.key, []byte("v")); err == nil {
			t.Errorf("Put(%q) on network %q took a malformed key", bad.key, bad.network)
		}
	}
}
