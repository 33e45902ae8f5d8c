package kmsapi_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// startUnix serves svc on a socket beside a keyring dir in a fresh temp dir.
func startUnix(t *testing.T, svc keyring.Service) (*kmsapi.Server, string) {
	t.Helper()
	path := kmsapi.SocketPath(filepath.Join(t.TempDir(), "keyring"))
	s, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(svc, kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func dial(t *testing.T, path string) *kmsapi.Client {
	t.Helper()
	c, err := kmsapi.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// staleSocket leaves a socket file at path that nothing accepts on.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

func TestSocketPath(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"/var/lib/kmsfs/keyring", "/var/lib/kmsfs/keyring.sock"},
		{"/var/lib/kmsfs/keyring/", "/var/lib/kmsfs/keyring.sock"},
		{"rel/./k", "rel/k.sock"},
		{"k", "k.sock"},
	}
	for _, tt := range tests {
		if got := kmsapi.SocketPath(tt.dir); got != tt.want {
			t.Errorf("SocketPath(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

func TestUnixRoundTrip(t *testing.T) {
	f := fakeWithOutputs()
	_, path := startUnix(t, f)
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&fs.ModeSocket == 0 || info.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", info.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("socket dir holds %d entries, want only the socket", len(entries))
	}
	c := dial(t, path)
	for _, oc := range opCases() {
		if _, err := oc.call(t.Context(), c); err != nil {
			t.Errorf("%s: %v", oc.name, err)
		}
	}
	f.setErr(keyring.ErrDisabled)
	if _, err := c.Encrypt(t.Context(), &keyring.EncryptInput{KeyId: "k"}); !errors.Is(err, keyring.ErrDisabled) {
		t.Errorf("error %v, want ErrDisabled", err)
	}
}

func TestListenUnixLiveSocket(t *testing.T) {
	_, path := startUnix(t, fakeWithOutputs())
	s2, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(newFake(), kmsapi.HandlerOptions{}))
	if !errors.Is(err, kmsapi.ErrSocketInUse) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second ListenUnix: %v, want ErrSocketInUse", err)
	}
	dial(t, path) // the first server still serves
}

func TestListenUnixStaleSocket(t *testing.T) {
	path := kmsapi.SocketPath(filepath.Join(t.TempDir(), "keyring"))
	staleSocket(t, path)
	if _, err := kmsapi.Dial(path); !errors.Is(err, kmsapi.ErrNotRunning) {
		t.Fatalf("Dial on a stale socket: %v, want ErrNotRunning", err)
	}
	s, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(fakeWithOutputs(), kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer s.Close()
	dial(t, path)
}

func TestListenUnixNotSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(newFake(), kmsapi.HandlerOptions{}))
	if !errors.Is(err, fs.ErrExist) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("ListenUnix over a file: %v, want fs.ErrExist", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("the file was touched: %q, %v", b, err)
	}
}

func TestServerCloseRemovesSocket(t *testing.T) {
	for _, how := range []string{"Close", "Shutdown"} {
		t.Run(how, func(t *testing.T) {
			s, path := startUnix(t, fakeWithOutputs())
			dial(t, path)
			var err error
			if how == "Close" {
				err = s.Close()
			} else {
				err = s.Shutdown(t.Context())
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket still there after %s: %v", how, err)
			}
			if _, err := kmsapi.Dial(path); !errors.Is(err, kmsapi.ErrNotRunning) {
				t.Errorf("Dial after %s: %v, want ErrNotRunning", how, err)
			}
		})
	}
}

func TestDialMissing(t *testing.T) {
	_, err := kmsapi.Dial(filepath.Join(t.TempDir(), "none.sock"))
	if !errors.Is(err, kmsapi.ErrNotRunning) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Dial: %v, want ErrNotRunning wrapping ENOENT", err)
	}
}

// TestUnixConcurrent is meant for -race: many clients and requests at once.
func TestUnixConcurrent(t *testing.T) {
	_, path := startUnix(t, fakeWithOutputs())
	const clients, calls = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients*calls)
	for range clients {
		c := dial(t, path)
		wg.Go(func() {
			for i := range calls {
				oc := opCases()[i%len(opCases())]
				if _, err := oc.call(t.Context(), c); err != nil {
					errs <- fmt.Errorf("%s: %w", oc.name, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

const peerHelperEnv = "KMSAPI_TEST_PEER_SOCKET"

// TestPeerHelper is not a test: TestPeerUID runs the test binary with it as
// another user, to connect from a process with another uid.
func TestPeerHelper(t *testing.T) {
	path := os.Getenv(peerHelperEnv)
	if path == "" {
		t.Skip("helper process for TestPeerUID")
	}
	if c, err := kmsapi.Dial(path); err != nil {
		fmt.Printf("peer-result: refused uid=%d: %v\n", os.Getuid(), err)
	} else {
		c.Close()
		fmt.Printf("peer-result: served uid=%d\n", os.Getuid())
	}
}

// TestPeerUID re-executes the test binary as uid 65534 against a socket
// whose mode was opened to 0666, so that only the SO_PEERCRED check can
// refuse it; the same child as root is the control.
func TestPeerUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a peer under another uid; peerAllowed is unit-tested in unix_int_test.go")
	}
	dir := worldReadableDir(t)
	path := filepath.Join(dir, "keyring.sock")
	s, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(fakeWithOutputs(), kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	bin := copyTestBinary(t, dir)
	tests := []struct {
		name string
		cred *syscall.Credential
		want string
	}{
		{"uid 65534", &syscall.Credential{Uid: 65534, Gid: 65534}, "peer-result: refused uid=65534"},
		{"uid 0", nil, "peer-result: served uid=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestPeerHelper$", "-test.v")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), peerHelperEnv+"="+path)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tt.cred}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("helper output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// worldReadableDir is a temp dir that uid 65534 can traverse.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kmsapi-peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTestBinary copies the running test binary where uid 65534 may run it:
// the go build cache directories are 0700.
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "kmsapi.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

const serverHelperEnv = "KMSAPI_TEST_SERVER_SOCKET"

// TestServerHelper is not a test: TestUntrustedServer runs the test binary
// with it as another user, to serve a socket from a process of another uid.
// It serves until its stdin closes.
func TestServerHelper(t *testing.T) {
	path := os.Getenv(serverHelperEnv)
	if path == "" {
		t.Skip("helper process for TestUntrustedServer")
	}
	s, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(fakeWithOutputs(), kmsapi.HandlerOptions{}))
	if err != nil {
		fmt.Printf("server-result: %v\n", err)
		return
	}
	defer s.Close()
	fmt.Printf("server-result: listening uid=%d\n", os.Getuid())
	io.Copy(io.Discard, os.Stdin)
}

// TestUntrustedServer starts a server as uid 65534 and checks that the
// client (root) refuses it, before sending anything: first because the
// socket file belongs to uid 65534, then, with the file chowned to root,
// because SO_PEERCRED names uid 65534 as the listening process.
func TestUntrustedServer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a server under another uid; checkSocketFile is unit-tested in unix_int_test.go")
	}
	dir := worldReadableDir(t)
	srvDir := filepath.Join(dir, "srv")
	if err := os.Mkdir(srvDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(srvDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(srvDir, "keyring.sock")
	stop := startForeignServer(t, copyTestBinary(t, dir), path)
	defer stop()

	if c, err := kmsapi.Dial(path); !errors.Is(err, kmsapi.ErrUntrustedServer) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial of a socket owned by uid 65534: %v, want ErrUntrustedServer", err)
	}
	if err := os.Lchown(path, 0, 0); err != nil {
		t.Fatal(err)
	}
	if c, err := kmsapi.Dial(path); !errors.Is(err, kmsapi.ErrUntrustedServer) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial of a root-owned socket served by uid 65534: %v, want ErrUntrustedServer", err)
	}
}

// startForeignServer runs TestServerHelper as uid 65534 serving path and
// returns once it listens; stop ends it.
func startForeignServer(t *testing.T, bin, path string) (stop func()) {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestServerHelper$", "-test.v")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), serverHelperEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("server helper: %v", err)
		}
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "server-result: listening") {
			go io.Copy(io.Discard, stdout)
			return stop
		}
		if strings.HasPrefix(line, "server-result:") {
			break
		}
	}
	stdin.Close()
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("server helper did not start: %s", sc.Text())
	return nil
}
