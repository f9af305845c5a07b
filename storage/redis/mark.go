package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/storage"
)

// appendMarkedScript is Append and a Put of the item's number, with the
// bucket's list of partitions kept in step (parts(), partitions.go), in
// one step: the outbox's Enqueue in one round trip, where an Update
// costs four (WATCH, GET of the counter, the list, MULTI/EXEC). KEYS[1]
// is the queue's counter, KEYS[2] its items, KEYS[3] and KEYS[4] the
// bucket partition's hash and index, KEYS[5] parts()'s aux; ARGV[1] the
// value, ARGV[2] the key, ARGV[3] and ARGV[4] parts()'s mode and arg. It
// returns the number and what parts() returned.
var appendMarkedScript = goredis.NewScript(partsLua + `
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, string.format('%d:', seq) .. ARGV[1])
local b, n = {}, seq
for i = 8, 1, -1 do
  b[i] = string.char(n % 256)
  n = math.floor(n / 256)
end
redis.call('HSET', KEYS[3], ARGV[2], table.concat(b))
redis.call('ZADD', KEYS[4], 0, ARGV[2])
return {seq, parts(KEYS[4], KEYS[5], ARGV[3], ARGV[4])}
`)

var _ storage.MarkedAppender = (*Store)(nil)

// AppendMarked implements [storage.MarkedAppender] with one Lua script
// (appendMarkedScript); on a Cluster the bucket's list of partitions
// gets the key's partition first, as Put does.
func (s *Store) AppendMarked(ctx context.Context, queue string, value []byte, bucket, key string) (uint64, error) {
	if err := s.check(ctx, "append", "queue", queue); err != nil {
		return 0, err
	}
	if bucket == "" || key == "" {
		return 0, errors.New("redis: append: empty bucket or key")
	}
	tag := tagOf(key)
	if tagOf(queue) != tag {
		return 0, fmt.Errorf("redis: append to queue %q marked in %q: %w", queue, key, ErrCrossSlot)
	}
	if s.cluster != nil {
		if err := s.addPartitions(ctx, bucket, tag); err != nil {
			return 0, fmt.Errorf("redis: append to queue %q: %w", queue, err)
		}
	}
	st := s.partsStep(bucket, tag)
	itemsKey := s.queueKey(queue)
	var res []any
	err := s.onConn(ctx, itemsKey, func(c *goredis.Conn) error {
		var err error
		res, err = appendMarkedScript.Eval(ctx, c,
			[]string{s.seqKey(queue), itemsKey, s.hashKey(bucket, tag), st.index, st.aux},
			value, key, st.mode, st.arg).Slice()
		if err != nil {
			return err
		}
		return s.waitReplicas(ctx, c)
	})
	if err != nil {
		return 0, fmt.Errorf("redis: append to queue %q: %w", queue, err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redis: append to queue %q: script returned %d values", queue, len(res))
	}
	seq, ok1 := res[0].(int64)
	parts, ok2 := res[1].(string)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("redis: append to queue %q: script returned %T, %T", queue, res[0], res[1])
	}
	if err := s.finishParts(ctx, st, parts); err != nil {
		return 0, fmt.Errorf("redis: append to queue %q: %w", queue, err)
	}
	return uint64(seq), nil
}

// AppendMarked implements [storage.MarkedAppender] behind the fence, as
// an Update (the fence's check is the transaction's): the Store's
// script would write unfenced.
func (f *fenced) AppendMarked(ctx context.Context, queue string, value []byte, bucket, key string) (uint64, error) {
	var seq uint64
	err := f.Update(ctx, func(tx storage.Tx) error {
		var err error
		if seq, err = tx.Append(queue, value); err != nil {
			return err
		}
		return tx.Put(bucket, key, binary.BigEndian.AppendUint64(nil, seq))
	})
	return seq, err
}
