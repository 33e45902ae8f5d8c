package kmsclient

import (
	"testing"
	"time"
)

// TestCacheEvictsTheOldestLiveEntry: an entry put again (after it was
// dropped or replaced) is as new as its last put, so a full cache evicts
// the entry put longest ago, not the one just refreshed.
func TestCacheEvictsTheOldestLiveEntry(t *testing.T) {
	c := newCache(CacheConfig{MaxEntries: 2}, time.Now)
	dek := make([]byte, 32)
	put := func(name string) { c.put([]byte("blob-"+name), []byte("aad-"+name), dek, [16]byte{}) }
	cached := func(name string) bool { return c.get([]byte("blob-"+name), []byte("aad-"+name)) != nil }
	put("a")
	put("b")
	put("a") // refreshed: now newer than b
	put("c") // full: b goes
	if !cached("a") || cached("b") || !cached("c") {
		t.Errorf("cached a=%v b=%v c=%v; want a and c", cached("a"), cached("b"), cached("c"))
	}
}
