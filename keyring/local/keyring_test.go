package local_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

func TestPersistenceAcrossReopen(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	blob := env.encrypt(id, []byte("hello"), map[string]string{"path": "/a"})
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	env.reopen()
	md := env.describe("alias/fs")
	if md.KeyId != id || md.CurrentKeyVersion != 2 || md.Description != "test key" {
		t.Fatalf("after reopen: %+v", md)
	}
	pt, err := env.decrypt(blob, map[string]string{"path": "/a"})
	if err != nil || string(pt) != "hello" {
		t.Fatalf("Decrypt after reopen: %q, %v", pt, err)
	}
}

func TestOpenErrors(t *testing.T) {
	env := newEnv(t)
	env.createKey()

	_, err := local.Open(env.dir, testPass, env.options(false))
	wantErr(t, "second Open", err, keyring.ErrLocked)

	if err := env.kr.Close(); err != nil {
		t.Fatal(err)
	}
	env.kr = nil
	_, err = local.Open(env.dir, []byte("wrong"), env.options(false))
	wantErr(t, "wrong passphrase", err, keyring.ErrWrongPassphrase)
	_, err = local.Open(env.dir, []byte("wrong"), env.options(true))
	wantErr(t, "wrong passphrase with Create", err, keyring.ErrWrongPassphrase)

	empty := t.TempDir()
	_, err = local.Open(empty, testPass, env.options(false))
	wantErr(t, "empty dir", err, keyring.ErrNoKeyring)
	if names, _ := os.ReadDir(empty); len(names) != 0 {
		t.Errorf("Open without Create wrote %d files", len(names))
	}
	_, err = local.Open(filepath.Join(empty, "missing"), testPass, env.options(false))
	wantErr(t, "missing dir", err, keyring.ErrNoKeyring)

	env.kr = env.open(testPass, false) // the failures above left no lock behind
}

func TestClosedKeyring(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	if err := env.kr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	wantErr(t, "Encrypt after Close", err, keyring.ErrClosed)
	_, err = env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{})
	wantErr(t, "CreateKey after Close", err, keyring.ErrClosed)
	env.kr = nil
}

func TestFileModes(t *testing.T) {
	env := newEnv(t)
	env.createKey()
	env.reopen()
	fi, err := os.Stat(env.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(env.dir)
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}

func TestPasswd(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	blob := env.encrypt(id, []byte("secret data"), nil)
	newPass := []byte("a new passphrase")
	if err := env.kr.Passwd(newPass, testkeys.KDF); err != nil {
		t.Fatal(err)
	}
	// The open keyring keeps working, including for new versions.
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	blob2 := env.encrypt(id, []byte("more"), nil)
	if err := env.kr.Close(); err != nil {
		t.Fatal(err)
	}
	env.kr = nil

	_, err := local.Open(env.dir, testPass, env.options(false))
	wantErr(t, "old passphrase", err, keyring.ErrWrongPassphrase)
	env.kr = env.open(newPass, false)
	for _, b := range [][]byte{blob, blob2} {
		if _, err := env.decrypt(b, nil); err != nil {
			t.Fatalf("Decrypt after Passwd: %v", err)
		}
	}
	err = env.kr.Passwd([]byte("x"), keyring.KDFParams{Time: 1, MemoryKiB: 1, Threads: 1})
	wantErr(t, "bad KDF", err, keyring.ErrValidation)
}

func TestCreateKeyMetadata(t *testing.T) {
	env := newEnv(t)
	out, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Description: "d", KeyUsage: "ENCRYPT_DECRYPT",
		KeySpec: "SYMMETRIC_DEFAULT", Origin: "AWS_KMS"})
	if err != nil {
		t.Fatal(err)
	}
	md := out.KeyMetadata
	want := "arn:aws:kms:local:000000000000:key/" + md.KeyId
	switch {
	case md.Arn != want:
		t.Errorf("Arn %q, want %q", md.Arn, want)
	case md.KeyState != keyring.StateEnabled || !md.Enabled:
		t.Errorf("state %q enabled %v", md.KeyState, md.Enabled)
	case md.KeyUsage != "ENCRYPT_DECRYPT" || md.KeySpec != "SYMMETRIC_DEFAULT" || md.CustomerMasterKeySpec != "SYMMETRIC_DEFAULT":
		t.Errorf("usage/spec %+v", md)
	case md.Origin != "AWS_KMS" || md.KeyManager != "CUSTOMER" || len(md.EncryptionAlgorithms) != 1:
		t.Errorf("origin/manager/algs %+v", md)
	case md.CurrentKeyVersion != 1 || md.MinimumDecryptionVersion != 1:
		t.Errorf("versions %+v", md)
	case !md.CreationDate.Equal(env.clock.Now()):
		t.Errorf("CreationDate %v", md.CreationDate)
	case md.AWSAccountId != "000000000000":
		t.Errorf("account %q", md.AWSAccountId)
	}
}

// TestCreateKeyRefused asks for what AWS KMS offers and this keyring does
// not (UnsupportedOperationException), and for values AWS does not know
// (ValidationException): nothing may be silently ignored.
func TestCreateKeyRefused(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		name string
		in   keyring.CreateKeyInput
		want error
	}{
		{"sign key without spec", keyring.CreateKeyInput{KeyUsage: "SIGN_VERIFY"}, keyring.ErrValidation},
		{"mac key without spec", keyring.CreateKeyInput{KeyUsage: "GENERATE_VERIFY_MAC"}, keyring.ErrValidation},
		{"unknown usage", keyring.CreateKeyInput{KeyUsage: "ENCRYPT"}, keyring.ErrValidation},
		{"secp256k1 for key agreement", keyring.CreateKeyInput{KeySpec: "ECC_SECG_P256K1", KeyUsage: "KEY_AGREEMENT"}, keyring.ErrValidation},
		{"secp256k1 with the default usage", keyring.CreateKeyInput{KeySpec: "ECC_SECG_P256K1"}, keyring.ErrValidation},
		{"ML-DSA", keyring.CreateKeyInput{KeySpec: "ML_DSA_65", KeyUsage: "SIGN_VERIFY"}, keyring.ErrUnsupported},
		{"SM2", keyring.CreateKeyInput{KeySpec: "SM2", KeyUsage: "SIGN_VERIFY"}, keyring.ErrUnsupported},
		{"unknown spec", keyring.CreateKeyInput{KeySpec: "AES_256"}, keyring.ErrValidation},
		{"HMAC with the default usage", keyring.CreateKeyInput{CustomerMasterKeySpec: "HMAC_256"}, keyring.ErrValidation},
		{"RSA for key agreement", keyring.CreateKeyInput{KeySpec: "RSA_2048", KeyUsage: "KEY_AGREEMENT"}, keyring.ErrValidation},
		{"unknown spec, deprecated member", keyring.CreateKeyInput{CustomerMasterKeySpec: "x"}, keyring.ErrValidation},
		{"specs differ", keyring.CreateKeyInput{KeySpec: "SYMMETRIC_DEFAULT", CustomerMasterKeySpec: "RSA_2048"}, keyring.ErrValidation},
		{"CloudHSM", keyring.CreateKeyInput{Origin: "AWS_CLOUDHSM"}, keyring.ErrUnsupported},
		{"unknown origin", keyring.CreateKeyInput{Origin: "LOCAL"}, keyring.ErrValidation},
		{"multi-Region with imported material", keyring.CreateKeyInput{MultiRegion: true, Origin: "EXTERNAL"}, keyring.ErrUnsupported},
		{"custom key store", keyring.CreateKeyInput{CustomKeyStoreId: "cks-1234567890abcdef0"}, keyring.ErrUnsupported},
		{"external key store", keyring.CreateKeyInput{XksKeyId: "xks-1"}, keyring.ErrUnsupported},
		{"long description", keyring.CreateKeyInput{Description: string(bytes.Repeat([]byte("x"), 8193))}, keyring.ErrValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.kr.CreateKey(ctxb(), &tt.in)
			wantErr(t, "CreateKey", err, tt.want)
		})
	}
	keys, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{})
	if err != nil || len(keys.Keys) != 0 {
		t.Fatalf("refused requests created %d keys (%v)", len(keys.Keys), err)
	}
	ok := keyring.CreateKeyInput{KeySpec: "SYMMETRIC_DEFAULT", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT"}
	if _, err := env.kr.CreateKey(ctxb(), &ok); err != nil {
		t.Fatalf("CreateKey with both spec members SYMMETRIC_DEFAULT: %v", err)
	}
}

func TestCustomRegionAccount(t *testing.T) {
	dir := t.TempDir()
	kr, err := local.Open(dir, testPass, local.Options{Create: true, KDF: testkeys.KDF, Region: "eu-west-1", Account: "111122223333"})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	out, err := kr.CreateKey(ctxb(), &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.KeyMetadata.Arn
	if want := "arn:aws:kms:eu-west-1:111122223333:key/" + out.KeyMetadata.KeyId; arn != want {
		t.Fatalf("Arn %q, want %q", arn, want)
	}
	if _, err := kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: arn}); err != nil {
		t.Fatal(err)
	}
	other := "arn:aws:kms:local:000000000000:key/" + out.KeyMetadata.KeyId
	_, err = kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: other})
	wantErr(t, "ARN of another region", err, keyring.ErrNotFound)
}

func TestListKeysPaging(t *testing.T) {
	env := newEnv(t)
	want := map[string]bool{}
	for range 5 {
		want[env.createKey()] = true
	}
	seen := map[string]bool{}
	marker := ""
	for pages := 0; ; pages++ {
		out, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{Limit: 2, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		if pages > 3 || len(out.Keys) > 2 {
			t.Fatalf("page %d has %d keys", pages, len(out.Keys))
		}
		for _, k := range out.Keys {
			if seen[k.KeyId] || k.KeyArn != "arn:aws:kms:local:000000000000:key/"+k.KeyId {
				t.Fatalf("bad or repeated entry %+v", k)
			}
			seen[k.KeyId] = true
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d keys, want %d", len(seen), len(want))
	}
	for _, limit := range []int{-1, 1001} {
		_, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{Limit: limit})
		wantErr(t, "bad limit", err, keyring.ErrValidation)
	}
}

// TestLockedAcrossProcesses opens the keyring here and again in a child
// process (this test binary, re-executed), which must get ErrLocked.
func TestLockedAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("KMSFS_TEST_LOCK_CHILD"); dir != "" {
		_, err := local.Open(dir, testPass, local.Options{KDF: testkeys.KDF})
		if errors.Is(err, keyring.ErrLocked) {
			os.Exit(3)
		}
		t.Fatalf("child Open: %v", err)
	}
	env := newEnv(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedAcrossProcesses$")
	cmd.Env = append(os.Environ(), "KMSFS_TEST_LOCK_CHILD="+env.dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
