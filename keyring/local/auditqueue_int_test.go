package local

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// TestRecordHasherCanonical checks that the flusher's reused encoder
// hashes the bytes canonicalRecord defines (json.Marshal of the record
// without its Hash), record after record, including characters Marshal
// escapes, so chains written before and after it verify alike.
func TestRecordHasherCanonical(t *testing.T) {
	key := bytes.Repeat([]byte{7}, auditKeySize)
	a := &auditLog{key: key, from: 3}
	h := a.newHasher()
	prev := make([]byte, auditHashSize)
	for i, r := range []keyring.AuditRecord{
		{Seq: 1, Time: time.Unix(1, 0).UTC(), Op: "CreateKey", KeyId: "k", Outcome: outcomeSuccess, Count: 1},
		{Seq: 2, Time: time.Unix(2, 5).UTC(), Op: "Decrypt", ContextKeys: []string{"<a&b>", "\u2028"}, Caller: "uid 0", Outcome: "InvalidCiphertextException", Count: 1},
		{Seq: 3, Time: time.Unix(3, 0).UTC(), Op: "Sign", KeyId: "mrk-00", KeyVersion: 1, Outcome: outcomeSuccess, Count: 1, Hash: []byte("ignored")},
		{Seq: 4, Time: time.Unix(4, 0).UTC(), Op: "UnwrapDEK", KeyId: "k", Alias: "alias/<x>", Outcome: outcomeSuccess, Count: 1000},
	} {
		want := legacyHash(prev, canonicalRecord(&r))
		if r.Seq >= a.from {
			m := hmac.New(sha256.New, key)
			m.Write(prev)
			m.Write(canonicalRecord(&r))
			want = m.Sum(nil)
		}
		if got := h.hash(prev, &r); !bytes.Equal(got, want) {
			t.Fatalf("record %d: hash %x, want %x", i, got, want)
		}
		prev = want
	}
}

// TestAuditQueueKeepsEveryCallInOrder signs from several goroutines while
// another disables and enables the key (state changes, written
// synchronously): after Close every Sign call has its record, the chain
// verifies, sequence numbers are contiguous and record times never go
// back along the chain.
func TestAuditQueueKeepsEveryCallInOrder(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{KeySpec: keyspec.ECCEd25519, KeyUsage: keyspec.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	const signers, calls, toggles = 4, 300, 20
	var wg sync.WaitGroup
	for range signers {
		wg.Go(func() {
			for range calls {
				k.Sign(ctx, &keyring.SignInput{KeyId: id, Message: []byte("m"), SigningAlgorithm: keyspec.Ed25519SHA512})
			}
		})
	}
	for range toggles {
		if err := k.DisableKey(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
			t.Fatal(err)
		}
		if err := k.EnableKey(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k = openInt(t, dir)
	defer k.Close()
	if err := k.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := k.Audit(ctx, keyring.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	signs := 0
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has Seq %d", i+1, r.Seq)
		}
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Fatalf("record %d (%s) is older than record %d (%s)", r.Seq, r.Time, recs[i-1].Seq, recs[i-1].Time)
		}
		if r.Op == keyspec.OpSign {
			signs++
		}
	}
	if signs != signers*calls {
		t.Fatalf("%d Sign records, want %d", signs, signers*calls)
	}
}
