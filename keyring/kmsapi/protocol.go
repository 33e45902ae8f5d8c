package kmsapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Protocol constants of the AWS KMS JSON 1.1 protocol
// (botocore's service model for KMS: "jsonVersion": "1.1", "targetPrefix":
// "TrentService", "protocol": "json").
const (
	contentType     = "application/x-amz-json-1.1"
	headerTarget    = "X-Amz-Target"
	headerRequestID = "X-Amzn-RequestId"
	headerErrorType = "X-Amzn-ErrorType"

	// trentPrefix is the AWS KMS target prefix; kmsfsPrefix marks the kmsfs
	// extensions, so that AWS SDKs never mistake them for AWS operations.
	trentPrefix = "TrentService."
	kmsfsPrefix = "KmsfsService."
)

// DefaultMaxBodyBytes bounds a request body when [HandlerOptions.MaxBodyBytes]
// is zero. The largest AWS KMS request (a 6144-byte ciphertext blob plus
// context) is far smaller.
const DefaultMaxBodyBytes = 1 << 20

// maxResponseBytes bounds a response body read by the [Client], so that a
// broken server cannot exhaust memory. A full ListKeys page is ~150 KiB.
const maxResponseBytes = 8 << 20

// Exception names this package emits itself, for requests that never reach
// the service. AWS uses the same names for the same failures.
const (
	typeUnknownOperation = "UnknownOperationException"
	typeSerialization    = "SerializationException"
	typeValidation       = "ValidationException"
)

// Errors of the transport itself; errors of the service arrive as
// [keyring.RemoteError] values wrapping keyring's sentinels.
var (
	// ErrNotRunning means nothing listens on the socket: it does not exist or
	// its server has gone. Callers may then open the keyring directly.
	ErrNotRunning = errors.New("kmsapi: no server is listening on the socket")
	// ErrSocketInUse means a live server already listens on the socket path.
	ErrSocketInUse = errors.New("kmsapi: socket is in use by a running server")
	// ErrProtocol means a response did not follow the KMS JSON protocol.
	ErrProtocol = errors.New("kmsapi: response does not follow the KMS JSON protocol")
	// ErrUntrustedServer means [Dial] refused a socket because it is not a
	// socket, is owned by neither this user nor root, or is served by a
	// process of another user: requests carry plaintext data keys and
	// passphrases, which only the keyring's owner (or root) may receive.
	ErrUntrustedServer = errors.New("kmsapi: the socket is not served by this user or root")
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// protocolError is a request the handler refuses before it reaches the
// service. Its message never quotes the request body.
type protocolError struct {
	status int
	typ    string
	msg    string
}

func (e *protocolError) Error() string { return "kmsapi: " + e.msg }

func unknownOperation(target string) error {
	const max = 64 // the target is echoed back; keep it short
	if len(target) > max {
		target = target[:max] + "…"
	}
	return &protocolError{http.StatusBadRequest, typeUnknownOperation,
		fmt.Sprintf("unknown operation %q", target)}
}

func serializationError(msg string) error {
	return &protocolError{http.StatusBadRequest, typeSerialization, msg}
}
