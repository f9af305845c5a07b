package archive

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

var errCrossUser = errors.New("transaction spans users")

// partitioned is a store that, like Redis Cluster, refuses a transaction
// that touches two users' keys, and writes nothing then.
type partitioned struct {
	storage.Store
	updates int
}

func (p *partitioned) Update(ctx context.Context, fn func(storage.Tx) error) error {
	p.updates++
	return p.Store.Update(ctx, func(tx storage.Tx) error {
		return fn(&oneUserTx{Tx: tx})
	})
}

type oneUserTx struct {
	storage.Tx
	user string
}

func (t *oneUserTx) check(key string) error {
	u := userOf(key)
	if t.user == "" {
		t.user = u
	}
	if u != t.user {
		return errCrossUser
	}
	return nil
}

func (t *oneUserTx) Get(bucket, key string) ([]byte, error) {
	if err := t.check(key); err != nil {
		return nil, err
	}
	return t.Tx.Get(bucket, key)
}

func (t *oneUserTx) Put(bucket, key string, v []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	return t.Tx.Put(bucket, key, v)
}

func (t *oneUserTx) Delete(bucket, key string) error {
	if err := t.check(key); err != nil {
		return err
	}
	return t.Tx.Delete(bucket, key)
}

// TestPartitionedStore: on a store that cannot commit a transaction across
// users, a flush falls back to one transaction per user, loses nothing,
// and writes per user from then on; Prune works per user too.
func TestPartitionedStore(t *testing.T) {
	st := &partitioned{Store: bolttest.New(t).Store()}
	a := New(st, Bounds{})
	ctx := t.Context()
	users := []string{"alice@localhost", "bob@localhost", "carol@localhost"}
	add := func(id string, at time.Time) {
		t.Helper()
		for _, u := range users {
			if err := a.Add(ctx, u, network, room, Entry{ID: id, Time: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("old", t0)
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if st.updates != 1+len(users) {
		t.Errorf("%d transactions for the first flush, want 1 refused and %d", st.updates, len(users))
	}
	st.updates = 0
	add("new", t0.Add(time.Hour))
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if st.updates != len(users) {
		t.Errorf("%d transactions for the second flush, want one per user (%d)", st.updates, len(users))
	}
	n, err := a.Prune(ctx, t0.Add(time.Minute))
	if err != nil || n != len(users) {
		t.Fatalf("Prune = %d, %v; want %d", n, err, len(users))
	}
	for _, u := range users {
		p, err := a.Query(ctx, u, network, room, Query{Max: -1})
		if err != nil || len(p.Entries) != 1 || p.Entries[0].ID != "new" {
			t.Errorf("%s: %+v, %v; want only the new message", u, p.Entries, err)
		}
	}
}
