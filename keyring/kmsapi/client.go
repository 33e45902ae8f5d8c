package kmsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// dialTimeout bounds the ping that [Dial] sends to check the server.
const dialTimeout = 5 * time.Second

// Client is a [keyring.Service] served by a remote [NewHandler]: over the
// keyring's unix socket ([Dial]) or over HTTP ([NewClient]). Errors from the
// service arrive as *[keyring.RemoteError] values, which wrap the keyring
// sentinels, so errors.Is(err, keyring.ErrDisabled) holds across the wire.
//
// A Client is safe for concurrent use. Requests are bounded only by their
// context; the client sets no timeout of its own.
type Client struct {
	url string
	hc  *http.Client
}

var _ keyring.Service = (*Client)(nil)

// NewClient returns a client for the KMS endpoint at baseURL, e.g.
// "http://127.0.0.1:8080". A nil hc means a private default client.
// It sends no SigV4 signature, so it can only talk to servers that do not
// ask for one (see [NewHandler]).
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{url: strings.TrimSuffix(baseURL, "/") + "/", hc: hc}
}

// Dial connects to the server listening on socketPath (see [SocketPath]) and
// checks that it answers. When nothing listens there it returns an error
// wrapping [ErrNotRunning], so the caller may open the keyring directly.
//
// Dial trusts only a server of this user or root, as the server trusts only
// such clients: the socket file must be a socket owned by the effective uid
// or root, and every connection's peer (SO_PEERCRED, the process that
// listens) must run as one of them too. Anything else fails with
// [ErrUntrustedServer] before a request is sent, so an impostor socket in a
// directory others can write never receives a data key or a passphrase.
func Dial(socketPath string) (*Client, error) {
	tr, err := UnixTransport(socketPath, 4)
	if err != nil {
		return nil, err
	}
	// The host is never resolved: DialContext ignores it.
	c := NewClient("http://kmsfs.sock", &http.Client{Transport: tr})
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	err = c.Ping(ctx)
	if err == nil {
		return c, nil
	}
	c.Close()
	var errno syscall.Errno
	if errors.As(err, &errno) && (errors.Is(errno, fs.ErrNotExist) || errors.Is(errno, syscall.ECONNREFUSED)) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotRunning, socketPath, errno)
	}
	return nil, fmt.Errorf("kmsapi: dial %s: %w", socketPath, err)
}

// UnixTransport returns an HTTP transport over the unix socket at
// socketPath that trusts only a server running as this user or root: the
// socket file must be owned by one of them, and every connection's peer
// credentials (SO_PEERCRED) are checked again. Every kmsfs unix-socket
// client (the keyring's and a mount's control socket) dials through it.
func UnixTransport(socketPath string, maxIdle int) (*http.Transport, error) {
	euid := uint32(os.Geteuid())
	if err := checkSocketFile(socketPath, euid); err != nil {
		return nil, err
	}
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialTrusted(ctx, socketPath, euid)
		},
		MaxIdleConnsPerHost: maxIdle,
		IdleConnTimeout:     time.Minute,
	}, nil
}

// checkSocketFile refuses a path that is not a socket owned by euid or
// root. A missing path is [ErrNotRunning].
func checkSocketFile(path string, euid uint32) error {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s: %w", ErrNotRunning, path, err)
	case err != nil:
		return fmt.Errorf("kmsapi: dial %s: %w", path, err)
	case info.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("%w: %s is not a socket", ErrUntrustedServer, path)
	}
	owner, ok := fileOwner(info)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s: owner unknown on this platform", ErrUntrustedServer, path)
	case !peerAllowed(owner, euid):
		return fmt.Errorf("%w: %s is owned by uid %d", ErrUntrustedServer, path, owner)
	}
	return nil
}

// dialTrusted connects to path and keeps the connection only if the
// listening process runs as euid or root. The socket file's owner was
// checked already, but the file can be replaced between that check and
// the connect; the kernel's record of the peer cannot.
func dialTrusted(ctx context.Context, path string, euid uint32) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%w: %s: not a unix connection", ErrUntrustedServer, path)
	}
	uid, err := peerUID(uc)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrUntrustedServer, path, err)
	}
	if !peerAllowed(uid, euid) {
		c.Close()
		return nil, fmt.Errorf("%w: %s is served by uid %d", ErrUntrustedServer, path, uid)
	}
	return c, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Ping checks that the server answers (KmsfsService.Ping); it does not touch
// the keyring.
func (c *Client) Ping(ctx context.Context) error {
	return callVoid(ctx, c, kmsfsPrefix+"Ping", struct{}{})
}

// call sends one operation and decodes its output.
func call[Out any](ctx context.Context, c *Client, target string, in any) (*Out, error) {
	b, err := c.roundTrip(ctx, target, in)
	defer clear(b)
	if err != nil {
		return nil, err
	}
	out := new(Out)
	if len(bytes.TrimSpace(b)) == 0 { // AWS may answer void ops with no body
		return out, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("kmsapi: %s: %s: %w", target, describeJSONError(err), ErrProtocol)
	}
	return out, nil
}

func callVoid(ctx context.Context, c *Client, target string, in any) error {
	_, err := call[struct{}](ctx, c, target, in)
	return err
}

// roundTrip posts in to target and returns the body of a 200 response, or
// the error the response carries.
func (c *Client) roundTrip(ctx context.Context, target string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	defer clear(body)
	if err != nil {
		return nil, fmt.Errorf("kmsapi: %s: encoding the request: %w", target, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("kmsapi: %s: %w", target, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(headerTarget, target)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kmsapi: %s: %w", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	switch {
	case err != nil:
		return b, fmt.Errorf("kmsapi: %s: reading the response: %w", target, err)
	case len(b) > maxResponseBytes:
		return b, fmt.Errorf("kmsapi: %s: response exceeds %d bytes: %w", target, maxResponseBytes, ErrProtocol)
	case resp.StatusCode != http.StatusOK:
		return b, responseError(target, resp, b)
	}
	return b, nil
}

// responseError turns an error response into a *keyring.RemoteError, parsing
// it as botocore and smithy-go do: the X-Amzn-ErrorType header wins over the
// body's __type (or code); message may be spelt Message.
func responseError(target string, resp *http.Response, b []byte) error {
	var eb struct {
		Type       string `json:"__type"`
		Code       string `json:"code"`
		Message    string `json:"message"`
		MessageCap string `json:"Message"`
	}
	_ = json.Unmarshal(b, &eb) // a body that is not JSON leaves eb empty
	typ := firstNonEmpty(resp.Header.Get(headerErrorType), eb.Type, eb.Code)
	if typ == "" {
		return fmt.Errorf("kmsapi: %s: HTTP %d without a KMS error body: %w", target, resp.StatusCode, ErrProtocol)
	}
	return keyring.ErrorFromType(exceptionName(typ), firstNonEmpty(eb.Message, eb.MessageCap))
}

// exceptionName strips a namespace ("aws.kms#") and any ":<url>" suffix from
// an error type, as botocore does.
func exceptionName(typ string) string {
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	return typ
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
