package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/keyring"
)

// Authenticator authenticates one request from its headers and the body as
// read. It returns the caller, or an error that [Options.Refusal] turns
// into an AWS exception.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (keyring.Principal, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(r *http.Request, body []byte) (keyring.Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request, body []byte) (keyring.Principal, error) {
	return f(r, body)
}

// Options configure [New].
type Options struct {
	// Handler serves authenticated requests (kmsapi.NewHandler).
	Handler http.Handler
	// Auth authenticates every request to POST /; it must be set.
	Auth Authenticator
	// Refusal names the AWS exception, HTTP status and client-safe
	// message of an authentication error.
	Refusal func(error) (exception string, status int, message string)
	// Audit, if set, records each refused request (one record each).
	Audit func(ctx context.Context, r keyring.AuditRecord) error
	// TLS, if set, serves HTTPS.
	TLS *tls.Config
	// InsecureHTTP allows plain HTTP on an address that is not loopback.
	InsecureHTTP bool
	// MaxBodyBytes bounds a request body; zero means 1 MiB.
	MaxBodyBytes int64
	// Logger receives one line per request (operation, key, principal,
	// status, duration) and server failures. Nil discards.
	Logger *slog.Logger
	// Metrics, if set, counts requests and their latency.
	Metrics *Metrics
}

// Errors of [New] and [Server.Listen].
var (
	// ErrPlainHTTP refuses plain HTTP on an address reachable from other
	// machines: request signatures do not encrypt, and responses carry
	// plaintext data keys.
	ErrPlainHTTP = errors.New("server: refusing plain HTTP on a non-loopback address (give a TLS certificate, or --insecure-http)")
	// ErrNoAuthenticator is a server without [Options.Auth].
	ErrNoAuthenticator = errors.New("server: no authenticator configured")
)

const defaultMaxBody = 1 << 20

// Server serves a KMS protocol handler over TCP.
type Server struct {
	o   Options
	srv *http.Server
	log *slog.Logger
}

// New returns a server for o; [Server.Serve] starts it.
func New(o Options) (*Server, error) {
	if o.Auth == nil || o.Handler == nil {
		return nil, ErrNoAuthenticator
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultMaxBody
	}
	if o.Refusal == nil {
		o.Refusal = func(error) (string, int, string) {
			return "AccessDeniedException", http.StatusForbidden, "request refused"
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: log}
	s.srv = &http.Server{
		Handler:           s.routes(),
		TLSConfig:         o.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Listen opens addr, refusing plain HTTP beyond loopback unless
// [Options.InsecureHTTP].
func (s *Server) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.o.TLS == nil && !s.o.InsecureHTTP && !isLoopback(ln.Addr()) {
		ln.Close()
		return nil, ErrPlainHTTP
	}
	return ln, nil
}

// isLoopback reports whether a listener's address reaches only this
// machine. A wildcard address (0.0.0.0, ::) is not loopback.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Serve serves on ln until [Server.Shutdown]; it returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	var err error
	if s.o.TLS != nil {
		err = s.srv.ServeTLS(ln, "", "")
	} else {
		err = s.srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits, until ctx ends, for
// requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", s.serveKMS)
	return mux
}

// serveKMS authenticates a request and hands it to the protocol handler.
func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	op := operationOf(r)
	body, principal, err := s.authenticate(rec, r)
	if err == nil {
		r = r.WithContext(keyring.WithPrincipal(r.Context(), principal))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		s.o.Handler.ServeHTTP(rec, r)
	}
	s.record(r, rec, op, keyIDOf(body), principal, time.Since(start))
	clear(body)
}

// authenticate reads the body and authenticates the request; on failure it
// has written the refusal.
func (s *Server) authenticate(w *recorder, r *http.Request) ([]byte, keyring.Principal, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "ValidationException",
				"request body exceeds "+strconv.FormatInt(s.o.MaxBodyBytes, 10)+" bytes")
		} else {
			writeError(w, http.StatusBadRequest, "SerializationException", "reading the request body failed")
		}
		return body, keyring.Principal{}, err
	}
	p, err := s.o.Auth.Authenticate(r, body)
	if err != nil {
		name, status, msg := s.o.Refusal(err)
		writeError(w, status, name, msg)
		s.auditRefusal(r, name)
		return body, keyring.Principal{}, err
	}
	return body, p, nil
}

// auditRefusal records a request refused before it reached the keyring.
func (s *Server) auditRefusal(r *http.Request, exception string) {
	if s.o.Audit == nil {
		return
	}
	op, _ := strings.CutPrefix(operationOf(r), "TrentService.")
	rec := keyring.AuditRecord{Op: op, Caller: "addr:" + r.RemoteAddr, Outcome: exception, Count: 1}
	if err := s.o.Audit(r.Context(), rec); err != nil {
		s.log.Warn("audit record of a refused request failed", "err", err)
	}
}

// record writes the access-log line and the metrics of one request. It
// never logs bodies.
func (s *Server) record(r *http.Request, rec *recorder, op, keyID string, p keyring.Principal, d time.Duration) {
	if s.o.Metrics != nil {
		s.o.Metrics.observe(op, rec.outcome(), d)
	}
	s.log.Info("request", "op", op, "key", keyID, "principal", p.ARN, "remote", r.RemoteAddr,
		"status", rec.status, "outcome", rec.outcome(), "ms", float64(d.Microseconds())/1000)
}

// operationOf returns the X-Amz-Target, bounded so a hostile header
// cannot flood logs or metric labels.
func operationOf(r *http.Request) string {
	t := r.Header.Get("X-Amz-Target")
	if len(t) > 64 || strings.ContainsFunc(t, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return "invalid"
	}
	return t
}

// keyIDOf returns the KeyId member of a request body for the access log;
// key IDs and aliases are not secret.
func keyIDOf(body []byte) string {
	var in struct{ KeyId string }
	if json.Unmarshal(body, &in) != nil || len(in.KeyId) > 256 {
		return ""
	}
	return in.KeyId
}

// recorder remembers the status and AWS exception of a response.
type recorder struct {
	http.ResponseWriter
	status    int
	exception string
}

func (w *recorder) WriteHeader(status int) {
	w.status = status
	if status >= 400 {
		w.exception = w.Header().Get("X-Amzn-ErrorType")
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status >= 400 && w.exception == "" {
		var e struct {
			Type string `json:"__type"`
		}
		if json.Unmarshal(b, &e) == nil {
			w.exception = e.Type
		}
	}
	return w.ResponseWriter.Write(b)
}

// outcome is "Success" or the AWS exception name, as the audit log says.
func (w *recorder) outcome() string {
	switch {
	case w.status < 400:
		return "Success"
	case w.exception != "" && len(w.exception) <= 64:
		return w.exception
	default:
		return "HTTP" + strconv.Itoa(w.status)
	}
}

// writeError writes an AWS JSON error, as kmsapi does for service errors.
func writeError(w http.ResponseWriter, status int, exception, msg string) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{exception, msg})
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	w.Header().Set("X-Amzn-ErrorType", exception)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client has gone; nothing left to tell it
}
