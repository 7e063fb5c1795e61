package middleware

import (
	"container/list"
	"sync"
	"time"
)

// lru is a bounded map with a time to live per entry: when full, adding
// evicts the least recently used entry; an entry older than ttl (since it
// was last written) is gone. It is safe for concurrent use.
type lru[V any] struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration // 0: no expiry
	now   func() time.Time
	items map[string]*list.Element
	order *list.List // front: most recently used
}

type lruEntry[V any] struct {
	key     string
	val     V
	expires time.Time
}

func newLRU[V any](size int, ttl time.Duration, now func() time.Time) *lru[V] {
	if now == nil {
		now = time.Now
	}
	return &lru[V]{size: size, ttl: ttl, now: now, items: map[string]*list.Element{}, order: list.New()}
}

// get returns the live value for key.
func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[V])
	if c.ttl > 0 && !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// put stores val for key, renewing its time to live.
func (c *lru[V]) put(key string, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var exp time.Time
	if c.ttl > 0 {
		exp = c.now().Add(c.ttl)
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry[V])
		e.val, e.expires = val, exp
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, val: val, expires: exp})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry[V]).key)
	}
}

// remove deletes key.
func (c *lru[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
}

// len returns the number of entries, expired ones included.
func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
