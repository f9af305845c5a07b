package redis

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Scan implements [storage.Store.Scan]. It reads scanPage keys (and their
// values) per round trip and holds nothing open while fn runs. A key
// written or deleted while Scan runs may or may not be visited; every key
// present for the whole scan is visited once, in byte order.
//
// The keys come from two ordered streams merged: the shared partition
// (keys without a NUL byte) and the users' partitions one after the other,
// in tag order (see the package documentation).
func (s *Store) Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) error) error {
	if err := s.check(ctx, "scan", "bucket", bucket); err != nil {
		return err
	}
	var shared stream = emptyStream{}
	if !strings.Contains(prefix, "\x00") {
		shared = &partition{s: s, bucket: bucket, tag: "", prefix: prefix}
	}
	users := &partitions{s: s, bucket: bucket, prefix: prefix}
	if strings.Count(prefix, "\x00") >= 2 {
		// The prefix names one user: only that partition can match.
		users.tags, users.done = []string{tagOf(prefix)}, true
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redis: scan bucket %q: %w", bucket, err)
		}
		a, aok, err := shared.peek(ctx)
		if err != nil {
			return fmt.Errorf("redis: scan bucket %q: %w", bucket, err)
		}
		b, bok, err := users.peek(ctx)
		if err != nil {
			return fmt.Errorf("redis: scan bucket %q: %w", bucket, err)
		}
		var next entry
		switch {
		case !aok && !bok:
			return nil
		case aok && (!bok || a.key < b.key):
			next = a
			shared.pop()
		default:
			next = b
			users.pop()
		}
		if err := fn(next.key, next.value); err != nil {
			return fmt.Errorf("redis: scan bucket %q: %w", bucket, err)
		}
	}
}

// entry is one key and value met by a scan.
type entry struct {
	key   string
	value []byte
}

// stream is an ordered sequence of entries read a page at a time.
type stream interface {
	// peek returns the next entry, reading a page if needed; ok is false
	// at the end.
	peek(ctx context.Context) (e entry, ok bool, err error)
	// pop drops the entry peek returned.
	pop()
}

type emptyStream struct{}

func (emptyStream) peek(context.Context) (entry, bool, error) { return entry{}, false, nil }
func (emptyStream) pop()                                      {}

// partition streams the keys of one partition of a bucket that start
// with prefix.
type partition struct {
	s      *Store
	bucket string
	tag    string
	prefix string

	page []entry
	last string // the last key read; the next page starts after it
	read bool   // a page was read, so last is set
	done bool   // Redis has no more keys
}

func (p *partition) peek(ctx context.Context) (entry, bool, error) {
	for len(p.page) == 0 {
		if p.done {
			return entry{}, false, nil
		}
		if err := p.fill(ctx); err != nil {
			return entry{}, false, err
		}
	}
	return p.page[0], true, nil
}

func (p *partition) pop() { p.page = p.page[1:] }

// fill reads the next page of keys from the partition's index and their
// values; keys deleted in between are left out.
func (p *partition) fill(ctx context.Context) error {
	lo := p.s.lexMin(p.prefix)
	if p.read {
		lo = "(" + p.last
	}
	keys, err := p.s.c.ZRangeByLex(ctx, p.s.indexKey(p.bucket, p.tag), &goredis.ZRangeBy{
		Min: lo, Max: lexMax(p.prefix), Count: scanPage,
	}).Result()
	if err != nil {
		return err
	}
	if len(keys) < scanPage {
		p.done = true
	}
	if len(keys) == 0 {
		return nil
	}
	p.read, p.last = true, keys[len(keys)-1]
	vals, err := p.s.c.HMGet(ctx, p.s.hashKey(p.bucket, p.tag), keys...).Result()
	if err != nil {
		return err
	}
	for i, k := range keys {
		v, ok := vals[i].(string)
		if !ok {
			continue // deleted since the index was read
		}
		p.page = append(p.page, entry{key: k, value: []byte(v)})
	}
	return nil
}

// partitions streams the user partitions of a bucket whose tags start
// with prefix, one after the other in tag order, which is key order.
type partitions struct {
	s      *Store
	bucket string
	prefix string

	tags    []string // tags read but not streamed yet
	lastTag string
	read    bool
	done    bool // every tag has been read into tags
	cur     *partition
}

func (u *partitions) peek(ctx context.Context) (entry, bool, error) {
	for {
		if u.cur != nil {
			e, ok, err := u.cur.peek(ctx)
			if err != nil || ok {
				return e, ok, err
			}
			u.cur = nil
		}
		if len(u.tags) == 0 {
			if u.done {
				return entry{}, false, nil
			}
			if err := u.fill(ctx); err != nil {
				return entry{}, false, err
			}
			continue
		}
		u.cur = &partition{s: u.s, bucket: u.bucket, tag: u.tags[0], prefix: u.prefix}
		u.tags = u.tags[1:]
	}
}

func (u *partitions) pop() { u.cur.pop() }

// fill reads the next page of partition tags.
func (u *partitions) fill(ctx context.Context) error {
	lo := u.s.lexMin(u.prefix)
	if u.read {
		lo = "(" + u.lastTag
	}
	tags, err := u.s.c.ZRangeByLex(ctx, u.s.partsKey(u.bucket), &goredis.ZRangeBy{
		Min: lo, Max: lexMax(u.prefix), Count: scanPage,
	}).Result()
	if err != nil {
		return err
	}
	if len(tags) < scanPage {
		u.done = true
	}
	if len(tags) > 0 {
		u.read, u.lastTag = true, tags[len(tags)-1]
		u.tags = append(u.tags, tags...)
	}
	return nil
}

// lexMin is the ZRANGEBYLEX lower bound of the members starting with
// prefix.
func (s *Store) lexMin(prefix string) string {
	if prefix == "" {
		return "-"
	}
	return "[" + prefix
}

// lexMax is the ZRANGEBYLEX upper bound of the members starting with
// prefix: below the next string after every such member, or "+" when no
// such string exists (an empty prefix, or one of 0xff bytes only).
func lexMax(prefix string) string {
	b := []byte(prefix)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "+"
	}
	b[len(b)-1]++
	return "(" + string(b)
}
