package keyring

// EncodeContext returns the canonical, unambiguous encoding of an
// encryption context that every operation of this package authenticates
// (see canonicalContext). Callers outside the keyring use it to bind a
// context into other AAD, e.g. `kmsfs encrypt --context`.
func EncodeContext(ec map[string]string) ([]byte, error) {
	return canonicalContext(ec)
}
