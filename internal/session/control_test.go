package session_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// testControl serves a Local and records SetVolumeKey calls.
type testControl struct {
	*maintain.Local
	mu   sync.Mutex
	keys []string
}

func (c *testControl) SetVolumeKey(_ context.Context, keyID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if keyID == "" {
		return keyring.ErrValidation
	}
	c.keys = append(c.keys, keyID)
	return nil
}

// serveControl serves c on a socket as a mount does and dials it.
func serveControl(t *testing.T, c session.Control) *session.ControlClient {
	t.Helper()
	base := t.TempDir()
	sock, err := session.ControlSocketPath(filepath.Join(base, "keyring"), base)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := kmsapi.ListenUnix(sock, session.NewControlHandler(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client, err := session.DialControl(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// TestControlRewrap rewraps through the socket: results and every error
// class survive the trip, so the command line maps them to exit codes.
func TestControlRewrap(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	writeFile(t, k.keys(), dir, "a", content(1, 9000))
	writeFile(t, k.keys(), dir, "held", content(2, 10))
	writeFile(t, k.keys(), dir, "empty", nil)
	tampered := writeFile(t, k.keys(), dir, "tampered", content(3, 10))
	flipBytes(t, tampered, envelope.PreambleSize+100, envelope.PreambleSize+envelope.SlotSize+100)
	v2 := k.rotate(t)
	ctl := &testControl{Local: newLocal(t, dir, k, maintain.LocalOptions{RefuseOpenInProcess: true})}
	c := serveControl(t, ctl)
	ctx := context.Background()

	res, err := c.RewrapFile(ctx, "a", v2)
	if err != nil || !res.Changed || res.Old != k.ref(1) || res.New != v2 {
		t.Fatalf("RewrapFile(a) = %+v, %v", res, err)
	}
	if res, err := c.RewrapFile(ctx, "a", v2); err != nil || res.Changed || res.New != v2 {
		t.Errorf("second RewrapFile(a) = %+v, %v; want current", res, err)
	}
	if res, err := c.RewrapFile(ctx, "empty", v2); err != nil || res.Changed || res.Old.Version != 0 {
		t.Errorf("RewrapFile(empty) = %+v, %v; want nothing to do", res, err)
	}
	held, err := os.Open(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		rel    string
		target envelope.KeyRef
		want   error
	}{
		{"held", v2, maintain.ErrBusy},
		{"missing", v2, fs.ErrNotExist},
		{"../escape", v2, maintain.ErrBadPath},
		{"tampered", v2, envelope.ErrUnauthenticated},
		{"a", envelope.KeyRef{KeyID: [16]byte{1}, Version: 1}, keyring.ErrNotFound},
	} {
		if _, err := c.RewrapFile(ctx, tc.rel, tc.target); !errors.Is(err, tc.want) {
			t.Errorf("RewrapFile(%q): %v, want %v", tc.rel, err, tc.want)
		}
	}
	if err := k.kr.SetMinDecryptionVersion(ctx, k.keyID, 2); err != nil {
		t.Fatal(err)
	}
	held.Close()
	if _, err := c.RewrapFile(ctx, "held", v2); !errors.Is(err, keyring.ErrVersionRetired) {
		t.Errorf("RewrapFile under a retired version: %v, want ErrVersionRetired", err)
	}

	if err := c.SetVolumeKey(ctx, k.keyID); err != nil {
		t.Fatal(err)
	}
	if err := c.SetVolumeKey(ctx, ""); !errors.Is(err, keyring.ErrValidation) {
		t.Errorf("SetVolumeKey(\"\"): %v", err)
	}
	if len(ctl.keys) != 1 || ctl.keys[0] != k.keyID {
		t.Errorf("SetVolumeKey reached the mount as %v", ctl.keys)
	}
}

// TestDialControl tells "no mount" apart from a live one.
func TestDialControl(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	if _, err := session.DialControl(context.Background(), missing); !errors.Is(err, session.ErrNotServing) {
		t.Errorf("DialControl of a missing socket: %v, want ErrNotServing", err)
	}
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := session.DialControl(context.Background(), stale); !errors.Is(err, session.ErrNotServing) {
		t.Errorf("DialControl of a stale socket: %v, want ErrNotServing", err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale socket was left behind: %v", err)
	}
	notSock := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(notSock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := session.DialControl(context.Background(), notSock); err == nil {
		t.Error("DialControl of a regular file succeeded")
	}
	if _, err := os.Lstat(notSock); err != nil {
		t.Errorf("DialControl removed a file that is not a socket: %v", err)
	}
}

func TestControlSocketPath(t *testing.T) {
	base := t.TempDir()
	cipher := filepath.Join(base, "cipher")
	if err := os.Mkdir(cipher, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cipher, filepath.Join(base, "alias")); err != nil {
		t.Fatal(err)
	}
	kr := filepath.Join(base, "keyring")
	a, err := session.ControlSocketPath(kr, cipher)
	if err != nil {
		t.Fatal(err)
	}
	for _, spelling := range []string{cipher + "/", filepath.Join(base, "alias"), cipher + "/../cipher"} {
		b, err := session.ControlSocketPath(kr+"/", spelling)
		if err != nil || a != b {
			t.Errorf("socket of %q = %q, %v; want %q", spelling, b, err, a)
		}
	}
	if !strings.HasPrefix(a, kr+".mounts/") || !strings.HasSuffix(a, ".sock") || len(filepath.Base(a)) != 21 {
		t.Errorf("socket path %q", a)
	}
	other, _ := session.ControlSocketPath(kr, base)
	if other == a {
		t.Error("two directories share a socket")
	}
	if _, err := session.ControlSocketPath(kr, filepath.Join(base, "missing")); err == nil {
		t.Error("socket path of a missing directory")
	}
}
