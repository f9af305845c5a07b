package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/storage"
)

// errProbe stops the first run of a Cluster transaction's function once it
// names its first key, which decides the node the transaction runs on.
var errProbe = errors.New("redis: probe")

// Update implements [storage.Store.Update] optimistically with
// WATCH/MULTI/EXEC (see the package documentation): fn runs, with every
// key it reads WATCHed before the read; its writes go out in one
// MULTI/EXEC; if a watched key changed in between, EXEC applies nothing and
// fn runs again, after a short random pause, until it commits, fails or
// ctx is done. On a Cluster fn first runs once more, stopped at its first
// key, to find the node that holds the keys.
func (s *Store) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	return s.update(ctx, nil, fn)
}

// update is Update, behind f's fence unless f is nil.
func (s *Store) update(ctx context.Context, f *fenced, fn func(tx storage.Tx) error) error {
	if s.closed.Load() {
		return errors.New("redis: update: store is closed")
	}
	r := redirects{s: s}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redis: update: %w", err)
		}
		err := s.updateOnce(ctx, f, fn)
		if r.again(ctx, err) {
			continue // the slot moved: run fn again on the node that has it
		}
		if !errors.Is(err, goredis.TxFailedErr) {
			if err != nil {
				return fmt.Errorf("redis: update: %w", err)
			}
			return nil
		}
		// Another writer changed what fn read: back off a little, more
		// after each conflict, so that contending writers spread out.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// updateOnce runs fn once in a transaction and commits it, behind f's
// fence unless f is nil.
func (s *Store) updateOnce(ctx context.Context, f *fenced, fn func(tx storage.Tx) error) error {
	node, err := s.node(ctx, "")
	tag := ""
	if s.cluster != nil {
		p := &probeTx{s: s}
		ferr := fn(p)
		if !p.named {
			return ferr // fn touched nothing: nothing to commit
		}
		tag = p.tag
		if f != nil {
			if err := f.precheck(ctx, tag); err != nil {
				return err
			}
		}
		node, err = s.cluster.MasterForKey(ctx, p.key)
	}
	if err != nil {
		return err
	}
	return node.Watch(ctx, func(rtx *goredis.Tx) error {
		t := &redisTx{s: s, f: f, ctx: ctx, rtx: rtx, tag: tag, pinned: s.cluster != nil,
			watched: map[string]bool{}, vals: map[string]*[]byte{}, seqs: map[string]uint64{}}
		if f != nil {
			if err := f.guard(t); err != nil {
				return err
			}
		}
		if err := fn(t); err != nil {
			return err
		}
		return t.commit()
	})
}

// probeTx records the first key a Cluster transaction names.
type probeTx struct {
	s     *Store
	named bool
	key   string
	tag   string
}

func (p *probeTx) name(key, tag string) error {
	p.named, p.key, p.tag = true, key, tag
	return errProbe
}

func (p *probeTx) Get(bucket, key string) ([]byte, error) {
	return nil, p.name(p.s.hashKey(bucket, tagOf(key)), tagOf(key))
}
func (p *probeTx) Put(bucket, key string, _ []byte) error {
	return p.name(p.s.hashKey(bucket, tagOf(key)), tagOf(key))
}
func (p *probeTx) Delete(bucket, key string) error {
	return p.name(p.s.hashKey(bucket, tagOf(key)), tagOf(key))
}
func (p *probeTx) Append(queue string, _ []byte) (uint64, error) {
	return 0, p.name(p.s.queueKey(queue), tagOf(queue))
}
func (p *probeTx) Remove(queue string, _ uint64) error {
	return p.name(p.s.queueKey(queue), tagOf(queue))
}

// redisTx is a storage.Tx: reads go to Redis under WATCH unless the
// transaction wrote the key; writes are queued for commit.
type redisTx struct {
	s      *Store
	f      *fenced // the fenced view the transaction writes through, or nil
	ctx    context.Context
	rtx    *goredis.Tx
	tag    string // on a Cluster, the one partition the transaction may touch
	pinned bool

	watched map[string]bool
	// vals holds what the transaction wrote, by hashKey + "\x00" + key:
	// a nil pointer for a deletion.
	vals map[string]*[]byte
	ops  []func(p goredis.Pipeliner)
	// parts are the partitions of buckets written, each to end with
	// parts() (partitions.go).
	parts map[partKey]partWrites
	seqs  map[string]uint64 // queue -> last number handed out
	// fenceOp, set by a fenced view's guard on a Cluster, raises the
	// partition's fence with the writes.
	fenceOp func(p goredis.Pipeliner)
	failed  error
}

// use checks that the transaction may touch partition tag.
func (t *redisTx) use(tag string) error {
	if t.failed != nil {
		return t.failed
	}
	if t.pinned && tag != t.tag {
		return fmt.Errorf("redis: partitions %q and %q: %w", slotTag(t.tag), slotTag(tag), ErrCrossSlot)
	}
	return nil
}

func (t *redisTx) watch(key string) error {
	if t.watched[key] {
		return nil
	}
	if err := t.rtx.Watch(t.ctx, key).Err(); err != nil {
		t.failed = err
		return err
	}
	t.watched[key] = true
	return nil
}

func (t *redisTx) Get(bucket, key string) ([]byte, error) {
	if bucket == "" || key == "" {
		return nil, errors.New("redis: empty bucket or key")
	}
	tag := tagOf(key)
	if err := t.use(tag); err != nil {
		return nil, err
	}
	hk := t.s.hashKey(bucket, tag)
	if v, ok := t.vals[hk+"\x00"+key]; ok {
		if v == nil {
			return nil, storage.ErrNotFound
		}
		return append([]byte{}, *v...), nil
	}
	if err := t.watch(hk); err != nil {
		return nil, err
	}
	v, err := t.rtx.HGet(t.ctx, hk, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		t.failed = err
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *redisTx) Put(bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return errors.New("redis: empty bucket or key")
	}
	tag := tagOf(key)
	if err := t.use(tag); err != nil {
		return err
	}
	v := append([]byte{}, value...)
	hk, ik := t.s.hashKey(bucket, tag), t.s.indexKey(bucket, tag)
	t.vals[hk+"\x00"+key] = &v
	t.wrote(bucket, tag, true)
	t.ops = append(t.ops, func(p goredis.Pipeliner) {
		p.HSet(t.ctx, hk, key, v)
		p.ZAdd(t.ctx, ik, goredis.Z{Member: key})
	})
	return nil
}

func (t *redisTx) Delete(bucket, key string) error {
	if bucket == "" || key == "" {
		return errors.New("redis: empty bucket or key")
	}
	tag := tagOf(key)
	if err := t.use(tag); err != nil {
		return err
	}
	hk, ik := t.s.hashKey(bucket, tag), t.s.indexKey(bucket, tag)
	t.vals[hk+"\x00"+key] = nil
	t.wrote(bucket, tag, false)
	t.ops = append(t.ops, func(p goredis.Pipeliner) {
		p.HDel(t.ctx, hk, key)
		p.ZRem(t.ctx, ik, key)
	})
	return nil
}

// Append hands out the number after the queue's counter, which it reads
// under WATCH: a concurrent Append (the Lua script changes the counter) or
// transaction makes EXEC fail and the function run again.
func (t *redisTx) Append(queue string, value []byte) (uint64, error) {
	if queue == "" {
		return 0, errors.New("redis: empty queue name")
	}
	if err := t.use(tagOf(queue)); err != nil {
		return 0, err
	}
	sk, qk := t.s.seqKey(queue), t.s.queueKey(queue)
	last, ok := t.seqs[queue]
	if !ok {
		if err := t.watch(sk); err != nil {
			return 0, err
		}
		n, err := t.rtx.Get(t.ctx, sk).Uint64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.failed = err
			return 0, err
		}
		last = n
	}
	seq := last + 1
	t.seqs[queue] = seq
	member := strconv.FormatUint(seq, 10) + ":" + string(value)
	t.ops = append(t.ops, func(p goredis.Pipeliner) {
		p.ZAdd(t.ctx, qk, goredis.Z{Score: float64(seq), Member: member})
		p.Set(t.ctx, sk, seq, 0)
	})
	return seq, nil
}

// Remove queues the removal of item seq of queue; it reads nothing.
func (t *redisTx) Remove(queue string, seq uint64) error {
	if queue == "" {
		return errors.New("redis: empty queue name")
	}
	if err := t.use(tagOf(queue)); err != nil {
		return err
	}
	if seq == 0 || seq >= 1<<53 {
		return nil // never handed out (Store.Remove)
	}
	qk, n := t.s.queueKey(queue), strconv.FormatUint(seq, 10)
	t.ops = append(t.ops, func(p goredis.Pipeliner) {
		p.ZRemRangeByScore(t.ctx, qk, n, n)
	})
	return nil
}

// partKey names a partition of a bucket.
type partKey struct{ bucket, tag string }

// partWrites says which writes a transaction made to a partition.
type partWrites struct{ put, del bool }

// wrote records a write to partition tag of bucket (put: a Put, else a
// Delete).
func (t *redisTx) wrote(bucket, tag string, put bool) {
	if tag == "" {
		return // the shared partition is not listed
	}
	if t.parts == nil {
		t.parts = map[partKey]partWrites{}
	}
	k := partKey{bucket, tag}
	w := t.parts[k]
	if put {
		w.put = true
	} else {
		w.del = true
	}
	t.parts[k] = w
}

// commit sends the queued writes in one MULTI/EXEC, which fails with
// goredis.TxFailedErr when a watched key changed, and keeps the buckets'
// lists of partitions in step in the same MULTI/EXEC (partitions.go).
// On a Cluster, where the lists are in another slot, the partitions put
// to are listed first: behind the lease check when the transaction is
// fenced, so that a holding already lost lists nothing.
func (t *redisTx) commit() error {
	if len(t.ops) == 0 {
		return nil
	}
	if t.s.cluster != nil {
		for k, w := range t.parts {
			if !w.put {
				continue
			}
			var err error
			if t.f != nil {
				err = t.f.addPartition(t.ctx, k.bucket, k.tag)
			} else {
				err = t.s.addPartitions(t.ctx, k.bucket, k.tag)
			}
			if err != nil {
				return err
			}
		}
	}
	steps := make([]partsStep, 0, len(t.parts))
	putOnly := make([]bool, 0, len(t.parts))
	for k, w := range t.parts {
		steps = append(steps, t.s.partsStep(k.bucket, k.tag))
		putOnly = append(putOnly, !w.del)
	}
	results := make([]func() (string, error), len(steps))
	_, err := t.rtx.TxPipelined(t.ctx, func(p goredis.Pipeliner) error {
		if t.fenceOp != nil {
			t.fenceOp(p)
		}
		for _, op := range t.ops {
			op(p)
		}
		for i, st := range steps {
			results[i] = st.queue(t.ctx, p, putOnly[i])
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := t.s.waitReplicas(t.ctx, t.rtx); err != nil {
		return err
	}
	for i, st := range steps {
		res, err := results[i]()
		if err != nil {
			return err
		}
		if err := t.s.finishParts(t.ctx, st, res); err != nil {
			return err
		}
	}
	return nil
}
