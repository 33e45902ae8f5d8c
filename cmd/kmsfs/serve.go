package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
	"github.com/kmsfs/kmsfs/keyring/policy"
	"github.com/kmsfs/kmsfs/keyring/server"
	"github.com/kmsfs/kmsfs/keyring/sigv4"
)

// errServedByMount refuses `kmsfs serve` while a mount owns the keyring: a
// server must hold the keyring itself to check key policies against the
// principals it authenticates.
var errServedByMount = errors.New("the keyring is held by a running mount; start kmsfs serve before mounting " +
	"(mounts then reach the keyring through the server), or unmount first")

// shutdownGrace bounds how long requests in flight may take to finish
// after SIGINT or SIGTERM.
const shutdownGrace = 10 * time.Second

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the keyring as an AWS KMS endpoint (JSON 1.1 protocol, SigV4, key policies and grants)",
		UsageText: `kmsfs serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] [--metrics ADDR]

Every request must be signed (AWS Signature Version 4, service kms) with an
access key of this keyring: kmsfs access-key create --name alice.
Mounts started while the server runs reach the keyring through it.

Example: kmsfs serve --listen 127.0.0.1:8400 &
         kmsfs access-key create --name alice --json
         AWS_ENDPOINT_URL=http://127.0.0.1:8400 aws kms list-keys`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8400", Usage: "TCP `ADDR` to serve on"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "the private key `FILE` of --tls-cert (PEM)"},
			&cli.BoolFlag{Name: "insecure-http", Usage: "allow plain HTTP on an address other than loopback"},
			&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics on `ADDR` (GET /metrics)"},
			&cli.StringFlag{Name: "account-id", Usage: "the 12-digit account `ID` in ARNs and policies (set once, kept in the keyring)"},
			&cli.BoolFlag{Name: "log-json", Usage: "log one JSON object per request instead of text (as does the global --json)"},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0); err != nil {
				return err
			}
			return serveKMS(c)
		},
	}
}

// serveKMS owns the keyring and serves it on TCP (and, as a mount does, on
// its unix socket) until SIGINT or SIGTERM.
func serveKMS(c *cli.Context) error {
	logger := serveLogger(c.Bool("log-json") || c.Bool("json"))
	tlsConf, err := serverTLS(c.String("tls-cert"), c.String("tls-key"))
	if err != nil {
		return err
	}
	dir := c.String("keyring")
	held, err := session.ReachKeyring(dir, func() (*local.Keyring, error) {
		return openServed(c)
	}, session.KeyringOptions{Logger: logger})
	if err != nil {
		return err
	}
	defer held.Close()
	kr := held.Local()
	if kr == nil {
		return errServedByMount
	}
	kr.SetAuthorizer(&policy.Authorizer{})
	metrics := server.NewMetrics()
	srv, err := server.New(server.Options{
		Handler:      kmsapi.NewHandler(kr, kmsapi.HandlerOptions{Logger: logger}),
		Auth:         verifier(kr),
		Refusal:      refusal,
		Audit:        kr.AppendAudit,
		TLS:          tlsConf,
		InsecureHTTP: c.Bool("insecure-http"),
		Logger:       logger,
		Metrics:      metrics,
	})
	if err != nil {
		return err
	}
	ln, err := srv.Listen(c.String("listen"))
	if err != nil {
		return err
	}
	if c.Bool("insecure-http") && tlsConf == nil {
		logger.Warn("serving plain HTTP: request signatures do not encrypt, and responses carry plaintext data keys")
	}
	if addr := c.String("metrics"); addr != "" {
		stop, err := serveMetrics(addr, metrics, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	fmt.Fprintf(c.App.Writer, "kmsfs: serving the keyring on %s://%s\n", scheme, ln.Addr())
	return runUntilSignalled(c.Context, srv, ln, logger)
}

// runUntilSignalled serves until ctx ends (SIGINT, SIGTERM), then lets
// requests in flight finish.
func runUntilSignalled(ctx context.Context, srv *server.Server, ln net.Listener, logger *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return <-served
}

// openServed opens (or creates) the keyring for the server, with the
// account given by --account-id.
func openServed(c *cli.Context) (*local.Keyring, error) {
	dir := c.String("keyring")
	exists := keyringExists(dir)
	pass, err := passphrase(c, !exists)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	if !exists {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	kr, err := openRetrying(dir, pass, local.Options{Create: !exists, KDF: testOnlyKDF, Account: c.String("account-id")})
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", dir, err)
	}
	return kr, nil
}

// verifier authenticates requests with the keyring's access keys.
func verifier(keys keyring.AccessKeyLookup) server.Authenticator {
	v := &sigv4.Verifier{Lookup: func(ctx context.Context, id string) (*sigv4.Credential, error) {
		secret, p, active, err := keys.LookupAccessKey(ctx, id)
		if errors.Is(err, keyring.ErrNotFound) {
			return nil, sigv4.ErrUnknownAccessKey
		}
		if err != nil {
			return nil, err
		}
		return &sigv4.Credential{AccessKeyID: id, Secret: secret, Principal: p, Disabled: !active}, nil
	}}
	return server.AuthenticatorFunc(v.Verify)
}

// refusal words an authentication failure for the client: sigv4's own
// message for a refusal, nothing of a storage failure's text.
func refusal(err error) (exception string, status int, message string) {
	exception, status = sigv4.ExceptionOf(err)
	var se *sigv4.Error
	if errors.As(err, &se) {
		return exception, status, se.Message
	}
	return exception, status, "internal error while authenticating the request"
}

func serverTLS(cert, key string) (*tls.Config, error) {
	if cert == "" && key == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, cli.Exit("kmsfs: --tls-cert and --tls-key go together", exitUsage)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

func serveLogger(json bool) *slog.Logger {
	if json {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// serveMetrics serves GET /metrics on addr; metrics hold no secrets.
func serveMetrics(addr string, m *server.Metrics, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
