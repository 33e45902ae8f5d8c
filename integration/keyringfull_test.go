package integration

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/internal/testutil"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips
// when not root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes zeros to path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestKeyringFullDisk fills the filesystem under a keyring while keys are
// created and rotated and audit records written (issue 12, item 1): the
// process survives (Badger's mmap stores would raise SIGBUS), each write
// fails with ENOSPC in one line, audit flushes log a warning, Close works
// on the full disk, and once space returns the keyring opens with every
// key it had.
func TestKeyringFullDisk(t *testing.T) {
	fsDir := mountTmpfs(t, "64m")
	dir := filepath.Join(fsDir, "keyring")
	pass := []byte("full disk passphrase")
	var logs testutil.SyncBuffer
	opts := local.Options{Create: true, KDF: testkeys.KDF, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	k, err := local.Open(dir, pass, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	enc, err := k.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("before")})
	if err != nil {
		t.Fatal(err)
	}

	filler := filepath.Join(fsDir, "filler")
	fill(t, filler)
	_, err = k.CreateKey(ctx, &keyring.CreateKeyInput{})
	if !errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("CreateKey on a full disk: %v, want one line wrapping ENOSPC", err)
	}
	t.Logf("CreateKey: %v", err)
	if _, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: id}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("RotateKeyOnDemand on a full disk: %v, want ENOSPC", err)
	}
	for range 100 { // audit records, written in the background
		if _, err := k.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Close(); err != nil {
		t.Logf("Close on a full disk: %v", err)
	}
	if !strings.Contains(logs.String(), "no space left on device") {
		t.Errorf("no warning about the audit write logged; logs:\n%s", logs.String())
	}
	// Open on the still full disk: whether Close freed enough (its
	// write-ahead log, the ballast) or not, an error or a keyring, never
	// a fault.
	if k2, err := local.Open(dir, pass, local.Options{KDF: testkeys.KDF}); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open on a full disk: %v, want success or ENOSPC", err)
	} else if err == nil {
		if _, err := k2.CreateKey(ctx, &keyring.CreateKeyInput{}); err != nil {
			t.Logf("CreateKey after reopening on the full disk: %v", err)
		}
		k2.Close()
	} else {
		t.Logf("Open on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	k, err = local.Open(dir, pass, local.Options{KDF: testkeys.KDF})
	if err != nil {
		t.Fatalf("Open once space returned: %v", err)
	}
	defer k.Close()
	if err := k.VerifyAudit(ctx); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}
	dec, err := k.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "before" {
		t.Fatalf("Decrypt after the full disk: %q, %v", dec, err)
	}
	if _, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatalf("RotateKeyOnDemand once space returned: %v", err)
	}
}
