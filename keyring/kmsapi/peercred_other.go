//go:build !linux

package kmsapi

import (
	"errors"
	"net"
)

// peerUID is only implemented on Linux (SO_PEERCRED); elsewhere every
// connection is refused rather than admitted unchecked.
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("kmsapi: peer credentials are not supported on this platform")
}
