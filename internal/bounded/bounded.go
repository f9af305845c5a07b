// Package bounded has the map that forgets its oldest keys: what the
// gateway remembers for a while about messages (pending receipts,
// reactions, authors) must stay bounded whatever a peer sends, and the
// newest are the ones worth keeping. It is stdlib-only so that network
// packages and the XMPP side may both use it.
package bounded

// Map is a map of at most a fixed number of keys: a key new to it goes
// last and, beyond the bound, the oldest keys are forgotten; a key it has
// keeps its place when set again. It is not safe for concurrent use: its
// owner guards it. The zero Map is not usable; make one with New.
type Map[K comparable, V any] struct {
	max  int
	m    map[K]slot[V]
	ring []entry[K] // keys by age, oldest first from head; deleted ones stay until passed
	head int
	seq  uint64
}

type slot[V any] struct {
	v   V
	seq uint64
}

type entry[K comparable] struct {
	k   K
	seq uint64
}

// New returns an empty Map of at most max keys; max must be positive.
// Nothing is allocated until the first Put.
func New[K comparable, V any](max int) *Map[K, V] {
	if max <= 0 {
		panic("bounded: New with a bound below 1")
	}
	return &Map[K, V]{max: max}
}

// Get returns the value of k and whether the map has it.
func (b *Map[K, V]) Get(k K) (V, bool) {
	s, ok := b.m[k]
	return s.v, ok
}

// Put sets k to v. A new key is the newest; if the map then holds more
// than its bound, the oldest keys are forgotten. A key the map has keeps
// its age.
func (b *Map[K, V]) Put(k K, v V) {
	if s, ok := b.m[k]; ok {
		b.m[k] = slot[V]{v, s.seq}
		return
	}
	if b.m == nil {
		b.m = make(map[K]slot[V])
	}
	b.seq++
	b.m[k] = slot[V]{v, b.seq}
	b.ring = append(b.ring, entry[K]{k, b.seq})
	for len(b.m) > b.max {
		b.pop()
	}
	b.compact()
}

// Delete forgets k.
func (b *Map[K, V]) Delete(k K) {
	delete(b.m, k)
	b.compact()
}

// Len is how many keys the map holds.
func (b *Map[K, V]) Len() int { return len(b.m) }

// pop forgets the oldest entry of the ring, and its key if the key was
// not deleted (and perhaps put again, with a newer seq) since.
func (b *Map[K, V]) pop() {
	e := b.ring[b.head]
	b.ring[b.head] = entry[K]{}
	b.head++
	if s, ok := b.m[e.k]; ok && s.seq == e.seq {
		delete(b.m, e.k)
	}
}

// compact keeps the ring within twice the live keys (plus a little):
// passed entries and those of deleted keys are dropped.
func (b *Map[K, V]) compact() {
	if len(b.ring)-b.head <= 2*len(b.m)+16 && b.head <= len(b.ring)/2 {
		return
	}
	live := b.ring[:0]
	for _, e := range b.ring[b.head:] {
		if s, ok := b.m[e.k]; ok && s.seq == e.seq {
			live = append(live, e)
		}
	}
	clear(b.ring[len(live):])
	b.ring, b.head = live, 0
}
