package deps

import (
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/google/uuid"
	_ "github.com/hanwen/go-fuse/v2/fs"
	_ "github.com/hanwen/go-fuse/v2/posixtest"
	_ "github.com/rfjakob/eme"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
