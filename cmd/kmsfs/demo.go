package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
)

// demoPassphrase protects the throwaway keyring of `kmsfs demo` unless
// KMSFS_PASSPHRASE is set. It is printed, so it protects nothing: the demo
// shows the mechanics, a real keyring gets a real passphrase.
const demoPassphrase = "kmsfs-demo"

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "mount a throwaway encrypted directory and show plaintext beside its ciphertext",
		UsageText: `kmsfs demo [--keep] [--dir DIR]

Creates DIR (default: a new temporary directory) holding a keyring, a
CIPHERDIR and a MOUNTPOINT; initialises and mounts it for real (FUSE), writes
a file through the mount and shows it decrypted and as ciphertext.

Example: kmsfs demo --keep`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "keep", Usage: "stay mounted until Ctrl-C"},
			&cli.StringFlag{Name: "dir", Usage: "where to create the demo (must not exist)"},
		},
		Action: demoAction,
	}
}

func demoAction(c *cli.Context) error {
	base, err := demoDir(c.String("dir"))
	if err != nil {
		return err
	}
	w := c.App.Writer
	keyringDir := filepath.Join(base, "keyring")
	cipher, plain := filepath.Join(base, "cipher"), filepath.Join(base, "plain")
	passfile := filepath.Join(base, "passphrase")
	pass := demoPassphrase
	if p, ok := os.LookupEnv(envPassphrase); ok {
		pass = p
	} else {
		fmt.Fprintf(w, "demo keyring passphrase: %q (set %s to choose one)\n", pass, envPassphrase)
	}
	if err := os.WriteFile(passfile, []byte(pass+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(plain, 0o700); err != nil {
		return err
	}
	run := func(args ...string) error {
		full := append([]string{"kmsfs", "--keyring", keyringDir, "--passfile", passfile}, args...)
		return newApp(c.App.Reader, w, c.App.ErrWriter).RunContext(c.Context, full)
	}
	fmt.Fprintf(w, "$ kmsfs init %s\n", cipher)
	if err := run("init", cipher); err != nil {
		return err
	}
	fmt.Fprintf(w, "$ kmsfs mount %s %s\n", cipher, plain)
	if err := run("mount", cipher, plain); err != nil {
		return err
	}
	showErr := demoShow(w, cipher, plain)
	if showErr == nil && c.Bool("keep") {
		fmt.Fprintf(w, "\nmounted at %s; press Ctrl-C to unmount\n", plain)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		select {
		case <-sig:
		case <-c.Context.Done():
		}
	}
	fmt.Fprintf(w, "$ kmsfs umount %s\n", plain)
	if err := run("umount", plain); err != nil {
		return err
	}
	fmt.Fprintf(w, "demo files left in %s\n", base)
	return showErr
}

func demoDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "kmsfs-demo-")
	}
	return dir, os.Mkdir(dir, 0o700)
}

// demoShow writes a file through the mount and prints both views of it.
func demoShow(w io.Writer, cipher, plain string) error {
	msg := []byte("Hello from kmsfs: this sentence is stored only as ciphertext.\n")
	name := "hello.txt"
	fmt.Fprintf(w, "$ echo %q > %s\n", string(bytes.TrimSpace(msg)), filepath.Join(plain, name))
	if err := os.WriteFile(filepath.Join(plain, name), msg, 0o644); err != nil {
		return err
	}
	got, err := os.ReadFile(filepath.Join(plain, name))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "$ cat %s\n%s", filepath.Join(plain, name), got)
	backing, err := backingFile(cipher, filepath.Join(plain, name))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "$ ls %s   (names are encrypted too)\n", cipher)
	if ents, err := os.ReadDir(cipher); err == nil {
		for _, e := range ents {
			fmt.Fprintf(w, "%s\n", e.Name())
		}
	}
	raw, err := os.ReadFile(backing)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "$ hexdump %s   (%s: %d bytes of ciphertext for %d of plaintext)\n%s",
		backing, name, len(raw), len(msg), hex.Dump(raw[:min(len(raw), 160)]))
	if bytes.Contains(raw, msg[:16]) {
		return fmt.Errorf("demo: plaintext found in %s", backing)
	}
	fmt.Fprintln(w, "the plaintext does not appear anywhere in the ciphertext file.")
	return nil
}

// backingFile returns the file in cipher that holds the mounted file
// plainPath. Names in cipher are encrypted, so it is found by inode
// number: the mount reports the backing file's.
func backingFile(cipher, plainPath string) (string, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(plainPath, &want); err != nil {
		return "", err
	}
	found := ""
	err := filepath.WalkDir(cipher, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return err
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && st.Ino == want.Ino {
			found = p
		}
		return nil
	})
	if err == nil && found == "" {
		err = fmt.Errorf("demo: no file in %s has the inode of %s", cipher, plainPath)
	}
	return found, err
}
