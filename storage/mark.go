package storage

import (
	"context"
	"encoding/binary"
)

// MarkedAppender is implemented by a backend that appends to a queue and
// marks the append in a bucket in one step cheaper than an [Store.Update]
// (one Lua script on Redis, where Update costs a round trip per read,
// WATCH and commit). Callers use [AppendMarked], which falls back to
// Update for a store without it.
type MarkedAppender interface {
	// AppendMarked appends value to queue and, in the same atomic step,
	// puts under key in bucket the item's sequence number (8 bytes,
	// big-endian); it returns that number. key and queue must be in the
	// same partition (see [Store.Update]: the same first two parts in
	// the keyspace layout, or both without a NUL byte). It blocks for
	// one write (and, on a backend configured for it, until replicas
	// acknowledged it) and does not retry a failed one.
	AppendMarked(ctx context.Context, queue string, value []byte, bucket, key string) (uint64, error)
}

// AppendMarked appends value to queue and puts the item's sequence
// number (8 bytes, big-endian) under key in bucket, atomically, as
// [MarkedAppender.AppendMarked] says: with st's own AppendMarked when it
// has one, else in one Update. The outbox's Enqueue is this.
func AppendMarked(ctx context.Context, st Store, queue string, value []byte, bucket, key string) (uint64, error) {
	if m, ok := st.(MarkedAppender); ok {
		return m.AppendMarked(ctx, queue, value, bucket, key)
	}
	var seq uint64
	err := st.Update(ctx, func(tx Tx) error {
		var err error
		if seq, err = tx.Append(queue, value); err != nil {
			return err
		}
		return tx.Put(bucket, key, binary.BigEndian.AppendUint64(nil, seq))
	})
	return seq, err
}
