package keyspec

import (
	"testing"

	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// TestKWPLimits: every length of symmetric and HMAC material AWS imports
// is one tink's KWP wraps, and no EncryptedKeyMaterial AWS accepts has a
// wrapped part longer than tink unwraps (RSA_2048, the smallest wrapping
// key, leaves the most room). PKCS#8 private keys (48 bytes for Ed25519,
// about 2.4 KB for RSA_4096) are checked end to end in
// TestImportKWPSizes.
func TestKWPLimits(t *testing.T) {
	for spec, si := range specs {
		if si.kind != kindSymmetric && si.kind != kindHMAC {
			continue
		}
		if si.minLen < kwp.MinWrapSize || si.maxLen > kwp.MaxWrapSize {
			t.Errorf("%s: %d to %d bytes of material, tink wraps %d to %d", spec, si.minLen, si.maxLen, kwp.MinWrapSize, kwp.MaxWrapSize)
		}
	}
	if longest, most := maxEncryptedKeyMaterial-2048/8, kwp.MaxWrapSize+8; longest > most {
		t.Errorf("a %d-byte wrapped part is allowed; tink unwraps at most %d", longest, most)
	}
}
