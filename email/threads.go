package email

import "container/list"

// maxThreads bounds the threads an adapter remembers; the least recently
// used is forgotten first (a reply to it is then a new mail with the
// thread's ID as In-Reply-To).
const maxThreads = 1000

// threadKey names a conversation: a thread ID as one peer used it. Keying
// by the peer too means another sender's References cannot take over a
// thread.
type threadKey struct {
	peer   string // lower-case address
	thread string
}

// threadCache is a bounded LRU map of threads. It is not safe for
// concurrent use; the adapter's mutex guards it.
type threadCache struct {
	max   int
	order *list.List // of threadKey, most recent first
	m     map[threadKey]*threadEntry
}

type threadEntry struct {
	info threadInfo
	elem *list.Element
}

func newThreadCache(max int) *threadCache {
	return &threadCache{max: max, order: list.New(), m: make(map[threadKey]*threadEntry)}
}

// get returns the thread under k, marking it recently used.
func (c *threadCache) get(k threadKey) (threadInfo, bool) {
	e, ok := c.m[k]
	if !ok {
		return threadInfo{}, false
	}
	c.order.MoveToFront(e.elem)
	return e.info, true
}

// put stores the thread under k, forgetting the least recently used one
// when the cache is full.
func (c *threadCache) put(k threadKey, info threadInfo) {
	if e, ok := c.m[k]; ok {
		e.info = info
		c.order.MoveToFront(e.elem)
		return
	}
	c.m[k] = &threadEntry{info: info, elem: c.order.PushFront(k)}
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(threadKey))
	}
}

// len reports how many threads are remembered.
func (c *threadCache) len() int { return len(c.m) }
