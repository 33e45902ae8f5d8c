package kmsapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// SocketPath returns where the server of the keyring in keyringDir listens:
// beside the directory, because Badger owns the directory itself.
func SocketPath(keyringDir string) string {
	return filepath.Clean(keyringDir) + ".sock"
}

// Server serves a handler on a unix socket; see [ListenUnix].
type Server struct {
	path string
	info fs.FileInfo // the socket file, to remove only our own on Close
	srv  *http.Server
	done chan struct{}
	err  error // of Serve, valid once done is closed
}

// unixReadTimeout bounds reading one request, headers and body, so that a
// peer that sends a Content-Length and then nothing cannot hold a
// goroutine forever. The largest request (a bundle import) is a few MiB
// over a local socket.
var unixReadTimeout = 30 * time.Second

// ListenUnix serves h on a unix socket at socketPath and returns once it
// listens. The socket has mode 0600 (set right after the bind, see
// listenPrivate), and connections from a peer whose uid (SO_PEERCRED) is
// neither the server's effective uid nor root are closed unread. Handlers
// see the caller's uid in the request context.
//
// A live server on socketPath makes ListenUnix fail with [ErrSocketInUse];
// a stale socket (nothing accepts on it) is replaced. A path that is not a
// socket is never replaced. Of two servers racing for one path, the
// second bind fails with ErrSocketInUse; the keyring's own lock decides
// which process owns the keys.
func ListenUnix(socketPath string, h http.Handler) (*Server, error) {
	if err := checkStale(socketPath); err != nil {
		return nil, err
	}
	ln, err := listenPrivate(socketPath)
	if err != nil {
		return nil, err
	}
	info, err := os.Lstat(socketPath)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("kmsapi: listen %s: %w", socketPath, err)
	}
	s := &Server{path: socketPath, info: info, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       unixReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ConnContext:       connContext,
	}
	go s.serve(&peerListener{UnixListener: ln, euid: uint32(os.Geteuid())})
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	defer close(s.done)
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		s.err = err
	}
}

// Close stops the server at once, dropping requests in flight, and removes
// the socket file if it is still ours.
func (s *Server) Close() error {
	return s.stop(s.srv.Close())
}

// Shutdown stops accepting connections, waits for requests in flight until
// ctx ends, then behaves as Close.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	return s.stop(err)
}

func (s *Server) stop(err error) error {
	<-s.done
	if info, statErr := os.Lstat(s.path); statErr == nil && os.SameFile(info, s.info) {
		if rmErr := os.Remove(s.path); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}
	if err = errors.Join(err, s.err); err != nil {
		return fmt.Errorf("kmsapi: closing %s: %w", s.path, err)
	}
	return nil
}

// checkStale refuses a live socket at path and removes a stale one.
func checkStale(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kmsapi: listen %s: %w", path, err)
	}
	if info.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("kmsapi: listen %s: exists and is not a socket: %w", path, fs.ErrExist)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("kmsapi: listen %s: %w", path, ErrSocketInUse)
	case !errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("kmsapi: listen %s: probing the existing socket: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kmsapi: listen %s: removing a stale socket: %w", path, err)
	}
	return nil
}

// listenPrivate binds the socket at its final path, so that the kernel
// names it there (ss, /proc/net/unix and SO_PEERCRED users see the real
// path), then restricts it to its owner. Until the chmod, a connection
// from another user is possible but refused by the peer check; a live
// server already on the path makes the bind fail rather than be replaced.
func listenPrivate(path string) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w: %s", ErrSocketInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("kmsapi: listen %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false) // Server.stop removes it while it is still ours
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("kmsapi: listen %s: %w", path, err)
	}
	return ln, nil
}

// peerListener admits only connections whose peer may use the keyring.
type peerListener struct {
	*net.UnixListener
	euid uint32
}

// Accept returns the next admitted connection; it closes rejected ones
// itself, because an error from Accept would stop http.Server.Serve.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && peerAllowed(uid, l.euid) {
			return &peerConn{UnixConn: c, uid: uid}, nil
		}
		c.Close()
	}
}

// peerAllowed admits the server's own user and root: anyone else could
// otherwise use keys they cannot read on disk.
func peerAllowed(uid, euid uint32) bool {
	return uid == euid || uid == 0
}

// peerConn remembers the uid the kernel reported for the peer.
type peerConn struct {
	*net.UnixConn
	uid uint32
}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*peerConn); ok {
		return withPeerUID(ctx, pc.uid)
	}
	return ctx
}
