package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

func cryptFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "context", Usage: "encryption context `key=value` (repeatable); decrypt needs the same pairs"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (atomically, only if the whole input succeeded) instead of stdout"},
	}
}

func encryptCommand() *cli.Command {
	return &cli.Command{
		Name:  "encrypt",
		Usage: "encrypt a file or stdin of any size into the kmsfs envelope format",
		UsageText: `kmsfs encrypt [--key KEY] [--context k=v]... [-o OUT] [IN]

Example: kmsfs encrypt --context app=backup -o db.kmsfs db.sqlite`,
		Flags: append(cryptFlags(),
			&cli.StringFlag{Name: "key", Usage: "master key (ID, ARN or alias)", Value: defaultAlias},
			&cli.IntFlag{Name: "chunk-size", Usage: "plaintext bytes per chunk (the default is kmsfs init's, so output can be placed in a new volume)", Value: volume.DefaultChunkSize},
		),
		Action: func(c *cli.Context) error {
			return cryptAction(c, func(ks envelope.KeyService, in io.Reader, out io.Writer) error {
				return encryptStream(c.Context, ks, in, out, c.Int("chunk-size"))
			})
		},
	}
}

func decryptCommand() *cli.Command {
	return &cli.Command{
		Name:  "decrypt",
		Usage: "decrypt a kmsfs envelope file or stdin; the key is named in its header",
		UsageText: `kmsfs decrypt [--context k=v]... [-o OUT] [IN]

Example: kmsfs decrypt --context app=backup -o db.sqlite db.kmsfs`,
		Flags: cryptFlags(),
		Action: func(c *cli.Context) error {
			return cryptAction(c, func(ks envelope.KeyService, in io.Reader, out io.Writer) error {
				r, err := envelope.NewStreamReader(c.Context, in, ks)
				if err != nil {
					return err
				}
				defer r.Close() // wipes the keys if the copy stops early
				if _, err := io.Copy(out, r); err != nil {
					return err
				}
				if !r.Protected() {
					fmt.Fprintln(c.App.ErrWriter, "kmsfs: warning: this input has no truncation protection (stream format 1, written through a pipe "+
						"by kmsfs encrypt before stream format 2): a copy cut at a chunk boundary would have decrypted to a shorter plaintext "+
						"without error; re-encrypt it to get the protection")
				}
				return nil
			})
		},
	}
}

// encryptStream encrypts in into out (FORMAT.md §16.2): into a regular
// file (an io.WriterAt, see streamOnly) as a file of the file format whose
// size floor, committed on Close, covers every byte, so that the mount
// can open it too; into anything else (a pipe) in stream format 2, whose
// final chunk is marked. Either way every truncation fails to decrypt.
// If in or out fails part way, the stream is aborted, not closed: closing
// would seal the buffered tail as the last chunk and commit the floor,
// making a cut input look like a complete ciphertext.
func encryptStream(ctx context.Context, ks envelope.KeyWrapper, in io.Reader, out io.Writer, chunkSize int) error {
	newWriter := envelope.NewStreamWriter
	if _, ok := out.(io.WriterAt); ok {
		newWriter = envelope.NewWriter
	}
	w, err := newWriter(ctx, out, ks, chunkSize)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// cryptAction opens input, output and keys around a streaming transform.
func cryptAction(c *cli.Context, transform func(ks envelope.KeyService, in io.Reader, out io.Writer) error) error {
	if c.NArg() > 1 {
		return usageError{"want at most one input file"}
	}
	ec, err := contextPairs(c)
	if err != nil {
		return err
	}
	var in io.Reader = c.App.Reader
	if name := c.Args().First(); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	svc, err := openService(c, false)
	if err != nil {
		return err
	}
	defer svc.Close()
	aad, err := keyring.EncodeContext(ec)
	if err != nil {
		return usageError{err.Error()}
	}
	ks := contextKeys{KeyService: keyring.NewKeyService(svc, c.String("key")), aad: aad}
	out := c.String("output")
	if out == "" || out == "-" {
		return transform(ks, in, streamOnly(c.App.Writer))
	}
	// All or nothing: a failure never leaves a partial or unverified file.
	return fsutil.Replace(out, 0o600, "", func(w *os.File) error { return transform(ks, in, w) })
}

// contextKeys binds an encryption context into every data key wrap, so a
// file encrypted with --context decrypts only with the same pairs.
type contextKeys struct {
	envelope.KeyService
	aad []byte
}

func (k contextKeys) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	return k.KeyService.WrapKey(ctx, dek, k.bind(aad))
}

func (k contextKeys) UnwrapKey(ctx context.Context, ref envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	return k.KeyService.UnwrapKey(ctx, ref, wrapped, k.bind(aad))
}

func (k contextKeys) bind(aad []byte) []byte {
	out := make([]byte, 0, len(aad)+len(k.aad))
	return append(append(out, aad...), k.aad...)
}

// streamOnly hides io.WriterAt from outputs where the envelope writer
// could not write its size floor into the header it wrote: anything but a
// regular file positioned at offset 0 and not in append mode (pipes,
// terminals, `>>`, a descriptor someone wrote to first). There it streams,
// and the floor stays 0.
func streamOnly(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && atStartOfRegularFile(f) {
		return f
	}
	return struct{ io.Writer }{w}
}

// atStartOfRegularFile reports whether f is a regular file at offset 0,
// opened without O_APPEND (with which WriteAt fails).
func atStartOfRegularFile(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	flags, ferr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil || ferr != nil {
		return false
	}
	return flags&unix.O_APPEND == 0
}
