// Package bolt implements [storage.Store] on top of a single bbolt file, the
// embedded zero-setup default of switchboard.
//
// Each storage bucket and each queue is a bbolt bucket of its own. Their
// internal names carry distinct prefixes so that a storage bucket and a queue
// with the same name never share data. Queue items are keyed by their
// big-endian sequence number, which bbolt's per-bucket sequence counter
// hands out; the counter is persisted with the bucket, so numbers are never
// reused.
//
// Every write is its own fsynced transaction: when a method returns nil the
// data is on disk.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/storage"
	bbolt "go.etcd.io/bbolt"
)

// lockTimeout bounds how long Open waits for the file lock held by another
// process before giving up.
const lockTimeout = time.Second

// Internal bbolt bucket name prefixes keeping the two namespaces apart.
const (
	kvPrefix    = "kv/"
	queuePrefix = "q/"
)

// Store is a [storage.Store] backed by a bbolt database file. It is safe for
// concurrent use.
type Store struct {
	db        *bbolt.DB
	closeOnce sync.Once
}

var _ storage.Store = (*Store)(nil)

// Open opens the bbolt database at path, creating it with mode 0600 if it
// does not exist. Only one process may have a database open at a time: if
// another process holds it, Open fails after about a second with an error
// saying the database is locked, rather than blocking forever.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: database is locked by another process: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Get implements [storage.Store.Get].
func (s *Store) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := check(ctx, "get", "bucket", bucket); err != nil {
		return nil, err
	}
	var val []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(kvName(bucket))
		if b == nil {
			return storage.ErrNotFound
		}
		v := b.Get([]byte(key))
		if v == nil {
			return storage.ErrNotFound
		}
		// v points into the mmap and is only valid inside the
		// transaction. Copy it, keeping an empty value non-nil.
		val = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get from bucket %q: %w", bucket, err)
	}
	return val, nil
}

// Put implements [storage.Store.Put].
func (s *Store) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := check(ctx, "put", "bucket", bucket); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(kvName(bucket))
		if err != nil {
			return err
		}
		// bbolt keeps a reference to value until the transaction commits,
		// which happens before Update returns; no copy is needed.
		if value == nil {
			value = []byte{}
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("bolt: put in bucket %q: %w", bucket, err)
	}
	return nil
}

// Delete implements [storage.Store.Delete].
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if err := check(ctx, "delete", "bucket", bucket); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(kvName(bucket))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("bolt: delete from bucket %q: %w", bucket, err)
	}
	return nil
}

// Scan implements [storage.Store.Scan]. It holds a bbolt read transaction
// while fn runs; fn must therefore not call other methods of s.
func (s *Store) Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error {
	if err := check(ctx, "scan", "bucket", bucket); err != nil {
		return err
	}
	p := []byte(prefix)
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(kvName(bucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(string(k), append([]byte{}, v...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: scan bucket %q: %w", bucket, err)
	}
	return nil
}

// Append implements [storage.Store.Append].
func (s *Store) Append(ctx context.Context, queue string, value []byte) (uint64, error) {
	if err := check(ctx, "append", "queue", queue); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(queueName(queue))
		if err != nil {
			return err
		}
		// NextSequence is persisted with the bucket, so a number handed
		// out is never handed out again, even after the item is removed.
		// If the transaction fails the increment is rolled back with it.
		seq, err = b.NextSequence()
		if err != nil {
			return err
		}
		if value == nil {
			value = []byte{}
		}
		return b.Put(seqKey(seq), value)
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: append to queue %q: %w", queue, err)
	}
	return seq, nil
}

// Range implements [storage.Store.Range].
func (s *Store) Range(ctx context.Context, queue string, after uint64, max int) ([]storage.Item, error) {
	if err := check(ctx, "range", "queue", queue); err != nil {
		return nil, err
	}
	if max <= 0 || after == math.MaxUint64 {
		return nil, nil
	}
	var items []storage.Item
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(queueName(queue))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(items) < max; k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("corrupt queue key of %d bytes", len(k))
			}
			items = append(items, storage.Item{
				Seq:   binary.BigEndian.Uint64(k),
				Value: append([]byte{}, v...),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: range queue %q: %w", queue, err)
	}
	return items, nil
}

// Len implements [storage.Store.Len]: it counts the queue's keys, which
// bbolt reads from its pages without their values.
func (s *Store) Len(ctx context.Context, queue string) (int, error) {
	if err := check(ctx, "len", "queue", queue); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(queueName(queue)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: length of queue %q: %w", queue, err)
	}
	return n, nil
}

// Remove implements [storage.Store.Remove].
func (s *Store) Remove(ctx context.Context, queue string, seq uint64) error {
	if err := check(ctx, "remove", "queue", queue); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(queueName(queue))
		if b == nil {
			return nil
		}
		return b.Delete(seqKey(seq))
	})
	if err != nil {
		return fmt.Errorf("bolt: remove from queue %q: %w", queue, err)
	}
	return nil
}

// Close implements [storage.Store.Close]. bbolt syncs every committed
// transaction, so Close only releases the file and its lock. Calls after
// the first return nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("bolt: close: %w", cerr)
		}
	})
	return err
}

// check reports why an operation named op on the bucket or queue called name
// must not start: a done context or an empty name.
func check(ctx context.Context, op, kind, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	if name == "" {
		return fmt.Errorf("bolt: %s: empty %s name", op, kind)
	}
	return nil
}

func kvName(bucket string) []byte { return []byte(kvPrefix + bucket) }

func queueName(queue string) []byte { return []byte(queuePrefix + queue) }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Update implements [storage.Store.Update] with one bbolt read-write
// transaction.
func (s *Store) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: update: %w", err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return fn(boltTx{tx}) }); err != nil {
		return fmt.Errorf("bolt: update: %w", err)
	}
	return nil
}

// boltTx is a storage.Tx on a bbolt transaction.
type boltTx struct{ tx *bbolt.Tx }

func (t boltTx) Get(bucket, key string) ([]byte, error) {
	if bucket == "" || key == "" {
		return nil, errors.New("bolt: empty bucket or key")
	}
	b := t.tx.Bucket(kvName(bucket))
	if b == nil {
		return nil, storage.ErrNotFound
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, storage.ErrNotFound
	}
	return append([]byte{}, v...), nil
}

func (t boltTx) Put(bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return errors.New("bolt: empty bucket or key")
	}
	b, err := t.tx.CreateBucketIfNotExists(kvName(bucket))
	if err != nil {
		return err
	}
	// The caller may change value after Update returns; bbolt keeps it
	// until the commit, so copy it.
	return b.Put([]byte(key), append([]byte{}, value...))
}

func (t boltTx) Delete(bucket, key string) error {
	if bucket == "" || key == "" {
		return errors.New("bolt: empty bucket or key")
	}
	b := t.tx.Bucket(kvName(bucket))
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

func (t boltTx) Remove(queue string, seq uint64) error {
	if queue == "" {
		return errors.New("bolt: empty queue name")
	}
	b := t.tx.Bucket(queueName(queue))
	if b == nil {
		return nil
	}
	return b.Delete(seqKey(seq))
}

func (t boltTx) Append(queue string, value []byte) (uint64, error) {
	if queue == "" {
		return 0, errors.New("bolt: empty queue name")
	}
	b, err := t.tx.CreateBucketIfNotExists(queueName(queue))
	if err != nil {
		return 0, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	return seq, b.Put(seqKey(seq), append([]byte{}, value...))
}
