// Package redis implements [storage.Store] on Redis, for deployments where
// several switchboard instances share their state, or where the state must
// survive the loss of one machine.
//
// One [Options] value covers the three ways Redis is deployed, all through
// go-redis's UniversalClient: a single server (redis:// or rediss://), a
// master with replicas watched by Sentinel (redis-sentinel://, or
// SentinelAddrs and MasterName) and Redis Cluster (ClusterAddrs).
//
// # Key layout
//
// Every Redis key starts with Options.KeyPrefix (default "switchboard:").
// Bucket keys that follow the layout of package keyspace, parts joined by
// NUL bytes with the network and the user first, are kept per user:
// everything of one user, in every bucket, carries the same hash tag, so in
// a Cluster a user's multi-key operations (a message-ID pair, a
// registration and its settings, forgetting a user) stay in one slot. The
// other bucket keys carry the shared tag "_". A queue's name is
// partitioned as a key is: a queue named in the keyspace layout (a user's
// outbox, "network \0 user \0 outbox") sits in that user's slot, so an
// append to it and the user's message-ID keys make one transaction; the
// other queues (network-wide ones) carry "_":
//
//	P{T}b:bucket   hash   key -> value, for the keys of partition T
//	P{T}i:bucket   zset   the same keys, score 0, for ordered scans (ZRANGEBYLEX)
//	P{_}p:bucket   zset   the partitions T that have keys in the bucket, score 0
//	P{T}x:bucket   string on a Cluster, set when a write emptied partition T
//	P{T}q:queue    zset   score seq, member "seq:" value
//	P{T}s:queue    string the last sequence number handed out
//
// T is the hex encoding of "network \0 user" (the key's or queue name's
// first two parts), or "_" for a name without a NUL byte. Hex keeps braces out of the tag.
// Since a user's keys all start with the tag's text followed by a NUL or
// nothing, concatenating the partitions in tag order gives the keys in
// byte order; Scan merges that with the shared partition. The list of a
// bucket's partitions follows the writes: a partition emptied by a delete
// leaves it (so Scan reads no partition per user who once had a key),
// one written to joins it, in the write's atomic step on a single
// server, with a mark on a Cluster (partitions.go).
//
// # Atomicity
//
// Single-key writes and a key with its index entry are one MULTI/EXEC.
// Append is a Lua script: the INCR of the counter and the ZADD of the item
// happen in one step, so no reader sees number 6 before number 5 exists
// (a flusher would acknowledge 6 and then find 5 behind it);
// AppendMarked (the outbox's Enqueue) is one script too, an append and a
// Put of its number, one round trip where an Update costs four. Update is
// optimistic, WATCH/MULTI/EXEC rather than Lua, because its function is Go
// code that decides what to write from what it read: every key it reads is
// WATCHed before the read, its writes are queued and sent in one
// MULTI/EXEC, and when a watched key changed meanwhile EXEC does nothing and
// the function runs again on fresh data (see [storage.Store.Update]). In a
// Cluster a transaction must stay in one hash slot: in practice within one
// user's keys, or within the shared tag.
//
// # Durability
//
// Redis replicates asynchronously. With Options.MinReplicas set, every
// write is followed by WAIT on the same connection, and fails with an error
// wrapping [ErrNotReplicated] unless that many replicas acknowledged it
// within Options.MinReplicasTimeout: a write that returned nil then
// survives the loss of the master as long as one of those replicas is
// promoted (Sentinel promotes the most up-to-date one). A write that failed
// that way may still have been applied.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/switchboard-im/switchboard/storage"
)

// ErrNotReplicated is returned, wrapped, by writes when fewer than
// Options.MinReplicas replicas acknowledged them in time. The write was
// applied on the master and may or may not survive a failover.
var ErrNotReplicated = errors.New("write not acknowledged by enough replicas")

// ErrCrossSlot is returned, wrapped, by Update on a Cluster when the
// transaction touches keys of two hash tags, which Redis Cluster cannot
// make atomic.
var ErrCrossSlot = errors.New("transaction spans hash slots")

// DefaultKeyPrefix starts every Redis key the store writes.
const DefaultKeyPrefix = "switchboard:"

// DefaultMinReplicasTimeout is how long a write waits for replicas when
// Options.MinReplicas is set and Options.MinReplicasTimeout is not.
const DefaultMinReplicasTimeout = time.Second

// scanPage is how many keys Scan reads per round trip.
const scanPage = 256

// Options say which Redis to use and how. Exactly one of URL,
// SentinelAddrs (with MasterName) and ClusterAddrs must be set; URL's
// user and password apply unless Username or Password are set.
type Options struct {
	// URL is redis://[user[:password]@]host:port[/db] (rediss:// for TLS),
	// or redis-sentinel://[user[:password]@]host:port[,host:port…][/db]?master_name=NAME
	// (rediss-sentinel:// for TLS to the master and the sentinels).
	URL string
	// SentinelAddrs and MasterName name a Sentinel-watched master.
	SentinelAddrs []string
	MasterName    string
	// ClusterAddrs are some nodes of a Redis Cluster.
	ClusterAddrs []string

	// Username and Password authenticate to the Redis servers (AUTH, or
	// an ACL user); SentinelUsername and SentinelPassword to the
	// sentinels.
	Username         string
	Password         string
	SentinelUsername string
	SentinelPassword string
	// DB selects the logical database (not in a Cluster).
	DB int
	// TLS, when not nil, is used for every connection; rediss URLs set
	// it to a default configuration when it is nil.
	TLS *tls.Config

	// KeyPrefix starts every key; it must not contain braces. Several
	// deployments (or tests) can share one Redis with different
	// prefixes. Empty means [DefaultKeyPrefix].
	KeyPrefix string

	// MinReplicas is how many replicas must acknowledge each write before
	// it counts as done (WAIT); 0 does not wait.
	MinReplicas int
	// MinReplicasTimeout bounds that wait; 0 means
	// [DefaultMinReplicasTimeout].
	MinReplicasTimeout time.Duration

	// Logger receives one line when the store opens; nil means
	// slog.Default(). The password is never logged.
	Logger *slog.Logger
}

// Store is a [storage.Store] in Redis. It is safe for concurrent use.
type Store struct {
	c       goredis.UniversalClient
	cluster *goredis.ClusterClient // nil unless c is a Cluster client
	ns      string
	replica int
	wait    time.Duration

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ storage.Store = (*Store)(nil)

// Open connects to the Redis that opts name and checks it answers. It
// makes no other change to Redis.
func Open(ctx context.Context, opts Options) (*Store, error) {
	uo, mode, err := universalOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	ns := opts.KeyPrefix
	if ns == "" {
		ns = DefaultKeyPrefix
	}
	if strings.ContainsAny(ns, "{}") {
		return nil, errors.New("redis: key prefix must not contain braces")
	}
	if opts.MinReplicas < 0 {
		return nil, errors.New("redis: negative MinReplicas")
	}
	wait := opts.MinReplicasTimeout
	if wait <= 0 {
		wait = DefaultMinReplicasTimeout
	}
	c := goredis.NewUniversalClient(uo)
	s := &Store{c: c, ns: ns, replica: opts.MinReplicas, wait: wait}
	if cc, ok := c.(*goredis.ClusterClient); ok {
		s.cluster = cc
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	routeLibraryLog(log)
	// The line names where, and as whom, never with which password.
	log.Info("storage: opening redis", "mode", mode, "addrs", strings.Join(uo.Addrs, ","),
		"master", uo.MasterName, "user", uo.Username, "tls", uo.TLSConfig != nil,
		"key_prefix", ns, "min_replicas", opts.MinReplicas)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis: %s at %s: %w", mode, strings.Join(uo.Addrs, ","), redact(err, uo.Password, uo.SentinelPassword))
	}
	return s, nil
}

// universalOptions turns opts into go-redis options and names the mode.
func universalOptions(opts Options) (*goredis.UniversalOptions, string, error) {
	set := 0
	for _, b := range []bool{opts.URL != "", len(opts.SentinelAddrs) > 0, len(opts.ClusterAddrs) > 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, "", errors.New("give exactly one of a URL, sentinel addresses or cluster addresses")
	}
	uo := &goredis.UniversalOptions{DB: opts.DB, TLSConfig: opts.TLS,
		// Redis 7 has no maintenance notifications; go-redis's "auto"
		// mode tries them on every new connection and, on the refusal,
		// rewrites options that Conn() shares between goroutines (a data
		// race). Failover clients have them disabled already.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}}
	mode := "standalone"
	switch {
	case opts.URL != "":
		u, err := ParseURL(opts.URL)
		if err != nil {
			return nil, "", err
		}
		uo.Addrs, uo.MasterName, uo.Username, uo.Password = u.Addrs, u.MasterName, u.Username, u.Password
		if u.DB != 0 {
			uo.DB = u.DB
		}
		if u.TLS && uo.TLSConfig == nil {
			uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if u.MasterName != "" {
			mode = "sentinel"
		}
	case len(opts.SentinelAddrs) > 0:
		if opts.MasterName == "" {
			return nil, "", errors.New("sentinel addresses need a master name")
		}
		uo.Addrs, uo.MasterName, mode = opts.SentinelAddrs, opts.MasterName, "sentinel"
	default:
		uo.Addrs, uo.IsClusterMode, mode = opts.ClusterAddrs, true, "cluster"
		if uo.DB != 0 {
			return nil, "", errors.New("a cluster has no database numbers")
		}
	}
	if opts.Username != "" {
		uo.Username = opts.Username
	}
	if opts.Password != "" {
		uo.Password = opts.Password
	}
	uo.SentinelUsername, uo.SentinelPassword = opts.SentinelUsername, opts.SentinelPassword
	return uo, mode, nil
}

// redact removes password from err's text (a server may quote what it was
// sent); the result wraps nothing, so no wrapped error can leak it either.
func redact(err error, passwords ...string) error {
	msg := err.Error()
	for _, p := range passwords {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, "[password]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// Get implements [storage.Store.Get].
func (s *Store) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := s.check(ctx, "get", "bucket", bucket); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errors.New("redis: get: empty key")
	}
	v, err := s.c.HGet(ctx, s.hashKey(bucket, tagOf(key)), key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: get from bucket %q: %w", bucket, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: get from bucket %q: %w", bucket, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Put implements [storage.Store.Put]: the value, its index entry and the
// bucket's list of partitions in one MULTI/EXEC (partitions.go; on a
// Cluster the list's entry is added first, in its own slot).
func (s *Store) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := s.check(ctx, "put", "bucket", bucket); err != nil {
		return err
	}
	if key == "" {
		return errors.New("redis: put: empty key")
	}
	tag := tagOf(key)
	if s.cluster != nil {
		if err := s.addPartitions(ctx, bucket, tag); err != nil {
			return fmt.Errorf("redis: put in bucket %q: %w", bucket, err)
		}
	}
	hk := s.hashKey(bucket, tag)
	if err := s.bucketWrite(ctx, bucket, tag, true, func(p goredis.Pipeliner) {
		p.HSet(ctx, hk, key, value)
		p.ZAdd(ctx, s.indexKey(bucket, tag), goredis.Z{Member: key})
	}); err != nil {
		return fmt.Errorf("redis: put in bucket %q: %w", bucket, err)
	}
	return nil
}

// Delete implements [storage.Store.Delete]: the value, its index entry
// and, when the partition has no key left, its entry in the bucket's list
// of partitions, in one MULTI/EXEC (partitions.go).
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if err := s.check(ctx, "delete", "bucket", bucket); err != nil {
		return err
	}
	if key == "" {
		return errors.New("redis: delete: empty key")
	}
	tag := tagOf(key)
	hk := s.hashKey(bucket, tag)
	if err := s.bucketWrite(ctx, bucket, tag, false, func(p goredis.Pipeliner) {
		p.HDel(ctx, hk, key)
		p.ZRem(ctx, s.indexKey(bucket, tag), key)
	}); err != nil {
		return fmt.Errorf("redis: delete from bucket %q: %w", bucket, err)
	}
	return nil
}

// bucketWrite runs fn's commands, which touch partition tag of bucket
// (put: only put keys), and parts() after them in one MULTI/EXEC, then
// finishes what parts() asks.
func (s *Store) bucketWrite(ctx context.Context, bucket, tag string, put bool, fn func(goredis.Pipeliner)) error {
	st := s.partsStep(bucket, tag)
	var res func() (string, error)
	err := s.write(ctx, s.hashKey(bucket, tag), func(p goredis.Pipeliner) {
		fn(p)
		res = st.queue(ctx, p, put)
	})
	if err != nil {
		return err
	}
	r, err := res()
	if err != nil {
		return err
	}
	return s.finishParts(ctx, st, r)
}

// appendScript hands out the queue's next number and stores the item
// under it in one atomic step. KEYS[1] is the counter, KEYS[2] the items.
var appendScript = goredis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, string.format('%d:', seq) .. ARGV[1])
return seq
`)

// Append implements [storage.Store.Append] with a Lua script (see the
// package documentation for why).
func (s *Store) Append(ctx context.Context, queue string, value []byte) (uint64, error) {
	if err := s.check(ctx, "append", "queue", queue); err != nil {
		return 0, err
	}
	seqKey, itemsKey := s.seqKey(queue), s.queueKey(queue)
	var seq uint64
	err := s.onConn(ctx, itemsKey, func(c *goredis.Conn) error {
		// Eval, not EvalSha: a promoted replica may not have the script
		// cached, and it is short.
		n, err := appendScript.Eval(ctx, c, []string{seqKey, itemsKey}, value).Int64()
		if err != nil {
			return err
		}
		seq = uint64(n)
		return s.waitReplicas(ctx, c)
	})
	if err != nil {
		return 0, fmt.Errorf("redis: append to queue %q: %w", queue, err)
	}
	return seq, nil
}

// Range implements [storage.Store.Range].
func (s *Store) Range(ctx context.Context, queue string, after uint64, max int) ([]storage.Item, error) {
	if err := s.check(ctx, "range", "queue", queue); err != nil {
		return nil, err
	}
	if max <= 0 || after >= 1<<53 {
		// Scores are doubles: numbers past 2^53 are never handed out.
		return nil, nil
	}
	members, err := s.c.ZRangeByScore(ctx, s.queueKey(queue), &goredis.ZRangeBy{
		Min: "(" + strconv.FormatUint(after, 10), Max: "+inf", Count: int64(max),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: range queue %q: %w", queue, err)
	}
	items := make([]storage.Item, 0, len(members))
	for _, m := range members {
		num, val, ok := strings.Cut(m, ":")
		seq, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("redis: range queue %q: corrupt item %.20q", queue, m)
		}
		items = append(items, storage.Item{Seq: seq, Value: []byte(val)})
	}
	return items, nil
}

// Len implements [storage.Store.Len] with ZCARD.
func (s *Store) Len(ctx context.Context, queue string) (int, error) {
	if err := s.check(ctx, "len", "queue", queue); err != nil {
		return 0, err
	}
	n, err := s.c.ZCard(ctx, s.queueKey(queue)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: length of queue %q: %w", queue, err)
	}
	return int(n), nil
}

// Remove implements [storage.Store.Remove].
func (s *Store) Remove(ctx context.Context, queue string, seq uint64) error {
	if err := s.check(ctx, "remove", "queue", queue); err != nil {
		return err
	}
	if seq == 0 || seq >= 1<<53 {
		return nil
	}
	qk := s.queueKey(queue)
	n := strconv.FormatUint(seq, 10)
	err := s.write(ctx, qk, func(p goredis.Pipeliner) {
		p.ZRemRangeByScore(ctx, qk, n, n)
	})
	if err != nil {
		return fmt.Errorf("redis: remove from queue %q: %w", queue, err)
	}
	return nil
}

// Close implements [storage.Store.Close]: Redis has every acknowledged
// write already, so Close only closes the connections.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if cerr := s.c.Close(); cerr != nil {
			err = fmt.Errorf("redis: close: %w", cerr)
		}
	})
	return err
}

// check reports why an operation named op on the bucket or queue called
// name must not start: a closed store, a done context or an empty name.
func (s *Store) check(ctx context.Context, op, kind, name string) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: %s: store is closed", op)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if name == "" {
		return fmt.Errorf("redis: %s: empty %s name", op, kind)
	}
	return nil
}

// write runs fn's commands, which touch only keys in key's slot, in one
// MULTI/EXEC, then waits for replicas.
func (s *Store) write(ctx context.Context, key string, fn func(goredis.Pipeliner)) error {
	return s.onConn(ctx, key, func(c *goredis.Conn) error {
		if _, err := c.TxPipelined(ctx, func(p goredis.Pipeliner) error { fn(p); return nil }); err != nil {
			return err
		}
		return s.waitReplicas(ctx, c)
	})
}

// onConn runs fn on one connection to the master that holds key: WAIT
// counts the replicas of the writes made on its own connection. On a
// Cluster fn runs again while the slot is redirected (redirect.go).
func (s *Store) onConn(ctx context.Context, key string, fn func(*goredis.Conn) error) error {
	r := redirects{s: s}
	for {
		err := s.onConnOnce(ctx, key, fn)
		if !r.again(ctx, err) {
			return err
		}
	}
}

// onConnOnce is one attempt of onConn.
func (s *Store) onConnOnce(ctx context.Context, key string, fn func(*goredis.Conn) error) error {
	node, err := s.node(ctx, key)
	if err != nil {
		return err
	}
	c := node.Conn()
	defer c.Close()
	return fn(c)
}

// node returns the client of the master that holds key.
func (s *Store) node(ctx context.Context, key string) (*goredis.Client, error) {
	if s.cluster != nil {
		return s.cluster.MasterForKey(ctx, key)
	}
	c, ok := s.c.(*goredis.Client)
	if !ok {
		return nil, fmt.Errorf("unexpected client type %T", s.c)
	}
	return c, nil
}

// waitReplicas waits, when MinReplicas is set, until that many replicas
// have the writes made so far on c.
func (s *Store) waitReplicas(ctx context.Context, c waiter) error {
	if s.replica == 0 {
		return nil
	}
	n, err := c.Wait(ctx, s.replica, s.wait).Result()
	if err != nil {
		return fmt.Errorf("waiting for replicas: %w", err)
	}
	if n < int64(s.replica) {
		return fmt.Errorf("%d of %d replicas within %s: %w", n, s.replica, s.wait, ErrNotReplicated)
	}
	return nil
}

// waiter is a connection WAIT can be sent on (go-redis's Conn and Tx).
type waiter interface {
	Wait(ctx context.Context, numReplicas int, timeout time.Duration) *goredis.IntCmd
}

// addPartitions records that bucket has the given partitions, unless they
// are the shared one, which Scan always reads.
func (s *Store) addPartitions(ctx context.Context, bucket string, tags ...string) error {
	var zs []goredis.Z
	for _, t := range tags {
		if t != "" {
			zs = append(zs, goredis.Z{Member: t})
		}
	}
	if len(zs) == 0 {
		return nil
	}
	return s.c.ZAddNX(ctx, s.partsKey(bucket), zs...).Err()
}

// tagOf returns the partition of a bucket key: its first two NUL-separated
// parts (network and user in the keyspace layout), or "" (the shared
// partition) for a key without a NUL byte.
func tagOf(key string) string {
	i := strings.IndexByte(key, 0)
	if i < 0 {
		return ""
	}
	if j := strings.IndexByte(key[i+1:], 0); j >= 0 {
		return key[:i+1+j]
	}
	return key
}

// slotTag is the text between the braces of partition tag's Redis keys.
func slotTag(tag string) string {
	if tag == "" {
		return "_"
	}
	return fmt.Sprintf("%x", tag)
}

func (s *Store) hashKey(bucket, tag string) string {
	return s.ns + "{" + slotTag(tag) + "}b:" + bucket
}

func (s *Store) indexKey(bucket, tag string) string {
	return s.ns + "{" + slotTag(tag) + "}i:" + bucket
}

func (s *Store) partsKey(bucket string) string { return s.ns + "{_}p:" + bucket }

func (s *Store) queueKey(queue string) string {
	return s.ns + "{" + slotTag(tagOf(queue)) + "}q:" + queue
}

func (s *Store) seqKey(queue string) string {
	return s.ns + "{" + slotTag(tagOf(queue)) + "}s:" + queue
}
