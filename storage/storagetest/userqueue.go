package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/storage"
)

// testUserQueue: a queue named in the keyspace layout (network, user,
// then the rest, NUL-joined) and that user's keys are written together in
// one Update, on every backend (a Redis Cluster keeps them in the user's
// slot: the outbox's exactly-once enqueue relies on it); each such queue
// numbers its items on its own; a failed Update leaves neither; Range and
// Remove work on it outside transactions; concurrent transactions
// appending to it get distinct numbers and lose nothing.
func testUserQueue(t *testing.T, s storage.Store) {
	ctx := context.Background()
	const (
		q      = "net\x00alice@example.org\x00outbox"
		key    = "net\x00alice@example.org\x00k"
		otherQ = "net\x00bob@example.org\x00outbox"
	)
	mustAppend(t, s, otherQ, "bob's")
	var seq uint64
	err := s.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Get("ids", key); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("Get of an absent key = %v, want ErrNotFound", err)
		}
		if err := tx.Put("ids", key, []byte("v")); err != nil {
			return err
		}
		var err error
		seq, err = tx.Append(q, []byte("first"))
		return err
	})
	if err != nil {
		t.Fatalf("Update over a user's key and queue: %v", err)
	}
	if seq != 1 {
		t.Errorf("first item of a user's queue = %d, want 1", seq)
	}
	if got := mustGet(t, s, "ids", key); string(got) != "v" {
		t.Errorf("the key written with the append = %q", got)
	}
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Put("ids", key, []byte("rolled back")); err != nil {
			return err
		}
		if _, err := tx.Append(q, []byte("rolled back")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if got := mustGet(t, s, "ids", key); string(got) != "v" {
		t.Errorf("a rolled-back Put survived: %q", got)
	}
	if n := mustAppend(t, s, q, "second"); n != 2 {
		t.Errorf("Append after a rolled-back one = %d, want 2", n)
	}

	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := s.Update(ctx, func(tx storage.Tx) error {
					if _, err := tx.Append(q, fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
						return err
					}
					return tx.Put("ids", fmt.Sprintf("%s-w%d", key, w), fmt.Appendf(nil, "%d", i))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Update: %v", err)
	}
	items, err := s.Range(ctx, q, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2+writers*each {
		t.Fatalf("the user's queue has %d items, want %d", len(items), 2+writers*each)
	}
	for i, it := range items {
		if it.Seq != uint64(i+1) {
			t.Fatalf("item %d has number %d, want %d (numbers handed out once, in order)", i, it.Seq, i+1)
		}
	}
	if err := s.Remove(ctx, q, 1); err != nil {
		t.Fatal(err)
	}
	if items, err := s.Range(ctx, q, 0, 1); err != nil || len(items) != 1 || string(items[0].Value) != "second" {
		t.Errorf("after Remove, the head = %v, %v; want second", items, err)
	}
	if items, err := s.Range(ctx, otherQ, 0, 10); err != nil || len(items) != 1 || items[0].Seq != 1 || string(items[0].Value) != "bob's" {
		t.Errorf("another user's queue = %v, %v; want its one item, numbered 1", items, err)
	}
}
