package local_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// fakeClock is a settable clock for rotation and deletion dates.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testPass = []byte("correct horse battery staple")

// testEnv is an open keyring in a temporary directory.
type testEnv struct {
	t     *testing.T
	dir   string
	clock *fakeClock
	kr    *local.Keyring
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	env := &testEnv{t: t, dir: t.TempDir(), clock: newFakeClock()}
	env.kr = env.open(testPass, true)
	t.Cleanup(func() {
		if env.kr != nil {
			if err := env.kr.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return env
}

func (env *testEnv) options(create bool) local.Options {
	return local.Options{Create: create, KDF: testkeys.KDF, Clock: env.clock.Now}
}

func (env *testEnv) open(pass []byte, create bool) *local.Keyring {
	env.t.Helper()
	kr, err := local.Open(env.dir, pass, env.options(create))
	if err != nil {
		env.t.Fatalf("Open: %v", err)
	}
	return kr
}

// reopen closes and reopens the keyring with the test passphrase.
func (env *testEnv) reopen() {
	env.t.Helper()
	if err := env.kr.Close(); err != nil {
		env.t.Fatalf("Close: %v", err)
	}
	env.kr = nil
	env.kr = env.open(testPass, false)
}

func (env *testEnv) createKey() string {
	env.t.Helper()
	out, err := env.kr.CreateKey(context.Background(), &keyring.CreateKeyInput{Description: "test key"})
	if err != nil {
		env.t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata.KeyId
}

func (env *testEnv) describe(id string) keyring.KeyMetadata {
	env.t.Helper()
	out, err := env.kr.DescribeKey(context.Background(), &keyring.KeyIDInput{KeyId: id})
	if err != nil {
		env.t.Fatalf("DescribeKey(%s): %v", id, err)
	}
	return out.KeyMetadata
}

func (env *testEnv) encrypt(id string, pt []byte, ec map[string]string) []byte {
	env.t.Helper()
	out, err := env.kr.Encrypt(context.Background(), &keyring.EncryptInput{KeyId: id, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		env.t.Fatalf("Encrypt: %v", err)
	}
	return out.CiphertextBlob
}

func (env *testEnv) decrypt(blob []byte, ec map[string]string) ([]byte, error) {
	out, err := env.kr.Decrypt(context.Background(), &keyring.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// wantErr fails unless err wraps want (or is nil when want is nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func ctxb() context.Context { return context.Background() }
