package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/storage"
)

// Fencing of bucket writes (Put, Delete, Update) by a fenced view.
//
// The check must be in the same atomic step as the write, else a holder
// paused between its check and its write (GC, SIGSTOP, a slow network)
// writes after a standby took over. Where the write's keys may sit with
// the lease key (a single server or Sentinel, where a script or a
// transaction may touch any key, and the shared partition of a Cluster,
// whose tag the lease carries) the step compares the lease key itself,
// as the queue writes do: Put and Delete in a Lua script, Update by
// WATCHing the lease key and reading it in its WATCH/MULTI/EXEC (a new
// holding changes the key, so EXEC fails and the function runs again, and
// is then fenced off).
//
// A Cluster cannot check a key of another slot in a script or a
// transaction, and a user's keys are in the user's slot. There each
// partition T the holder writes has a fence, the classic fencing-token
// check done by the storage itself:
//
//	P{T}f:name   string the largest fencing token of name that wrote in T
//
// A write carrying a token below it fails; one carrying a larger token
// raises it, in the same script or MULTI/EXEC as the write. Before that
// step the lease key is compared too, one round trip earlier. So a
// former holder's write to a user's partition fails once the lease has
// moved on (the comparison), and can land only if it was paused between
// that comparison and its write and the new holder has not written to
// that user's partition since: it then lands before anything the new
// holder writes there, which overrides it.

// fencedBucketScript is a bucket write behind a fence. KEYS[1] is the
// fence: the lease key (ARGV[1] "v": it must hold ARGV[2]) or a
// partition's fence (ARGV[1] "t": its token must not exceed ARGV[2],
// which it becomes); KEYS[2] and KEYS[3] the partition's hash and index;
// ARGV[3] "put" or "del", ARGV[4] the key, ARGV[5] the value; KEYS[4],
// ARGV[6] and ARGV[7] the aux, mode and arg of parts() (partitions.go).
// It returns -1 when fenced off, else what parts() returned.
var fencedBucketScript = goredis.NewScript(fenceLua + partsLua + `
if ARGV[3] == 'put' then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[3], 0, ARGV[4])
else
  redis.call('HDEL', KEYS[2], ARGV[4])
  redis.call('ZREM', KEYS[3], ARGV[4])
end
return parts(KEYS[3], KEYS[4], ARGV[6], ARGV[7])
`)

// fencedPartsScript records partition ARGV[2] in a bucket's list of
// partitions KEYS[2] only while the lease key KEYS[1] holds ARGV[1]: the
// list is in the lease's slot, so the check and the write are one step
// even on a Cluster. It returns -1 when fenced off, 1 otherwise.
var fencedPartsScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('ZADD', KEYS[2], 'NX', 0, ARGV[2])
return 1
`)

// addPartition is addPartitions of one partition behind the lease check,
// so that a former holder's Put leaves no trace in the shared slot
// either.
func (f *fenced) addPartition(ctx context.Context, bucket, tag string) error {
	if tag == "" {
		return nil
	}
	pk := f.partsKey(bucket)
	var n int64
	err := f.onConn(ctx, pk, func(c *goredis.Conn) error {
		var err error
		n, err = fencedPartsScript.Run(ctx, c, []string{f.leaseKey(f.lease.Name), pk}, f.value, tag).Int64()
		return err
	})
	if err != nil {
		return err
	}
	if n < 0 {
		return f.fencedOff()
	}
	return nil
}

// fence says which key guards writes to partition tag and how: the lease
// key compared with the holding's value (byValue), or the partition's
// token fence on a Cluster.
func (f *fenced) fence(tag string) (key string, byValue bool) {
	if f.cluster == nil || tag == "" {
		return f.leaseKey(f.lease.Name), true
	}
	return f.ns + "{" + slotTag(tag) + "}f:" + f.lease.Name, false
}

// precheck compares the lease key when the fence of partition tag is a
// token fence (see the comment at the top of the file); with a lease-key
// fence the write's own step compares it.
func (f *fenced) precheck(ctx context.Context, tag string) error {
	if _, byValue := f.fence(tag); byValue {
		return nil
	}
	v, err := f.c.Get(ctx, f.leaseKey(f.lease.Name)).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return err
	}
	if v != f.value {
		return f.fencedOff()
	}
	return nil
}

// Put implements [storage.Store.Put] behind the fence.
func (f *fenced) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := f.bucketWrite(ctx, "put", bucket, key, value); err != nil {
		return fmt.Errorf("redis: put in bucket %q: %w", bucket, err)
	}
	return nil
}

// Delete implements [storage.Store.Delete] behind the fence.
func (f *fenced) Delete(ctx context.Context, bucket, key string) error {
	if err := f.bucketWrite(ctx, "del", bucket, key, nil); err != nil {
		return fmt.Errorf("redis: delete from bucket %q: %w", bucket, err)
	}
	return nil
}

// queueFence returns the fence of queue's partition and the script
// arguments that check it (see fencedAppendScript), after the lease
// comparison a token fence needs first.
func (f *fenced) queueFence(ctx context.Context, queue string) (key, mode, want string, err error) {
	tag := tagOf(queue)
	if err := f.precheck(ctx, tag); err != nil {
		return "", "", "", err
	}
	fk, byValue := f.fence(tag)
	if byValue {
		return fk, "v", f.value, nil
	}
	return fk, "t", strconv.FormatUint(f.lease.Token, 10), nil
}

// bucketWrite runs fencedBucketScript for op ("put" or "del").
func (f *fenced) bucketWrite(ctx context.Context, op, bucket, key string, value []byte) error {
	if err := f.check(ctx, op, "bucket", bucket); err != nil {
		return err
	}
	if key == "" {
		return errors.New("empty key")
	}
	tag := tagOf(key)
	if err := f.precheck(ctx, tag); err != nil {
		return err
	}
	if op == "put" && f.cluster != nil {
		// As Store.Put on a Cluster, the list of partitions first; but
		// a holding already lost adds nothing (fencedPartsScript).
		if err := f.addPartition(ctx, bucket, tag); err != nil {
			return err
		}
	}
	fk, byValue := f.fence(tag)
	mode, want := "v", f.value
	if !byValue {
		mode, want = "t", strconv.FormatUint(f.lease.Token, 10)
	}
	hk := f.hashKey(bucket, tag)
	st := f.partsStep(bucket, tag)
	var res any
	err := f.onConn(ctx, hk, func(c *goredis.Conn) error {
		var err error
		res, err = fencedBucketScript.Eval(ctx, c, []string{fk, hk, st.index, st.aux},
			mode, want, op, key, value, st.mode, st.arg).Result()
		if err != nil {
			return err
		}
		if n, ok := res.(int64); ok && n < 0 {
			return nil
		}
		return f.waitReplicas(ctx, c)
	})
	if err != nil {
		return err
	}
	switch r := res.(type) {
	case int64:
		return f.fencedOff()
	case string:
		return f.finishParts(ctx, st, r)
	default:
		return fmt.Errorf("fenced write script returned %T", res)
	}
}

// Update implements [storage.Store.Update] behind the fence: the fence
// is WATCHed and read in the transaction (see the comment at the top of
// the file), and a fenced-off run ends Update with an error wrapping
// [storage.ErrFenced], writing nothing.
func (f *fenced) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	return f.update(ctx, f, fn)
}

// guard checks the fence of t's partition inside t's WATCH, and on a
// token fence makes the commit raise the fence with the writes.
func (f *fenced) guard(t *redisTx) error {
	fk, byValue := f.fence(t.tag)
	if err := t.watch(fk); err != nil {
		return err
	}
	cur, err := t.rtx.Get(t.ctx, fk).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return err
	}
	if byValue {
		if cur != f.value {
			return f.fencedOff()
		}
		return nil
	}
	if cur != "" {
		n, err := strconv.ParseUint(cur, 10, 64)
		if err != nil {
			return fmt.Errorf("corrupt fence %s: %w", fk, err)
		}
		if n > f.lease.Token {
			return f.fencedOff()
		}
	}
	tok := f.lease.Token
	t.fenceOp = func(p goredis.Pipeliner) { p.Set(t.ctx, fk, tok, 0) }
	return nil
}
