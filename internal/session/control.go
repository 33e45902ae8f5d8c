package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// The control socket of a mount. A mount of CIPHERDIR listens on
// ControlSocketPath(keyringDir, CIPHERDIR), served by NewControlHandler
// behind kmsapi.ListenUnix (mode 0600, peer uid checked). The protocol is
// the keyring socket's: POST / with an X-Amz-Target header naming the
// operation and a JSON body; errors are {"__type", "message"}.
const (
	controlContentType = "application/x-amz-json-1.1"
	controlTarget      = "X-Amz-Target"
	opPing             = "KmsfsService.Ping"
	opRewrapFile       = "KmsfsService.RewrapFile"
	opSetVolumeKey     = "KmsfsService.SetVolumeKey"
	maxControlBody     = 64 << 10
)

// ErrNotServing means no mount answers on the control socket: it does not
// exist, or nothing accepts on it.
var ErrNotServing = errors.New("session: no mount is serving the control socket")

// Control is what a mount serves on its control socket.
type Control interface {
	maintain.Rewrapper
	// SetVolumeKey makes the mount wrap the DEKs of files it creates from
	// now on under keyID (a key UUID), as `kmsfs rewrap --key` moves the
	// tree to another key.
	SetVolumeKey(ctx context.Context, keyID string) error
}

// ControlSocketPath returns where the mount of cipherDir, serving the
// keyring in keyringDir, listens: <keyringDir>.mounts/<16 hex digits of
// SHA-256 of cipherDir's absolute, symlink-free path>.sock. Hashing keeps
// the path short (sun_path holds 108 bytes) and the same for every
// spelling of cipherDir.
func ControlSocketPath(keyringDir, cipherDir string) (string, error) {
	abs, err := CanonicalDir(cipherDir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(ControlSocketDir(keyringDir), hex.EncodeToString(sum[:8])+".sock"), nil
}

// ControlSocketDir is the directory of every control socket of the
// keyring in keyringDir (beside it, as the keyring's own socket).
func ControlSocketDir(keyringDir string) string {
	return filepath.Clean(keyringDir) + ".mounts"
}

// CanonicalDir returns dir as an absolute path without symlinks.
func CanonicalDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	return real, nil
}

// rewrapRequest is the body of KmsfsService.RewrapFile.
type rewrapRequest struct {
	Path       string // cipher path relative to CIPHERDIR
	KeyId      string // target key UUID
	KeyVersion uint32 // its newest version as the caller knows it
}

// rewrapResponse is the answer of KmsfsService.RewrapFile; key IDs are
// empty for an empty file.
type rewrapResponse struct {
	Changed       bool
	OldKeyId      string `json:",omitempty"`
	OldKeyVersion uint32 `json:",omitempty"`
	NewKeyId      string `json:",omitempty"`
	NewKeyVersion uint32 `json:",omitempty"`
}

// setKeyRequest is the body of KmsfsService.SetVolumeKey.
type setKeyRequest struct{ KeyId string }

// NewControlHandler serves c. It does not authenticate callers: serve it
// only behind kmsapi.ListenUnix, whose peer-uid check admits the mount's
// own user and root. Failures the caller cannot act on are logged to log
// (nil discards them).
func NewControlHandler(c Control, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &controlHandler{c: c, log: log}
}

type controlHandler struct {
	c   Control
	log *slog.Logger
}

func (h *controlHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := h.serve(r)
	if err != nil {
		typ, client := wireType(err)
		status := http.StatusBadRequest
		if !client {
			status = http.StatusInternalServerError
			h.log.Warn("kmsfs control: request failed", "target", r.Header.Get(controlTarget), "err", err)
		}
		writeControl(w, status, map[string]string{"__type": typ, "message": err.Error()})
		return
	}
	writeControl(w, http.StatusOK, out)
}

func (h *controlHandler) serve(r *http.Request) (any, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, fmt.Errorf("%w: only POST / is served", errBadRequest)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil || len(body) > maxControlBody {
		return nil, fmt.Errorf("%w: unreadable or oversized body", errBadRequest)
	}
	switch t := r.Header.Get(controlTarget); t {
	case opPing:
		return struct{}{}, nil
	case opRewrapFile:
		return h.rewrap(r.Context(), body)
	case opSetVolumeKey:
		var in setKeyRequest
		if err := decodeControl(body, &in); err != nil {
			return nil, err
		}
		return struct{}{}, h.c.SetVolumeKey(r.Context(), in.KeyId)
	default:
		return nil, fmt.Errorf("%w: unknown operation %.64q", errBadRequest, t)
	}
}

func (h *controlHandler) rewrap(ctx context.Context, body []byte) (any, error) {
	var in rewrapRequest
	if err := decodeControl(body, &in); err != nil {
		return nil, err
	}
	id, err := uuid.Parse(in.KeyId)
	if err != nil || in.KeyVersion == 0 {
		return nil, fmt.Errorf("%w: KeyId must be a key UUID and KeyVersion at least 1", errBadRequest)
	}
	res, err := h.c.RewrapFile(ctx, in.Path, envelope.KeyRef{KeyID: id, Version: in.KeyVersion})
	if err != nil {
		return nil, err
	}
	out := &rewrapResponse{Changed: res.Changed}
	if res.Old.Version != 0 {
		out.OldKeyId, out.OldKeyVersion = refKeyID(res.Old), res.Old.Version
		out.NewKeyId, out.NewKeyVersion = refKeyID(res.New), res.New.Version
	}
	return out, nil
}

// errBadRequest reports a request that does not follow the protocol; it
// travels as the keyring's ValidationException.
var errBadRequest = fmt.Errorf("session: bad control request: %w", keyring.ErrValidation)

func decodeControl(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: malformed JSON", errBadRequest)
	}
	return nil
}

func writeControl(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"__type":"KMSInternalException","message":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", controlContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client has gone; nothing left to tell it
}

// wireErrors names the errors of this package and of envelope on the
// wire; the keyring's travel under their AWS names (keyring.ErrorType).
// Order matters: the first match wins, and a keyring unwrap failure also
// matches envelope.ErrUnauthenticated.
var wireErrors = []struct {
	err  error
	name string
}{
	{maintain.ErrBusy, "KmsfsBusyException"},
	{maintain.ErrBadPath, "KmsfsBadPathException"},
	{fs.ErrNotExist, "KmsfsNoSuchFileException"},
	{envelope.ErrUnauthenticated, "KmsfsAuthenticationFailedException"},
	{envelope.ErrTruncated, "KmsfsTruncatedException"},
	{envelope.ErrBadHeader, "KmsfsBadHeaderException"},
	{envelope.ErrNoHeader, "KmsfsNoHeaderException"},
}

// wireType returns err's exception name and whether it is the client's
// (or the file's) fault rather than the server's.
func wireType(err error) (name string, client bool) {
	for _, e := range wireErrors {
		if errors.Is(err, e.err) {
			return e.name, true
		}
	}
	return keyring.ErrorType(err)
}

// ControlError is an error received from a mount's control socket. It
// wraps the sentinel its type names, so errors.Is works across the wire.
type ControlError struct {
	Type, Message string
	sentinel      error
}

func (e *ControlError) Error() string { return "kmsfs mount: " + e.Message }

// Unwrap returns the sentinel the type names.
func (e *ControlError) Unwrap() error { return e.sentinel }

// errorFromWire rebuilds an error from its exception name and message.
func errorFromWire(typ, msg string) error {
	for _, e := range wireErrors {
		if e.name == typ {
			return &ControlError{Type: typ, Message: msg, sentinel: e.err}
		}
	}
	return keyring.ErrorFromType(typ, msg)
}

// ControlClient talks to a mount's control socket. It is a [Control].
type ControlClient struct {
	hc *http.Client
}

var _ Control = (*ControlClient)(nil)

// DialControl connects to the control socket at path and checks that a
// mount answers; if none does it fails with an error wrapping
// ErrNotServing.
func DialControl(ctx context.Context, path string) (*ControlClient, error) {
	before, _ := os.Lstat(path)
	tr, err := kmsapi.UnixTransport(path, 64)
	if errors.Is(err, kmsapi.ErrNotRunning) {
		return nil, fmt.Errorf("%w: %s", ErrNotServing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("session: control socket: %w", err)
	}
	c := &ControlClient{hc: &http.Client{Transport: tr}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = c.call(ctx, opPing, struct{}{}, nil)
	if err == nil {
		return c, nil
	}
	c.Close()
	if errors.Is(err, syscall.ECONNREFUSED) {
		removeStale(path, before)
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("%w: %s", ErrNotServing, path)
	}
	return nil, fmt.Errorf("session: control socket %s: %w", path, err)
}

// removeStale removes the control socket at path that nothing accepts on
// (its mount was killed: ECONNREFUSED on a unix socket means no process
// listens on it), provided it is still the file probed (before), not one a
// new mount has just renamed into place. Left behind, it would make every
// later command take the tree for mounted.
func removeStale(path string, before os.FileInfo) {
	now, err := os.Lstat(path)
	if err != nil || before == nil || !os.SameFile(before, now) || now.Mode()&fs.ModeSocket == 0 {
		return
	}
	_ = os.Remove(path) // a failure leaves the old state; the caller reports not serving
}

// Close releases idle connections.
func (c *ControlClient) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// RewrapFile implements [Rewrapper] through the mount.
func (c *ControlClient) RewrapFile(ctx context.Context, rel string, target envelope.KeyRef) (maintain.Result, error) {
	var out rewrapResponse
	in := rewrapRequest{Path: rel, KeyId: refKeyID(target), KeyVersion: target.Version}
	if err := c.call(ctx, opRewrapFile, &in, &out); err != nil {
		return maintain.Result{}, err
	}
	res := maintain.Result{Changed: out.Changed}
	var err error
	if out.OldKeyId != "" {
		if res.Old, err = parseRef(out.OldKeyId, out.OldKeyVersion); err == nil {
			res.New, err = parseRef(out.NewKeyId, out.NewKeyVersion)
		}
	}
	return res, err
}

// SetVolumeKey implements [Control] through the mount.
func (c *ControlClient) SetVolumeKey(ctx context.Context, keyID string) error {
	return c.call(ctx, opSetVolumeKey, &setKeyRequest{KeyId: keyID}, nil)
}

func parseRef(id string, v uint32) (envelope.KeyRef, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return envelope.KeyRef{}, fmt.Errorf("%w: bad key ID in a control response", errBadRequest)
	}
	return envelope.KeyRef{KeyID: u, Version: v}, nil
}

// call posts in to op and decodes the answer into out (if not nil).
func (c *ControlClient) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://kmsfs.mount/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", controlContentType)
	req.Header.Set(controlTarget, op)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxControlBody))
	if err != nil {
		return fmt.Errorf("session: %s: reading the answer: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Type == "" {
			return fmt.Errorf("session: %s: HTTP %d without an error body", op, resp.StatusCode)
		}
		return errorFromWire(eb.Type, eb.Message)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("session: %s: malformed answer", op)
	}
	return nil
}

// refKeyID is the key ID of r in its wire form, a UUID string.
func refKeyID(r envelope.KeyRef) string { return uuid.UUID(r.KeyID).String() }
