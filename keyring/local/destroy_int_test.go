package local

import (
	"context"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

// TestDestroyedNeverLeaves puts a key in the state that DestroyVersionsBelow
// used to leave for a moment (version 1 destroyed on disk, its material
// still cached) and checks that neither a Passwd reseal nor an export
// brings that material back.
func TestDestroyedNeverLeaves(t *testing.T) {
	k := openInt(t, t.TempDir())
	defer k.Close()
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	if _, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e, err := k.lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rec := e.rec.clone()
	rec.Versions[0].Sealed = nil
	e.rec = rec
	if e.material[1] == nil {
		t.Fatal("fixture: version 1 material not cached")
	}
	recs, err := k.resealAll(k.kek)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Versions[0].Sealed != nil || recs[0].Versions[1].Sealed == nil {
		t.Errorf("resealAll: version 1 sealed %v, version 2 sealed %v; want only version 2",
			recs[0].Versions[0].Sealed != nil, recs[0].Versions[1].Sealed != nil)
	}
	bk := bundleKeyOf(e)
	if bk.Versions[0].Material != nil || bk.Versions[1].Material == nil {
		t.Errorf("bundle: version 1 material %v, version 2 material %v; want only version 2",
			bk.Versions[0].Material != nil, bk.Versions[1].Material != nil)
	}
}
