// Package server is the network transport of a kmsfs key service: it serves
// a KMS protocol handler (package kmsapi) over TCP, as `kmsfs serve` does.
//
// It owns what happens between the socket and the protocol handler: TLS,
// the refusal to serve plain HTTP beyond loopback, header and body
// timeouts, the body limit, authenticating every request before the handler
// sees it (an [Authenticator], SigV4 in practice: package sigv4), putting
// the authenticated [keyring.Principal] into the request's context, one
// access-log line per request, Prometheus metrics, a readiness answer on
// GET /healthz, and graceful shutdown.
//
// It refuses everything else: it does not parse KMS operations beyond
// reading the KeyId member for the access log, does not decide who may use
// which key (the key service asks a [keyring.Authorizer] for that), and
// does not keep keys.
package server
