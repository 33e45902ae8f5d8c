//go:build !linux

package kmsapi

import (
	"errors"
	"io/fs"
	"net"
)

// peerUID is only implemented on Linux (SO_PEERCRED); elsewhere every
// connection is refused rather than admitted unchecked.
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("kmsapi: peer credentials are not supported on this platform")
}

// fileOwner is only implemented on Linux, like peerUID; elsewhere [Dial]
// refuses every socket rather than trust one unchecked.
func fileOwner(fs.FileInfo) (uint32, bool) { return 0, false }
