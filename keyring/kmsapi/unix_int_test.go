package kmsapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPeerAllowed(t *testing.T) {
	tests := []struct {
		uid, euid uint32
		want      bool
	}{
		{1000, 1000, true},
		{0, 1000, true},
		{1001, 1000, false},
		{65534, 0, false},
		{0, 0, true},
	}
	for _, tt := range tests {
		if got := peerAllowed(tt.uid, tt.euid); got != tt.want {
			t.Errorf("peerAllowed(uid=%d, euid=%d) = %v, want %v", tt.uid, tt.euid, got, tt.want)
		}
	}
}

// callerHandler answers with the caller the handler would record.
func callerHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, callerOf(r)) }

func TestCallerOnUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.sock")
	s, err := ListenUnix(path, http.HandlerFunc(callerHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://kmsfs.sock/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if want := "uid:" + strconv.Itoa(os.Geteuid()); string(b) != want {
		t.Errorf("caller %q, want %q", b, want)
	}
}

func TestCallerOnTCP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(callerHandler))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(b), "addr:127.0.0.1:") {
		t.Errorf("caller %q, want addr:127.0.0.1:<port>", b)
	}
}

func TestPeerUIDOfOwnConnection(t *testing.T) {
	a, b := unixPair(t)
	defer a.Close()
	defer b.Close()
	uid, err := peerUID(a)
	if err != nil || uid != uint32(os.Geteuid()) {
		t.Errorf("peerUID = %d, %v; want %d", uid, err, os.Geteuid())
	}
}

// unixPair returns both ends of a connected unix socket.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pair.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.AcceptUnix()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	return server, client
}

func TestExceptionName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"DisabledException", "DisabledException"},
		{"com.amazonaws.kms#NotFoundException", "NotFoundException"},
		{"DisabledException:http://internal.amazon.com/coral/", "DisabledException"},
		{"aws.kms#KMSInternalException:http://x#y", "KMSInternalException"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := exceptionName(tt.in); got != tt.want {
			t.Errorf("exceptionName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCheckSocketFile covers what Dial refuses before it connects. The
// owner cases need root to chown; the re-exec test TestUntrustedServer
// covers a live server of another user.
func TestCheckSocketFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "k.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	euid := uint32(os.Geteuid())
	tests := []struct {
		name string
		path string
		want error
	}{
		{"own socket", sock, nil},
		{"missing", filepath.Join(dir, "none"), ErrNotRunning},
		{"regular file", file, ErrUntrustedServer},
		{"symlink to a socket", link, ErrUntrustedServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSocketFile(tt.path, euid)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("checkSocketFile: %v, want %v", err, tt.want)
			}
		})
	}
	if euid != 0 {
		t.Skip("needs root to chown the socket to another user")
	}
	t.Run("owned by another user", func(t *testing.T) {
		if err := os.Lchown(sock, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := checkSocketFile(sock, 0); !errors.Is(err, ErrUntrustedServer) {
			t.Fatalf("checkSocketFile: %v, want ErrUntrustedServer", err)
		}
	})
}

// TestDialTrustedOwnServer checks the per-connection peer check admits
// this process's own listener.
func TestDialTrustedOwnServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := dialTrusted(t.Context(), path, uint32(os.Geteuid()))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestSocketBoundAtItsPath: the kernel knows the socket by its real path
// (ss and /proc/net/unix show it), not a temporary one.
func TestSocketBoundAtItsPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.sock")
	srv, err := ListenUnix(path, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Skip("no /proc/net/unix:", err)
	}
	if !strings.Contains(string(b), " "+path+"\n") {
		t.Errorf("/proc/net/unix does not list %s", path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// TestStalledBodyTimesOut: a peer that promises a body and sends nothing
// is cut off after the read timeout instead of holding the server.
func TestStalledBodyTimesOut(t *testing.T) {
	old := unixReadTimeout
	unixReadTimeout = 200 * time.Millisecond
	defer func() { unixReadTimeout = old }()
	path := filepath.Join(t.TempDir(), "k.sock")
	srv, err := ListenUnix(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.ReadAll(c) // returns when the server closes the connection
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the server held a stalled request for %v", d)
	}
}
