package sigv4

import (
	"errors"
	"net/http"
)

// AWS exception names of the refusals, as sent in the "__type" field of a
// JSON-protocol error body.
const (
	ExceptionMissingAuthenticationToken = "MissingAuthenticationTokenException"
	ExceptionIncompleteSignature        = "IncompleteSignatureException"
	ExceptionUnrecognizedClient         = "UnrecognizedClientException"
	ExceptionInvalidSignature           = "InvalidSignatureException"
	// ExceptionInternal is KMS's name for a failure of the service itself,
	// here a [LookupFunc] that failed for another reason than an unknown key.
	ExceptionInternal = "KMSInternalException"
)

// Sentinels of the refusals; every error of [Verifier.Verify] except a
// failed lookup is an [*Error] wrapping one of them.
var (
	// ErrMissingAuthentication: the request has no Authorization header.
	ErrMissingAuthentication = errors.New("sigv4: missing authentication token")
	// ErrMalformedAuthorization: the Authorization header is not a SigV4
	// header (wrong algorithm, missing or repeated Credential,
	// SignedHeaders or Signature, a bad credential or signature).
	ErrMalformedAuthorization = errors.New("sigv4: malformed authorization header")
	// ErrHostNotSigned: "host" is not among the SignedHeaders.
	ErrHostNotSigned = errors.New("sigv4: host header is not signed")
	// ErrTargetNotSigned: the request names an operation (X-Amz-Target)
	// that is not among the SignedHeaders, so someone on the path could
	// have changed it.
	ErrTargetNotSigned = errors.New("sigv4: X-Amz-Target header is not signed")
	// ErrMissingDate: X-Amz-Date is absent or not in ISO 8601 basic format.
	ErrMissingDate = errors.New("sigv4: missing or malformed X-Amz-Date")
	// ErrCredentialScope: the credential scope names another service, a
	// region not accepted, or a terminator other than aws4_request.
	ErrCredentialScope = errors.New("sigv4: wrong credential scope")
	// ErrScopeDate: the credential scope's date is not X-Amz-Date's date.
	ErrScopeDate = errors.New("sigv4: credential scope date does not match X-Amz-Date")
	// ErrSignatureExpired: X-Amz-Date is further than the allowed skew from
	// the server's clock, in either direction (a replay outside the window
	// is refused the same way).
	ErrSignatureExpired = errors.New("sigv4: signature expired or not yet current")
	// ErrSessionToken: the request carries X-Amz-Security-Token; kmsfs
	// access keys have no session tokens.
	ErrSessionToken = errors.New("sigv4: session tokens are not accepted")
	// ErrUnknownAccessKey: no access key has the request's ID. A
	// [LookupFunc] returns it (possibly wrapped) for an absent key.
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")
	// ErrDisabledAccessKey: the access key exists but is disabled.
	ErrDisabledAccessKey = errors.New("sigv4: access key is disabled")
	// ErrSignatureMismatch: the signature does not match the request (a
	// wrong secret, or a body, signed header, query or signature changed
	// after signing).
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
)

// AWS's wording of the messages that take no argument.
const (
	msgMissingToken = "Missing Authentication Token"
	msgBadToken     = "The security token included in the request is invalid."
	msgMismatch     = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Error is a refused request: the AWS exception name and HTTP status to
// answer with, and a message safe to send to the client (it never holds
// the secret or the signature).
type Error struct {
	// Exception is the AWS exception name, for the "__type" field.
	Exception string
	// Status is the HTTP status AWS answers with.
	Status int
	// Message is the client-facing text, for the "message" field.
	Message string
	err     error
}

// Error returns the sentinel's text and the client-facing message.
func (e *Error) Error() string { return e.err.Error() + ": " + e.Message }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.err }

func refuse(sentinel error, exception, msg string) *Error {
	return &Error{Exception: exception, Status: http.StatusBadRequest, Message: msg, err: sentinel}
}

// ExceptionOf maps an error of [Verifier.Verify] to the AWS exception name
// and HTTP status a transport answers with. An error that is not an
// [*Error] (a failed lookup) is an internal failure: KMSInternalException,
// 500. A nil error gives "" and 200.
func ExceptionOf(err error) (name string, status int) {
	if err == nil {
		return "", http.StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Exception, e.Status
	}
	return ExceptionInternal, http.StatusInternalServerError
}
