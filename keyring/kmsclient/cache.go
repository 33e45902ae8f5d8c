package kmsclient

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"sync"
	"time"
)

// Cache defaults, in the spirit of the AWS Encryption SDK's caching
// materials manager: entries are few, short-lived and used a bounded
// number of times, so that a revoked key stops working soon everywhere.
const (
	DefaultCacheMaxAge     = 5 * time.Minute
	DefaultCacheMaxUses    = 1000
	DefaultCacheMaxEntries = 1024
)

// CacheConfig bounds the cache of unwrapped data keys. A hit returns a
// data key without a KMS call; an entry is dropped when it is older than
// MaxAge, after MaxUses hits, or as the oldest when MaxEntries are held.
// Zero fields take the defaults; Disabled turns the cache off (every
// unwrap is a Decrypt).
type CacheConfig struct {
	MaxAge     time.Duration
	MaxUses    int
	MaxEntries int
	Disabled   bool
}

func (c CacheConfig) withDefaults() CacheConfig {
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultCacheMaxAge
	}
	if c.MaxUses <= 0 {
		c.MaxUses = DefaultCacheMaxUses
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultCacheMaxEntries
	}
	return c
}

// CacheStats counts cache outcomes since the service was made.
type CacheStats struct {
	Hits, Misses, Expired, UsedUp, Evicted uint64
}

// cacheKey identifies one wrap: the blob and its encryption context
// (the AAD), so that a blob presented with another context never hits.
type cacheKey [sha256.Size]byte

func keyOf(blob, aad []byte) cacheKey {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(blob)))
	h.Write(n[:])
	h.Write(blob)
	h.Write(aad)
	return cacheKey(h.Sum(nil))
}

type entry struct {
	dek     []byte
	blob    []byte // kept for ReEncrypt on rewrap
	keyID   [16]byte
	created time.Time
	uses    int
	aad     cacheKey // index in byAAD
	seq     uint64   // its put, to tell it from an older entry of the same key in order
}

// orderItem is one put in insertion order.
type orderItem struct {
	key cacheKey
	seq uint64
}

// dekCache is a bounded map of unwrapped data keys, safe for concurrent
// use. It hands out copies and wipes what it drops.
type dekCache struct {
	cfg   CacheConfig
	now   func() time.Time
	mu    sync.Mutex
	m     map[cacheKey]*entry
	byAAD map[cacheKey]cacheKey // hash of the AAD alone -> newest entry for it
	order []orderItem           // insertion order, oldest first (may hold dropped or replaced entries)
	seq   uint64                // of the last put
	stats CacheStats
}

func newCache(cfg CacheConfig, now func() time.Time) *dekCache {
	return &dekCache{cfg: cfg.withDefaults(), now: now, m: map[cacheKey]*entry{}, byAAD: map[cacheKey]cacheKey{}}
}

func aadKey(aad []byte) cacheKey { return keyOf(nil, aad) }

// get returns a copy of the data key of (blob, aad), counting one use.
func (c *dekCache) get(blob, aad []byte) []byte {
	if c.cfg.Disabled {
		return nil
	}
	k := keyOf(blob, aad)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	switch {
	case e == nil:
		c.stats.Misses++
		return nil
	case c.now().Sub(e.created) > c.cfg.MaxAge:
		c.stats.Expired++
		c.stats.Misses++
		c.drop(k)
		return nil
	}
	c.stats.Hits++
	e.uses++
	out := append([]byte(nil), e.dek...)
	if e.uses >= c.cfg.MaxUses {
		c.stats.UsedUp++
		c.drop(k)
	}
	return out
}

// put stores a copy of dek for (blob, aad).
func (c *dekCache) put(blob, aad, dek []byte, keyID [16]byte) {
	if c.cfg.Disabled {
		return
	}
	k, ak := keyOf(blob, aad), aadKey(aad)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		c.drop(k)
	}
	for len(c.m) >= c.cfg.MaxEntries && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		if c.current(old) {
			c.stats.Evicted++
			c.drop(old.key)
		}
	}
	c.seq++
	c.m[k] = &entry{dek: append([]byte(nil), dek...), blob: append([]byte(nil), blob...), keyID: keyID, created: c.now(), aad: ak, seq: c.seq}
	c.byAAD[ak] = k
	c.order = append(c.order, orderItem{k, c.seq})
	if len(c.order) > 2*c.cfg.MaxEntries { // compact dropped and replaced entries
		live := c.order[:0]
		for _, o := range c.order {
			if c.current(o) {
				live = append(live, o)
			}
		}
		c.order = live
	}
}

// current reports whether o is the put of the entry now cached under its
// key: a key dropped and put again has an older item in order too.
func (c *dekCache) current(o orderItem) bool {
	e, ok := c.m[o.key]
	return ok && e.seq == o.seq
}

// blobFor returns the blob and key of the live entry for aad whose data
// key is dek, or nil: what a rewrap can ReEncrypt instead of encrypting
// the data key again.
func (c *dekCache) blobFor(aad, dek []byte) ([]byte, [16]byte) {
	if c.cfg.Disabled {
		return nil, [16]byte{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[c.byAAD[aadKey(aad)]]
	if e == nil || c.now().Sub(e.created) > c.cfg.MaxAge || subtle.ConstantTimeCompare(e.dek, dek) != 1 {
		return nil, [16]byte{}
	}
	return append([]byte(nil), e.blob...), e.keyID
}

// drop removes k and wipes its key; c.mu is held.
func (c *dekCache) drop(k cacheKey) {
	e := c.m[k]
	if e == nil {
		return
	}
	clear(e.dek)
	delete(c.m, k)
	if c.byAAD[e.aad] == k {
		delete(c.byAAD, e.aad)
	}
}

// wipe drops every entry.
func (c *dekCache) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		c.drop(k)
	}
	c.order = nil
}

func (c *dekCache) snapshot() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
