package redis_test

import (
	"context"
	"encoding/binary"

	"github.com/switchboard-im/switchboard/storage"
)

// enqueue is the outbox's Enqueue as it was written: an Update.
func enqueue(ctx context.Context, s storage.Store, queue string, value []byte, bucket, key string) (uint64, error) {
	var seq uint64
	err := s.Update(ctx, func(tx storage.Tx) error {
		var err error
		if seq, err = tx.Append(queue, value); err != nil {
			return err
		}
		return tx.Put(bucket, key, binary.BigEndian.AppendUint64(nil, seq))
	})
	return seq, err
}
