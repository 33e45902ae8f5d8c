package kmsapi_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// openKeyring creates a real Badger keyring with cheap KDF parameters.
func openKeyring(t *testing.T, dir string) *local.Keyring {
	t.Helper()
	kr, err := local.Open(dir, []byte("test passphrase"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kr.Close(); err != nil {
			t.Error(err)
		}
	})
	return kr
}

// TestRealKeyring serves a real keyring on its socket, as a mount does,
// and uses it through the client, as `kmsfs key ...` does.
func TestRealKeyring(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keyring")
	kr := openKeyring(t, dir)
	s, err := kmsapi.ListenUnix(kmsapi.SocketPath(dir), kmsapi.NewHandler(kr, kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := dial(t, kmsapi.SocketPath(dir))
	ctx := t.Context()

	meta, err := c.CreateKey(ctx, &keyring.CreateKeyInput{Description: "over the socket"})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.KeyMetadata.KeyId
	if err := c.CreateAlias(ctx, &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	checkEncryptDecrypt(ctx, t, c, "alias/fs")
	checkWrapUnwrap(ctx, t, c, "alias/fs")

	if err := c.DisableKey(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")}); !errors.Is(err, keyring.ErrDisabled) {
		t.Errorf("Encrypt with a disabled key: %v, want ErrDisabled", err)
	}
	if _, err := c.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: "alias/none"}); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("DescribeKey of a missing alias: %v, want ErrNotFound", err)
	}
	checkAuditCaller(ctx, t, kr, "uid:"+strconv.Itoa(os.Geteuid()))
}

func checkEncryptDecrypt(ctx context.Context, t *testing.T, c *kmsapi.Client, keyID string) {
	t.Helper()
	ec := map[string]string{"path": "/a/b"}
	plain := []byte("hello\x00\xff")
	enc, err := c.Encrypt(ctx, &keyring.EncryptInput{KeyId: keyID, Plaintext: plain, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, plain) {
		t.Fatalf("Decrypt = %v, %v", dec, err)
	}
	_, err = c.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Errorf("Decrypt without the context: %v, want ErrInvalidCiphertext", err)
	}
}

func checkWrapUnwrap(ctx context.Context, t *testing.T, c *kmsapi.Client, keyID string) {
	t.Helper()
	dek := bytes.Repeat([]byte{0xab}, 32)
	aad := []byte("file header")
	w, err := c.WrapDEK(ctx, &keyring.WrapDEKInput{KeyId: keyID, Plaintext: dek, AAD: aad})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.UnwrapDEK(ctx, &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: aad})
	if err != nil || !bytes.Equal(u.Plaintext, dek) {
		t.Fatalf("UnwrapDEK = %v, %v", u, err)
	}
	_, err = c.UnwrapDEK(ctx, &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: []byte("other")})
	if !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Errorf("UnwrapDEK with another AAD: %v, want ErrInvalidCiphertext", err)
	}
}

// checkAuditCaller asserts that the keyring's audit log names the socket
// peer, which only the server knows.
func checkAuditCaller(ctx context.Context, t *testing.T, kr *local.Keyring, want string) {
	t.Helper()
	recs, err := kr.Audit(ctx, keyring.AuditFilter{Op: "CreateKey"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("Audit = %v, %v; want one CreateKey record", recs, err)
	}
	if recs[0].Caller != want {
		t.Errorf("audit caller %q, want %q", recs[0].Caller, want)
	}
}

// TestBoto3 checks wire compatibility with the AWS SDK for Python against
// the real keyring served on loopback TCP (testdata/boto3_check.py).
func TestBoto3(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; the boto3 wire check needs it")
	}
	if out, err := exec.Command(python, "-c", "import boto3").CombinedOutput(); err != nil {
		t.Skipf("boto3 is not importable (pip install boto3): %v\n%s", err, out)
	}
	kr := openKeyring(t, filepath.Join(t.TempDir(), "keyring"))
	_, url := newHTTPClient(t, kr, kmsapi.HandlerOptions{})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "boto3_check.py"), url)
	cmd.Env = append(os.Environ(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "boto3-check: ok") {
		t.Fatalf("boto3 check failed: %v\n%s", err, out)
	}
}

// TestGenerateRandomOverSocket calls GenerateRandom as AWS tooling does,
// through a real keyring's socket.
func TestGenerateRandomOverSocket(t *testing.T) {
	_, c := serveKeyring(t)
	out, err := c.GenerateRandom(t.Context(), &keyring.GenerateRandomInput{NumberOfBytes: 1024})
	if err != nil || len(out.Plaintext) != 1024 {
		t.Fatalf("GenerateRandom: %v", err)
	}
	_, err = c.GenerateRandom(t.Context(), &keyring.GenerateRandomInput{NumberOfBytes: 1025})
	var re *keyring.RemoteError
	if !errors.Is(err, keyring.ErrValidation) || !errors.As(err, &re) || re.Type != "ValidationException" {
		t.Fatalf("GenerateRandom of 1025 bytes: %v, want ValidationException", err)
	}
	_, err = c.GenerateRandom(t.Context(), &keyring.GenerateRandomInput{NumberOfBytes: 8, Recipient: &keyring.RecipientInfo{}})
	if !errors.Is(err, keyring.ErrUnsupported) {
		t.Fatalf("GenerateRandom for a recipient: %v, want UnsupportedOperationException", err)
	}
}

// TestAWSRefusalsOverSocket checks that requests a real keyring refuses
// arrive as the AWS exceptions SDKs expect.
func TestAWSRefusalsOverSocket(t *testing.T) {
	_, c := serveKeyring(t)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		typ  string
	}{
		{"multi-Region key with imported material", func() error {
			_, err := c.CreateKey(ctx, &keyring.CreateKeyInput{MultiRegion: true, Origin: "EXTERNAL"})
			return err
		}, "UnsupportedOperationException"},
		{"SM2 key, deprecated member", func() error {
			_, err := c.CreateKey(ctx, &keyring.CreateKeyInput{CustomerMasterKeySpec: "SM2", KeyUsage: "SIGN_VERIFY"})
			return err
		}, "UnsupportedOperationException"},
		{"unknown key usage", func() error {
			_, err := c.CreateKey(ctx, &keyring.CreateKeyInput{KeyUsage: "ENCRYPT"})
			return err
		}, "ValidationException"},
		{"bad marker", func() error {
			_, err := c.ListKeys(ctx, &keyring.ListInput{Marker: "not-a-marker"})
			return err
		}, "InvalidMarkerException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var re *keyring.RemoteError
			if err := tt.call(); !errors.As(err, &re) || re.Type != tt.typ {
				t.Fatalf("error %v, want %s", err, tt.typ)
			}
		})
	}
}
