package outbox

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// errConflict rolls back the first run of a retryingStore's transaction.
var errConflict = errors.New("conflict")

// retryingStore is a store whose Update behaves like an optimistic
// backend's that met a conflict: the first run of fn is thrown away, then
// between runs another writer (between) commits, and fn runs again.
type retryingStore struct {
	storage.Store
	between func()
}

func (s *retryingStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	err := s.Store.Update(ctx, func(tx storage.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errConflict // roll the first run back
	})
	if !errors.Is(err, errConflict) {
		return err
	}
	if s.between != nil {
		between := s.between
		s.between = nil
		between()
	}
	return s.Store.Update(ctx, fn)
}

// TestEnqueueOnceRetried: when the transaction is retried and, in the
// run that commits, another writer has already paired the legacy ID,
// EnqueueOnce reports not enqueued (the first run's true is not kept) and
// the outbox holds the other writer's stanza only.
func TestEnqueueOnceRetried(t *testing.T) {
	f := bolttest.New(t)
	ctx := t.Context()
	const user, net, conv = "alice@example.org", "email", "bob@example.org"
	other := New(f.Store())
	st := &retryingStore{Store: f.Store(), between: func() {
		if ok, err := other.EnqueueOnce(ctx, user, net, conv, "7:42", "x-other", []byte("<other/>")); err != nil || !ok {
			t.Errorf("the other writer's EnqueueOnce = %v, %v", ok, err)
		}
	}}
	ok, err := New(st).EnqueueOnce(ctx, user, net, conv, "7:42", "x-mine", []byte("<mine/>"))
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Error("EnqueueOnce = true after its committed run found the ID paired")
	}
	items, err := other.Pending(ctx, net, 10)
	if err != nil || len(items) != 1 || string(items[0].Stanza) != "<other/>" {
		t.Errorf("outbox = %v, %v; want only the other writer's stanza", items, err)
	}
	if id, err := msgid.New(f.Store()).XMPPID(ctx, user, net, conv, "7:42"); err != nil || id != "x-other" {
		t.Errorf("mapping = %q, %v; want x-other", id, err)
	}
}
