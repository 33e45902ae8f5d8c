package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/internal/testutil"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// remoteKMS serves a keyring over loopback HTTP with the AWS KMS protocol,
// as `kmsfs serve` does (without SigV4, which these tests do not need),
// and points the AWS SDK's environment at made-up credentials.
func remoteKMS(t *testing.T) (kr *local.Keyring, url, keyID, arn string) {
	t.Helper()
	kr, err := local.Open(filepath.Join(t.TempDir(), "server-keyring"), []byte("pw"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	meta, err := kr.CreateKey(context.Background(), &keyring.CreateKeyInput{Description: "remote volume key"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(kmsapi.NewHandler(kr, kmsapi.HandlerOptions{}))
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDREMOTETEST", "AWS_SECRET_ACCESS_KEY": "remote-test-secret",
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"AWS_EC2_METADATA_DISABLED": "true", envKeyring: filepath.Join(t.TempDir(), "no-local-keyring"),
	} {
		t.Setenv(k, v)
	}
	return kr, srv.URL, meta.KeyMetadata.KeyId, meta.KeyMetadata.Arn
}

func runKMSFS(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := newApp(strings.NewReader(""), &out, &errb).RunContext(ctx, append([]string{"kmsfs"}, args...))
	return out.String() + errb.String(), err
}

func TestInitRemote(t *testing.T) {
	_, url, keyID, arn := remoteKMS(t)
	dir := filepath.Join(t.TempDir(), "cipher")
	if out, err := runKMSFS(context.Background(), "init", "--kms-endpoint", url, "--key-id", keyID, dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	conf, err := volume.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if conf.Version != volume.ConfigVersionKMS || conf.KMS == nil || conf.KMS.Endpoint != url || conf.KMS.KeyArn != arn || conf.PlaintextNames {
		t.Fatalf("config %+v %+v", conf, conf.KMS)
	}
	raw, err := os.ReadFile(filepath.Join(dir, volume.ConfigName))
	if err != nil || bytes.Contains(raw, []byte("remote-test-secret")) || bytes.Contains(raw, []byte("AKIDREMOTETEST")) {
		t.Fatalf("config holds a credential (%v):\n%s", err, raw)
	}
	if _, err := os.Stat(os.Getenv(envKeyring)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("init of a remote volume touched the local keyring: %v", err)
	}
	for _, args := range [][]string{
		{"init", "--kms", "gcp", "--key-id", keyID},
		{"init", "--kms", "aws", "--kms-endpoint", url, "--key-id", keyID},
		{"init", "--kms-endpoint", url},
		{"init", "--key-id", keyID},
		{"init", "--kms-endpoint", "http://user:pass@" + strings.TrimPrefix(url, "http://"), "--key-id", keyID},
		{"init", "--kms-endpoint", "ftp://example", "--key-id", keyID},
	} {
		if out, err := runKMSFS(context.Background(), append(args, filepath.Join(t.TempDir(), "x"))...); err == nil {
			t.Errorf("%v succeeded:\n%s", args, out)
		}
	}
	if out, err := runKMSFS(context.Background(), "init", "--kms-endpoint", url, "--key-id", "alias/missing", filepath.Join(t.TempDir(), "y")); !errors.Is(err, envelope.ErrKeyUnavailable) {
		t.Errorf("init with a missing key: %v\n%s", err, out)
	}
}

// TestMountRemote mounts a remote-KMS volume in this process: files
// round-trip and land as format version 2; a disabled key makes new
// files fail with EACCES while a file already open keeps working.
func TestMountRemote(t *testing.T) {
	testutil.RequireFUSE(t)
	kr, url, keyID, _ := remoteKMS(t)
	dir, mnt := filepath.Join(t.TempDir(), "cipher"), t.TempDir()
	if out, err := runKMSFS(context.Background(), "init", "--kms-endpoint", url, "--key-id", keyID, dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer readyR.Close()
	// The mount reports on, and closes, a descriptor of its own: a dup,
	// so that readyW's finalizer cannot close it under it.
	fd, err := syscall.Dup(int(readyW.Fd()))
	readyW.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envReadyFD, fmt.Sprint(fd))
	logFile := filepath.Join(t.TempDir(), "mount.log")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		out, err := runKMSFS(ctx, "mount", "-f", "--log", logFile, dir, mnt)
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mount: %v", err)
		}
	})
	line, _ := bufio.NewReader(readyR).ReadString('\n')
	if strings.TrimSpace(line) != "ok" {
		t.Fatalf("mount not ready: %q", line)
	}
	want := bytes.Repeat([]byte("kept in a remote KMS\n"), 5000)
	if err := os.WriteFile(filepath.Join(mnt, "a.txt"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "a.txt")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	checkVersion2(t, dir)
	open, err := os.OpenFile(filepath.Join(mnt, "a.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := kr.DisableKey(context.Background(), &keyring.KeyIDInput{KeyId: keyID}); err != nil {
		t.Fatal(err)
	}
	err = os.WriteFile(filepath.Join(mnt, "b.txt"), []byte("new file"), 0o644)
	if !errors.Is(err, syscall.EACCES) {
		t.Fatalf("new file under a disabled key: %v, want EACCES", err)
	}
	if log, err := os.ReadFile(logFile); err != nil || !bytes.Contains(log, []byte(`msg="KMS call failed" op=Encrypt`)) || !bytes.Contains(log, []byte("DisabledException")) {
		t.Fatalf("mount log (%v) lacks the KMS failure:\n%s", err, log)
	}
	got := make([]byte, 20)
	if _, err := open.ReadAt(got, 0); err != nil || !bytes.Equal(got, want[:20]) {
		t.Fatalf("open file after the key was disabled: %v", err)
	}
	if _, err := open.WriteAt([]byte("still writable"), 100); err != nil {
		t.Fatalf("write to an open file after the key was disabled: %v", err)
	}
}

// checkVersion2 requires every non-empty regular file in dir but the
// config to start with a version 2 (KMS) preamble.
func checkVersion2(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == volume.ConfigName || strings.HasSuffix(d.Name(), ".diriv") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			return err
		}
		pre, err := envelope.ParsePreamble(b[:envelope.PreambleSize])
		if err != nil || pre.Kind() != envelope.KindKMS {
			return fmt.Errorf("%s: preamble %+v, %v", p, pre, err)
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("ciphertext files: %d version 2, %v", n, err)
	}
}
