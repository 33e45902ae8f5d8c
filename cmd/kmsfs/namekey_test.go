package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// nameKeyVolume makes a volume with encrypted names (a wrapped name key in
// kmsfs.conf) and one file, in a fresh keyring; it returns the keyring
// and cipher directories.
func nameKeyVolume(t *testing.T) (krDir, cipher string) {
	t.Helper()
	base := t.TempDir()
	krDir, cipher = filepath.Join(base, "keyring"), filepath.Join(base, "cipher")
	ctx := context.Background()
	kr, err := local.Open(krDir, []byte("pass"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	out, err := kr.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.CreateAlias(ctx, &keyring.AliasInput{AliasName: defaultAlias, TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	ks := keyring.NewKeyService(kr, out.KeyMetadata.KeyId)
	conf, err := volume.New(out.KeyMetadata.KeyId, defaultAlias, envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := conf.GenerateNameKey(ctx, ks); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(cipher, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeRootIV(cipher); err != nil {
		t.Fatal(err)
	}
	if err := conf.Create(cipher); err != nil {
		t.Fatal(err)
	}
	// The file's name is encrypted as the mount would (fsck checks names).
	codec, err := nameCodec(ctx, conf, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	iv, err := names.ReadDirIV(cipher)
	if err != nil {
		t.Fatal(err)
	}
	disk, _, err := codec.EncryptName(iv, "file")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(cipher, disk))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ef, err := envelope.Create(ctx, f, ks, envelope.DefaultChunkSize)
	if err == nil {
		_, err = ef.WriteAt([]byte("contents"), 0)
	}
	if err == nil {
		err = ef.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return krDir, cipher
}

// kmsfsWith runs the command line in this process (runKmsfs) with the
// keyring in krDir, cheap KDF parameters and a passphrase.
func kmsfsWith(t *testing.T, krDir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	testOnlyKDF = testkeys.KDF
	t.Setenv(envPassphrase, "pass")
	return runKmsfs(t, append([]string{"--keyring", krDir}, args...)...)
}

// TestNameKeyRetirement: a volume's wrapped name key is a header like any
// other: min-version refuses while it is under an old version, rewrap
// moves it, and fsck checks that it unwraps.
func TestNameKeyRetirement(t *testing.T) {
	krDir, cipher := nameKeyVolume(t)
	if _, errOut, code := kmsfsWith(t, krDir, "key", "rotate", defaultAlias); code != 0 {
		t.Fatal(errOut)
	}
	if err := registerForTest(krDir, cipher); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := kmsfsWith(t, krDir, "key", "min-version", defaultAlias, "2")
	if code == 0 || !strings.Contains(errOut, filepath.Join(cipher, volume.ConfigName)+": ") || !strings.Contains(errOut, "name key is wrapped under version 1") {
		t.Fatalf("min-version with the name key behind: exit %d\n%s", code, errOut)
	}
	out, errOut, code := kmsfsWith(t, krDir, "rewrap", cipher)
	if code != 0 || !strings.Contains(out, "1 rewrapped") || !strings.Contains(out, "name key in kmsfs.conf was rewrapped too") {
		t.Fatalf("rewrap: exit %d\n%s%s", code, out, errOut)
	}
	conf, err := volume.Load(cipher)
	if err != nil || conf.WrappedNameKey == nil || conf.WrappedNameKey.Version != 2 {
		t.Fatalf("name key after rewrap: %+v, %v", conf, err)
	}
	if out, errOut, code := kmsfsWith(t, krDir, "rewrap", cipher); code != 0 || strings.Contains(out, "name key") {
		t.Errorf("second rewrap: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := kmsfsWith(t, krDir, "key", "min-version", defaultAlias, "2"); code != 0 {
		t.Fatalf("min-version after rewrap: %s", errOut)
	}
	if out, errOut, code := kmsfsWith(t, krDir, "fsck", cipher); code != 0 {
		t.Fatalf("fsck: exit %d\n%s%s", code, out, errOut)
	}
	conf.WrappedNameKey.Wrapped = "AAAA" + conf.WrappedNameKey.Wrapped[4:]
	if err := conf.Save(cipher); err != nil {
		t.Fatal(err)
	}
	out, _, code = kmsfsWith(t, krDir, "fsck", cipher)
	if code != exitIntegrity || !strings.Contains(out, "kmsfs.conf: ") || !strings.Contains(out, "1 with problems") {
		t.Errorf("fsck with a damaged name key: exit %d\n%s", code, out)
	}
}

// registerForTest records a volume as kmsfs init would.
func registerForTest(krDir, cipher string) error {
	return session.RegisterVolume(krDir, cipher)
}
