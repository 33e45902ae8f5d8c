// Command kmsfs mounts directories with per-file envelope encryption and
// manages the master keys that protect them, as a local AWS-KMS-like service.
//
// This package only wires the command line: every behaviour lives in the
// packages it imports. Errors map to exit codes in one place, [exitCode].
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run())
}

// run is main without the exit, so tests can run the command in-process.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdin, os.Stdout, os.Stderr).RunContext(ctx, os.Args)
	stop()
	var reported reportedError
	if err != nil && !errors.As(err, &reported) {
		fmt.Fprintln(os.Stderr, "kmsfs:", oneLine(err))
	}
	return exitCode(err)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "kmsfs",
		Usage: "encrypted directories with per-file data keys, and the local KMS that holds their master keys",
		Description: `kmsfs encrypts every file under its own random data key (AES-256-GCM, in chunks);
the data key is wrapped by a versioned master key kept in a passphrase-sealed keyring.

Start:  kmsfs init ~/cipher && kmsfs mount ~/cipher ~/plain
Keys:   kmsfs key list; kmsfs key rotate alias/kmsfs`,
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Flags:                globalFlags(),
		ExitErrHandler:       func(*cli.Context, error) {}, // main prints and exits once
		Commands: []*cli.Command{
			initCommand(),
			mountCommand(),
			umountCommand(),
			extendKeyTypes(extendKey(keyCommand())),
			aliasCommand(),
			grantCommand(),
			accessKeyCommand(),
			encryptCommand(),
			signCommand(),
			verifyCommand(),
			macCommand(),
			decryptCommand(),
			keyringCommand(),
			auditCommand(),
			rewrapCommand(),
			fsckCommand(),
			rekeyCommand(),
			demoCommand(),
			benchCommand(),
			serveCommand(),
		},
		OnUsageError: onUsageError,
	}
	markUsageErrors(app.Commands)
	return app
}
