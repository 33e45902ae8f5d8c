package local_test

import (
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

// TestInvalidMarkers pages every listing with markers no listing returns:
// each is InvalidMarkerException, as with AWS. A well-formed marker of an
// item that is gone (deleted between pages) still pages on.
func TestInvalidMarkers(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	must(t, env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/a", TargetKeyId: id}))
	lists := []struct {
		name  string
		list  func(marker string) error
		bad   []string
		valid string
	}{
		{"ListKeys", func(m string) error {
			_, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{Marker: m})
			return err
		}, []string{"x", "alias/a", "0000000002", id + " ", "ABCDEFAB-1234-1234-1234-123456789ABC"}, "00000000-0000-0000-0000-000000000000"},
		{"ListAliases", func(m string) error {
			_, err := env.kr.ListAliases(ctxb(), &keyring.ListAliasesInput{Marker: m})
			return err
		}, []string{"x", id, "alias/", "alias/a b"}, "alias/gone"},
		{"ListKeyRotations", func(m string) error {
			_, err := env.kr.ListKeyRotations(ctxb(), &keyring.ListKeyRotationsInput{KeyId: id, Marker: m})
			return err
		}, []string{"x", "2", "-000000002", "00000000002", id}, "0000000007"},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			for _, m := range l.bad {
				wantErr(t, "marker "+m, l.list(m), keyring.ErrInvalidMarker)
			}
			wantErr(t, "marker "+l.valid, l.list(l.valid), nil)
		})
	}
}
