// Package storage defines the small key-value and queue interface that
// switchboard keeps its durable state in.
//
// The interface is deliberately narrow so that backends are interchangeable:
// the embedded default lives in [github.com/switchboard-im/switchboard/storage/bolt],
// and a networked backend for multi-instance deployments only has to provide
// the same methods. Every backend must pass the conformance suite in
// [github.com/switchboard-im/switchboard/storage/storagetest].
//
// A Store holds two independent namespaces:
//
//   - buckets, each a sorted map from string keys to byte values, and
//   - queues, each an append-only sequence of byte values numbered by a
//     per-queue sequence number.
//
// A bucket and a queue may have the same name without affecting each other.
// Bucket and queue names must not be empty; keys must not be empty either.
package storage

import (
	"context"
	"errors"
)

// ErrNotFound is returned by [Store.Get] when the key is absent. Callers test
// for it with [errors.Is], since backends may wrap it.
var ErrNotFound = errors.New("storage: not found")

// Store is a durable key-value store with FIFO queues.
//
// Store is safe for concurrent use. Every method may block on I/O (the
// disk, or the network for a server-based backend); none retries a failed
// write on its own except Update's conflicts, so the caller decides what a
// failure means. Methods that take a context return an error wrapping
// ctx.Err() when the context is already done; a backend may ignore
// cancellation once an operation has started. Byte slices are never
// shared between the caller and the store: values passed in may be modified
// after the call returns, and values handed out belong to the caller.
type Store interface {
	// Get returns the value stored under key in bucket, or an error wrapping
	// ErrNotFound when there is none (including when the bucket has never
	// been written). An empty stored value is returned as an empty,
	// non-error result.
	Get(ctx context.Context, bucket, key string) ([]byte, error)

	// Put stores value under key in bucket, creating the bucket if needed
	// and replacing any previous value. key must not be empty.
	Put(ctx context.Context, bucket, key string, value []byte) error

	// Delete removes key from bucket. Deleting an absent key is not an
	// error.
	Delete(ctx context.Context, bucket, key string) error

	// Scan calls fn for every key in bucket that starts with prefix, in
	// ascending byte order of keys. An empty prefix visits the whole bucket.
	// If fn returns an error the scan stops and Scan returns that error
	// (possibly wrapped). fn must not call other methods of the Store: a
	// backend may hold a read transaction open while fn runs. Callers that
	// need to modify the store collect what they need and act after Scan
	// returns.
	Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error

	// Append adds value at the tail of queue and returns its sequence
	// number. Sequence numbers start at 1 and strictly increase per queue;
	// they are never reused, even after the item is removed, and survive
	// closing and reopening the store.
	Append(ctx context.Context, queue string, value []byte) (uint64, error)

	// Range returns up to max items of queue whose Seq is greater than
	// after, in ascending Seq order. It returns no items, and no error, when
	// max is not positive or the queue does not exist.
	Range(ctx context.Context, queue string, after uint64, max int) ([]Item, error)

	// Remove deletes the item with sequence number seq from queue. Removing
	// an absent item is not an error.
	Remove(ctx context.Context, queue string, seq uint64) error

	// Len returns how many items queue holds: 0, and no error, when the
	// queue does not exist. It reads no item, so that a queue's length
	// (the outbox's gauge on /metrics) costs no read of its contents.
	Len(ctx context.Context, queue string) (int, error)

	// Update runs fn with a transaction: the reads fn makes see the
	// transaction's own writes, and either every write fn made survives or,
	// when fn returns an error (returned, possibly wrapped) or the process
	// dies, none does. It is how a delivery and its record of having been
	// delivered are written together. fn must not call other methods of
	// the Store, and must not keep tx.
	//
	// fn may run more than once: a backend with optimistic transactions
	// (Redis) runs it again, with a fresh tx, when a key it read changed
	// before the commit, and keeps only the writes of the run that
	// commits. So fn must do nothing but read and write through tx, and
	// any result it hands out through variables of the caller must be
	// set on every run (assigned, not only when some branch is taken).
	// The writes of one fn must stay within one partition for a backend
	// that partitions (a Redis Cluster): either keys and queue names
	// without a NUL byte, or keys and queue names in the keyspace layout
	// (package keyspace: NUL-joined parts) that start with the same two
	// parts, a network and a user. Other backends take any mix.
	//
	// Update retries by itself until the commit, an error from fn, or ctx
	// is done; the caller does not retry conflicts. It blocks for the I/O
	// of the transaction (and, on a backend configured for it, until
	// replicas acknowledged it).
	Update(ctx context.Context, fn func(tx Tx) error) error

	// Close flushes outstanding writes and releases the store's resources.
	// Calling Close more than once is safe and returns nil after the first
	// call; other methods return an error once the store is closed.
	Close() error
}

// Item is one element of a queue, as returned by [Store.Range].
type Item struct {
	// Seq is the item's sequence number, unique within its queue.
	Seq uint64
	// Value is the item's payload.
	Value []byte
}

// Tx is the view of the store inside [Store.Update]. Its methods behave
// like the Store's methods of the same names.
type Tx interface {
	Get(bucket, key string) ([]byte, error)
	Put(bucket, key string, value []byte) error
	Delete(bucket, key string) error
	Append(queue string, value []byte) (uint64, error)
	// Remove deletes item seq of queue, as Store.Remove does: several
	// in one Update are one write (the journal's acknowledgements).
	Remove(queue string, seq uint64) error
}
