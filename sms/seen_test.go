package sms

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestPruneSeen: entries older than the cutoff go (and unreadable ones),
// newer ones stay.
func TestPruneSeen(t *testing.T) {
	ctx := context.Background()
	store := &transportstest.NetStore{}
	n := New(Config{Provider: ProviderTwilio, Numbers: []string{numA}, Logger: discard()})
	n.Attach(transports.Hooks{Deliver: newRecorder(), Store: store})
	now := time.Now()
	entries := map[string]time.Time{"old": now.Add(-8 * 24 * time.Hour), "new": now.Add(-time.Hour), "report/x": now.Add(-10 * 24 * time.Hour)}
	for k, at := range entries {
		if err := store.Put(ctx, keySeen+k, []byte(strconv.FormatInt(at.Unix(), 10)+" alice@example.org")); err != nil {
			t.Fatal(err)
		}
	}
	store.Put(ctx, keySeen+"garbled", []byte("x"))
	store.Put(ctx, keyNumber+numA, []byte("alice@example.org"))
	if err := n.pruneSeen(ctx, now.Add(-seenRetention)); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"old": false, "report/x": false, "garbled": false, "new": true} {
		if got, err := n.seen(ctx, k); err != nil || got != want {
			t.Errorf("seen(%s) = %v, %v; want %v", k, got, err, want)
		}
	}
	if _, err := store.Get(ctx, keyNumber+numA); err != nil {
		t.Errorf("pruning touched the number index: %v", err)
	}
}
