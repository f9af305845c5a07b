package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/storage"
)

// Leases (storage.Leaser).
//
//	P{_}l:name   string "token since-ms owner", expiring (PX) with the lease
//	P{_}t:name   string the last fencing token handed out for name (INCR)
//	P{_}n        zset   announced instances, scored by expiry (ms)
//
// Both carry the shared tag, as the network-wide queues do, so that on a
// Cluster a fenced write to such a queue and the lease it checks are in
// one slot; a user's queue on a Cluster has a per-partition token fence
// instead (fence.go).
//
// Every lease operation is a Lua script, not WATCH/MULTI/EXEC: each is a
// compare-then-write of one key (take it if absent, extend or delete it
// if it is still ours, write a queue item if the lease is still ours)
// that a script does in one round trip, with no command of another client
// between the comparison and the write and no retry loop. WATCH would
// need a GET, then MULTI/EXEC, then a rerun whenever the lease key was
// touched, including by the holder's own renewals — and in the meantime
// the lease can expire without touching anything WATCH sees. Inside a
// script Redis also takes the time once, so a lease cannot expire between
// its check and the write.

var _ storage.Leaser = (*Store)(nil)

// acquireScript takes the lease with SET NX PX and, only when that
// succeeds, hands out the next fencing token (INCR) and records it in the
// lease's value: the token and the holding appear together. KEYS[1] is
// the lease, KEYS[2] its counter; ARGV are ttl in ms, the start time in
// ms and the owner. It returns 0 when the lease is held.
var acquireScript = goredis.NewScript(`
if not redis.call('SET', KEYS[1], '', 'NX', 'PX', ARGV[1]) then return 0 end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], t .. ' ' .. ARGV[2] .. ' ' .. ARGV[3], 'KEEPTTL')
return t
`)

// renewScript extends the lease KEYS[1] to ARGV[2] ms if its value is
// still ARGV[1] (compare-and-extend); 1 if it did, 0 if not.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// releaseScript deletes the lease KEYS[1] if its value is still ARGV[1].
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// fencedAppendScript is appendScript behind a fence. KEYS[1] is the
// fence: the lease key (ARGV[1] "v": it must hold ARGV[2]) or a
// partition's token fence (ARGV[1] "t": its token must not exceed
// ARGV[2], which it becomes; see fence.go); KEYS[2] and KEYS[3] the
// queue's counter and items; ARGV[3] the value. It returns -1 when
// fenced off.
var fencedAppendScript = goredis.NewScript(fenceLua + `
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, string.format('%d:', seq) .. ARGV[3])
return seq
`)

// fencedRemoveScript removes item ARGV[3] of queue KEYS[2] behind the
// fence KEYS[1] (ARGV[1] and ARGV[2] as for fencedAppendScript); -1 when
// fenced off.
var fencedRemoveScript = goredis.NewScript(fenceLua + `
redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[3], ARGV[3])
return 1
`)

// fenceLua starts a fenced queue script: it returns -1 unless the fence
// KEYS[1] lets the write through (ARGV[1] "v": the lease key holds
// ARGV[2]; "t": the partition's token fence does not exceed ARGV[2], and
// is raised to it).
const fenceLua = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == 'v' then
  if cur ~= ARGV[2] then return -1 end
else
  if tonumber(cur or '0') > tonumber(ARGV[2]) then return -1 end
  redis.call('SET', KEYS[1], ARGV[2])
end
`

func (s *Store) leaseKey(name string) string   { return s.ns + "{_}l:" + name }
func (s *Store) counterKey(name string) string { return s.ns + "{_}t:" + name }

// leaseValue is what the lease key holds while l is its holding.
func leaseValue(l storage.Lease) string {
	return fmt.Sprintf("%d %d %s", l.Token, l.Since.UnixMilli(), l.Owner)
}

// parseLease reads a lease key's value.
func parseLease(name, v string) (storage.Lease, error) {
	tok, rest, ok1 := strings.Cut(v, " ")
	ms, owner, ok2 := strings.Cut(rest, " ")
	t, err1 := strconv.ParseUint(tok, 10, 64)
	since, err2 := strconv.ParseInt(ms, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return storage.Lease{}, fmt.Errorf("corrupt lease %.40q", v)
	}
	return storage.Lease{Name: name, Owner: owner, Token: t, Since: time.UnixMilli(since)}, nil
}

func checkLease(name string, ttl time.Duration) error {
	if name == "" {
		return errors.New("empty lease name")
	}
	if ttl < time.Millisecond {
		return errors.New("lease TTL under a millisecond")
	}
	return nil
}

// AcquireLease implements [storage.Leaser.AcquireLease].
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (storage.Lease, bool, error) {
	if err := s.check(ctx, "acquire lease", "lease", name); err != nil {
		return storage.Lease{}, false, err
	}
	if err := checkLease(name, ttl); err != nil {
		return storage.Lease{}, false, fmt.Errorf("redis: acquire lease: %w", err)
	}
	since := time.UnixMilli(time.Now().UnixMilli())
	var tok int64
	lk := s.leaseKey(name)
	err := s.onConn(ctx, lk, func(c *goredis.Conn) error {
		var err error
		tok, err = acquireScript.Eval(ctx, c, []string{lk, s.counterKey(name)},
			ttl.Milliseconds(), since.UnixMilli(), owner).Int64()
		if err != nil || tok == 0 {
			return err
		}
		return s.waitReplicas(ctx, c)
	})
	if err != nil {
		return storage.Lease{}, false, fmt.Errorf("redis: acquire lease %q: %w", name, err)
	}
	if tok == 0 {
		return storage.Lease{}, false, nil
	}
	return storage.Lease{Name: name, Owner: owner, Token: uint64(tok), Since: since}, true, nil
}

// RenewLease implements [storage.Leaser.RenewLease].
func (s *Store) RenewLease(ctx context.Context, l storage.Lease, ttl time.Duration) error {
	if err := s.check(ctx, "renew lease", "lease", l.Name); err != nil {
		return err
	}
	if err := checkLease(l.Name, ttl); err != nil {
		return fmt.Errorf("redis: renew lease: %w", err)
	}
	lk := s.leaseKey(l.Name)
	n, err := renewScript.Eval(ctx, s.c, []string{lk}, leaseValue(l), ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("redis: renew lease %q: %w", l.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("redis: renew lease %q (token %d): %w", l.Name, l.Token, storage.ErrFenced)
	}
	return nil
}

// ReleaseLease implements [storage.Leaser.ReleaseLease].
func (s *Store) ReleaseLease(ctx context.Context, l storage.Lease) error {
	if err := s.check(ctx, "release lease", "lease", l.Name); err != nil {
		return err
	}
	if err := releaseScript.Eval(ctx, s.c, []string{s.leaseKey(l.Name)}, leaseValue(l)).Err(); err != nil {
		return fmt.Errorf("redis: release lease %q: %w", l.Name, err)
	}
	return nil
}

// LeaseHolder implements [storage.Leaser.LeaseHolder].
func (s *Store) LeaseHolder(ctx context.Context, name string) (storage.Lease, error) {
	if err := s.check(ctx, "lease holder", "lease", name); err != nil {
		return storage.Lease{}, err
	}
	lk := s.leaseKey(name)
	var get *goredis.StringCmd
	var ttl *goredis.DurationCmd
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, lk)
		ttl = p.PTTL(ctx, lk)
		return nil
	})
	if errors.Is(err, goredis.Nil) || errors.Is(get.Err(), goredis.Nil) {
		return storage.Lease{}, fmt.Errorf("redis: lease %q: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Lease{}, fmt.Errorf("redis: lease %q: %w", name, err)
	}
	l, err := parseLease(name, get.Val())
	if err != nil {
		return storage.Lease{}, fmt.Errorf("redis: lease %q: %w", name, err)
	}
	l.TTL = max(ttl.Val(), 0)
	return l, nil
}

func (s *Store) instancesKey() string { return s.ns + "{_}n" }

// Announce implements [storage.Leaser.Announce]: the instance's expiry
// is its score (Redis 7.0 has no expiry per member), and expired ones are
// dropped on the way.
func (s *Store) Announce(ctx context.Context, owner string, ttl time.Duration) error {
	if err := s.check(ctx, "announce", "instance", owner); err != nil {
		return err
	}
	now := time.Now()
	k := s.instancesKey()
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, k, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		p.ZAdd(ctx, k, goredis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: owner})
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: announce %q: %w", owner, err)
	}
	return nil
}

// Instances implements [storage.Leaser.Instances].
func (s *Store) Instances(ctx context.Context) ([]storage.Instance, error) {
	if s.closed.Load() {
		return nil, errors.New("redis: instances: store is closed")
	}
	zs, err := s.c.ZRangeByScoreWithScores(ctx, s.instancesKey(), &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: instances: %w", err)
	}
	out := make([]storage.Instance, 0, len(zs))
	for _, z := range zs {
		name, _ := z.Member.(string)
		out = append(out, storage.Instance{Owner: name, Until: time.UnixMilli(int64(z.Score))})
	}
	slices.SortFunc(out, func(a, b storage.Instance) int { return strings.Compare(a.Owner, b.Owner) })
	return out, nil
}

// Fenced implements [storage.Leaser.Fenced].
func (s *Store) Fenced(l storage.Lease) storage.Store {
	return &fenced{Store: s, lease: l, value: leaseValue(l)}
}

// fenced is the view Fenced returns: Append and Remove check their
// queue's fence (the lease, or a user's partition's token fence on a
// Cluster) in their script, Put, Delete and Update their fence (fence.go); reads are
// the Store's.
type fenced struct {
	*Store
	lease storage.Lease
	value string
}

// Append implements [storage.Store.Append] behind the queue's fence.
func (f *fenced) Append(ctx context.Context, queue string, value []byte) (uint64, error) {
	if err := f.check(ctx, "append", "queue", queue); err != nil {
		return 0, err
	}
	fk, mode, want, err := f.queueFence(ctx, queue)
	if err != nil {
		return 0, fmt.Errorf("redis: append to queue %q: %w", queue, err)
	}
	seqKey, itemsKey := f.seqKey(queue), f.queueKey(queue)
	var seq int64
	err = f.onConn(ctx, itemsKey, func(c *goredis.Conn) error {
		var err error
		seq, err = fencedAppendScript.Eval(ctx, c, []string{fk, seqKey, itemsKey}, mode, want, value).Int64()
		if err != nil || seq < 0 {
			return err
		}
		return f.waitReplicas(ctx, c)
	})
	if err == nil && seq < 0 {
		err = f.fencedOff()
	}
	if err != nil {
		return 0, fmt.Errorf("redis: append to queue %q: %w", queue, err)
	}
	return uint64(seq), nil
}

// Remove implements [storage.Store.Remove] behind the queue's fence.
func (f *fenced) Remove(ctx context.Context, queue string, seq uint64) error {
	if err := f.check(ctx, "remove", "queue", queue); err != nil {
		return err
	}
	if seq == 0 || seq >= 1<<53 {
		return nil
	}
	fk, mode, want, err := f.queueFence(ctx, queue)
	if err != nil {
		return fmt.Errorf("redis: remove from queue %q: %w", queue, err)
	}
	qk := f.queueKey(queue)
	var n int64
	err = f.onConn(ctx, qk, func(c *goredis.Conn) error {
		var err error
		n, err = fencedRemoveScript.Eval(ctx, c, []string{fk, qk}, mode, want, seq).Int64()
		if err != nil || n < 0 {
			return err
		}
		return f.waitReplicas(ctx, c)
	})
	if err == nil && n < 0 {
		err = f.fencedOff()
	}
	if err != nil {
		return fmt.Errorf("redis: remove from queue %q: %w", queue, err)
	}
	return nil
}

// Close implements [storage.Store.Close]: the view owns nothing.
func (f *fenced) Close() error { return nil }

func (f *fenced) fencedOff() error {
	return fmt.Errorf("lease %q token %d: %w", f.lease.Name, f.lease.Token, storage.ErrFenced)
}
