package local_test

import (
	"sync"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// TestDestroyRacingPasswd destroys version 1 of many keys while Passwd
// reseals the keyring in a loop. A destroyed version must stay destroyed:
// if Passwd resealed material that DestroyVersionsBelow had already taken
// off disk, SetMinDecryptionVersion could re-enable version 1 afterwards.
// Run with -race.
func TestDestroyRacingPasswd(t *testing.T) {
	env := newEnv(t)
	const keys = 150
	ids := make([]string, keys)
	for i := range ids {
		ids[i] = env.createKey()
		if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: ids[i]}); err != nil {
			t.Fatal(err)
		}
		if err := env.kr.SetMinDecryptionVersion(ctxb(), ids[i], 2); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := env.kr.Passwd(testPass, testkeys.KDF); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for _, id := range ids {
		if err := env.kr.DestroyVersionsBelow(ctxb(), id, 2); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	checkDestroyed(t, env.kr, ids, "in memory")
	env.reopen()
	checkDestroyed(t, env.kr, ids, "after reopen")
}

// checkDestroyed fails for every key whose version 1 can be re-enabled.
func checkDestroyed(t *testing.T, kr *local.Keyring, ids []string, when string) {
	t.Helper()
	back := 0
	for _, id := range ids {
		if err := kr.SetMinDecryptionVersion(ctxb(), id, 1); err == nil {
			back++
		}
	}
	if back > 0 {
		t.Errorf("%s: destroyed version 1 came back for %d of %d keys", when, back, len(ids))
	}
	out, err := kr.ExportKeyring(ctxb(), &keyring.ExportKeyringInput{KeyringPassphrase: testPass, Passphrase: []byte("b"), KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	if out.Versions != len(ids) {
		t.Errorf("%s: export holds %d versions with material, want %d", when, out.Versions, len(ids))
	}
}
