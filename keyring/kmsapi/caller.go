package kmsapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kmsfs/kmsfs/keyring"
)

// peerUIDKey keys the peer uid that [ListenUnix] puts into each
// connection's context (http.Server.ConnContext).
type peerUIDKey struct{}

func withPeerUID(ctx context.Context, uid uint32) context.Context {
	return context.WithValue(ctx, peerUIDKey{}, uid)
}

// callerOf names the caller for the audit log: the principal's ARN when a
// transport in front of this handler authenticated one (SigV4), "uid:N" on
// the unix socket, where the kernel vouches for it, else "addr:" and the
// remote address.
func callerOf(r *http.Request) string {
	if p, ok := keyring.PrincipalFrom(r.Context()); ok && p.ARN != "" {
		return p.ARN
	}
	if uid, ok := r.Context().Value(peerUIDKey{}).(uint32); ok {
		return "uid:" + strconv.FormatUint(uint64(uid), 10)
	}
	return "addr:" + r.RemoteAddr
}

// withCaller hands the caller to the service for its audit log.
func withCaller(ctx context.Context, caller string) context.Context {
	return keyring.WithCaller(ctx, caller)
}
