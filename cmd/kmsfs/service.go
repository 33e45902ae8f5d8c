package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// Environment variables read by kmsfs.
const (
	envKeyring    = "KMSFS_KEYRING"
	envPassphrase = "KMSFS_PASSPHRASE"
)

// testOnlyKDF replaces the argon2id parameters of new keyrings in tests,
// which would otherwise spend seconds on each one.
var testOnlyKDF keyring.KDFParams

var errNoPassphrase = errors.New("no passphrase: use a terminal, --passfile FILE or " + envPassphrase)

// errEmptyPassphrase is an empty line given as the passphrase.
var errEmptyPassphrase = errors.New("empty passphrase")

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    "keyring",
			Usage:   "keyring directory",
			EnvVars: []string{envKeyring},
			Value:   defaultKeyringDir(),
		},
		&cli.StringFlag{
			Name:  "passfile",
			Usage: "read the keyring passphrase from the first line of `FILE`",
		},
		&cli.BoolFlag{
			Name:  "json",
			Usage: "print results as AWS KMS JSON response shapes",
		},
	}
}

// defaultKeyringDir follows the XDG base directory spec.
func defaultKeyringDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "kmsfs", "keyring")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".kmsfs", "keyring")
	}
	return filepath.Join(home, ".local", "share", "kmsfs", "keyring")
}

// service is a keyring.Service with the means to release it.
type service struct {
	keyring.Service
	close func() error
	// local is set when this process opened the Badger keyring itself.
	local *local.Keyring
}

func (s *service) Close() error { return s.close() }

// openService reaches the keyring: through a running mount's socket when
// there is one (the mount owns the Badger directory), else by opening it.
// With create, a missing keyring is created, asking for a new passphrase.
func openService(c *cli.Context, create bool) (*service, error) {
	dir := c.String("keyring")
	if client, err := kmsapi.Dial(kmsapi.SocketPath(dir)); err == nil {
		return &service{Service: client, close: client.Close}, nil
	}
	return openLocal(c, create)
}

// openLocal opens the Badger keyring in this process.
func openLocal(c *cli.Context, create bool) (*service, error) {
	dir := c.String("keyring")
	exists := keyringExists(dir)
	if !exists && !create {
		return nil, fmt.Errorf("%s: %w (run kmsfs init)", dir, keyring.ErrNotFound)
	}
	pass, err := passphrase(c, !exists)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	if !exists {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, err
		}
	}
	kr, err := openRetrying(dir, pass, local.Options{Create: !exists, KDF: testOnlyKDF})
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", dir, err)
	}
	return &service{Service: kr, close: kr.Close, local: kr}, nil
}

// lockWait bounds how long a command waits for a keyring that another
// process holds: a mount that is unmounting removes its socket a moment
// before it closes the keyring.
const lockWait = 5 * time.Second

// openRetrying opens the keyring, waiting while another process that is
// not serving a socket (one about to exit) still holds it.
func openRetrying(dir string, pass []byte, opts local.Options) (*local.Keyring, error) {
	deadline := time.Now().Add(lockWait)
	for {
		kr, err := local.Open(dir, pass, opts)
		if !errors.Is(err, keyring.ErrLocked) || time.Now().After(deadline) {
			return kr, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keyringExists(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) > 0
}

// passphrase reads the keyring passphrase from --passfile, the environment
// or a no-echo prompt, in that order. A new keyring's passphrase is asked
// twice at a prompt.
func passphrase(c *cli.Context, confirm bool) ([]byte, error) {
	if f := c.String("passfile"); f != "" {
		return readPassfile(f)
	}
	if p, ok := os.LookupEnv(envPassphrase); ok {
		return nonEmpty([]byte(p))
	}
	return promptPassphrase(confirm)
}

// readPassfile returns the first line of a passphrase file.
func readPassfile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("passfile: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	out := bytes.Clone(line)
	clear(b)
	return nonEmpty(out)
}

func nonEmpty(p []byte) ([]byte, error) {
	if len(p) == 0 {
		return nil, errEmptyPassphrase
	}
	return p, nil
}

func promptPassphrase(confirm bool) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, errNoPassphrase
	}
	defer tty.Close()
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		p, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return p, err
	}
	p, err := ask("Keyring passphrase: ")
	if err != nil || !confirm {
		if err == nil {
			return nonEmpty(p)
		}
		return nil, err
	}
	again, err := ask("Repeat passphrase: ")
	if err != nil {
		return nil, err
	}
	defer clear(again)
	if !bytes.Equal(p, again) {
		clear(p)
		return nil, errors.New("passphrases do not match")
	}
	return nonEmpty(p)
}

// contextPairs parses repeated --context k=v flags.
func contextPairs(c *cli.Context) (map[string]string, error) {
	kvs := c.StringSlice("context")
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Sprintf("--context %q: want key=value", kv)}
		}
		m[k] = v
	}
	return m, nil
}
