package policy

// CachedPolicies returns the number of parsed policies a holds, for tests
// of the cache bound.
func (a *Authorizer) CachedPolicies() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.cache)
}
