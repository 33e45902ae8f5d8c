package kmsclient_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/keyring/kmsclient"
)

// FuzzRefOf: any key ID or ARN a server returns maps to a reference
// without a version, the same for an ARN and its bare key ID.
func FuzzRefOf(f *testing.F) {
	for _, s := range []string{"", "1234abcd-12ab-34cd-56ef-1234567890ab", "alias/x",
		"arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", "mrk-zz", "arn::key/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := kmsclient.RefOf(s)
		if r.Version != 0 {
			t.Fatalf("RefOf(%q) has version %d", s, r.Version)
		}
		if i := strings.LastIndex(s, ":key/"); strings.HasPrefix(s, "arn:") && i >= 0 {
			id := s[i+len(":key/"):]
			if bare := kmsclient.RefOf(id); len(id) == 36 && bare != r && !strings.HasPrefix(id, "arn:") {
				if _, err := uuid.Parse(id); err == nil {
					t.Fatalf("ARN %q and key ID %q map apart", s, id)
				}
			}
		}
	})
}
