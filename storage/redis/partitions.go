package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	goredis "github.com/redis/go-redis/v9"
)

// A bucket's list of partitions (P{_}p:bucket, see the package
// documentation) says which users' partitions Scan reads: one round trip
// each, so it lists a partition while it has keys, not forever. Every
// write to a user's partition of a bucket ends with parts() (partsLua),
// in the same script or MULTI/EXEC as the write, and on the same node.
//
// On a single server (or Sentinel) one script or transaction may touch
// any key: parts() adds the partition to the list when its index has
// keys and removes it when it has none, in the write's atomic step. A
// concurrent write to the partition is ordered before or after that
// step, and the list agrees with the partition after each.
//
// A Cluster keeps the list in the shared slot and the partition in the
// user's: no one step can touch both. There a write adds the partition to
// the list before it writes a key (a stale entry costs Scan only an empty
// read), and parts() works with a mark in the partition's slot:
//
//	P{T}x:bucket   string  set when a write emptied the partition
//
// A write that empties the partition sets the mark (parts() returns
// "!"), then removes the list's entry and reads the partition again: if
// keys were written in between, it adds the entry back. A write that
// finds a mark (parts() returns it) adds the entry after its write, then
// clears the mark if it is still the one it read: the entry it added
// before the write may have been removed by a writer that emptied the
// partition and then found it still empty. So after every write the
// list has the partition if the partition has keys (the conformance
// suite's PutDeleteRace fails without either step). A process killed
// between those steps can leave the entry out until the partition's next
// Put; a mark stays, one small key, until a write clears it.

// partsLua defines parts(index, aux, mode, arg): with mode "s" (single
// server) aux is the list of partitions and arg the partition, listed
// while index has keys; with "m" (Cluster) aux is the partition's mark,
// set to arg when index is empty ("!" is returned), else returned ("" when
// unset); with "n" nothing (the shared partition, which is not listed).
const partsLua = `
local function parts(index, aux, mode, arg)
  if mode == 'n' then return '' end
  local n = redis.call('ZCARD', index)
  if mode == 's' then
    if n > 0 then
      redis.call('ZADD', aux, 'NX', 0, arg)
    else
      redis.call('ZREM', aux, arg)
    end
    return ''
  end
  if n == 0 then
    redis.call('SET', aux, arg)
    return '!'
  end
  return redis.call('GET', aux) or ''
end
`

// partsScript is parts() alone, the end of a MULTI/EXEC: KEYS[1] index,
// KEYS[2] aux, ARGV[1] mode, ARGV[2] arg.
var partsScript = goredis.NewScript(partsLua + `
return parts(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
`)

// clearMarkScript deletes the mark KEYS[1] if it still holds ARGV[1].
var clearMarkScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// partsStep is what a write to partition tag of bucket passes to parts().
type partsStep struct {
	bucket, tag           string
	index, aux, mode, arg string
}

// partsStep returns the arguments of parts() for a write to partition tag
// of bucket.
func (s *Store) partsStep(bucket, tag string) partsStep {
	st := partsStep{bucket: bucket, tag: tag, index: s.indexKey(bucket, tag)}
	switch {
	case tag == "":
		st.aux, st.mode = st.index, "n"
	case s.cluster == nil:
		st.aux, st.mode, st.arg = s.partsKey(bucket), "s", tag
	default:
		st.aux, st.mode, st.arg = s.markKey(bucket, tag), "m", newMark()
	}
	return st
}

// queue adds parts() to a MULTI/EXEC being built, and returns how to
// read its result once the MULTI/EXEC ran. After writes that only put
// keys (putOnly) the partition has keys, and parts() is one plain
// command: the list's ZADD on a single server, a read of the mark on a
// Cluster.
func (st partsStep) queue(ctx context.Context, p goredis.Pipeliner, putOnly bool) func() (string, error) {
	switch {
	case putOnly && st.mode == "s":
		cmd := p.ZAddNX(ctx, st.aux, goredis.Z{Member: st.arg})
		return func() (string, error) { return "", cmd.Err() }
	case putOnly && st.mode == "m":
		// MGET, not GET: a pipeline fails on GET's nil reply.
		cmd := p.MGet(ctx, st.aux)
		return func() (string, error) {
			vs, err := cmd.Result()
			if err != nil || len(vs) != 1 {
				return "", err
			}
			v, _ := vs[0].(string)
			return v, nil
		}
	}
	cmd := partsScript.Eval(ctx, p, []string{st.index, st.aux}, st.mode, st.arg)
	return cmd.Text
}

// finish does, on a Cluster, what parts() returned (res) asks for after
// the write (see the top of the file); elsewhere res is "" and it does
// nothing.
func (s *Store) finishParts(ctx context.Context, st partsStep, res string) error {
	switch {
	case res == "" || st.mode != "m":
		return nil
	case res == "!":
		pk := s.partsKey(st.bucket)
		if err := s.c.ZRem(ctx, pk, st.tag).Err(); err != nil {
			return err
		}
		n, err := s.c.ZCard(ctx, st.index).Result()
		if err != nil || n == 0 {
			return err
		}
		return s.c.ZAddNX(ctx, pk, goredis.Z{Member: st.tag}).Err()
	default:
		if err := s.c.ZAddNX(ctx, s.partsKey(st.bucket), goredis.Z{Member: st.tag}).Err(); err != nil {
			return err
		}
		return clearMarkScript.Run(ctx, s.c, []string{st.aux}, res).Err()
	}
}

// newMark returns a mark value: random, never "" or "!".
func newMark() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Store) markKey(bucket, tag string) string {
	return s.ns + "{" + slotTag(tag) + "}x:" + bucket
}
