package kmsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/kmsfs/kmsfs/envelope"
)

// Sentinel errors. Remote failures also match one envelope class
// (see [Classify]).
var (
	// ErrTimeout reports a KMS call that did not finish within
	// Config.Timeout. It also matches envelope.ErrKeyUnavailable.
	ErrTimeout = errors.New("kmsclient: KMS call timed out")
	// ErrBlobTooLarge reports a KMS whose CiphertextBlob does not fit a
	// header slot (FORMAT.md §4.6).
	ErrBlobTooLarge = errors.New("kmsclient: KMS ciphertext blob too large for a header slot")
	// ErrBadKey reports a KMS key that cannot wrap data keys: not a
	// symmetric encryption key, or not enabled.
	ErrBadKey = errors.New("kmsclient: KMS key cannot wrap data keys")
	// ErrBadConfig reports an unusable Config.
	ErrBadConfig = errors.New("kmsclient: invalid configuration")
)

// Classify returns the envelope class of an error from a KMS call:
// envelope.ErrUnauthenticated for a blob that does not decrypt under its
// encryption context, envelope.ErrKeyDenied for a key that exists but may
// not be used (disabled, pending deletion, access denied),
// envelope.ErrKeyUnavailable for anything else the service or the
// network did, and nil for the caller's own cancellation.
func Classify(err error) error {
	var api smithy.APIError
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return envelope.ErrKeyUnavailable
	case !errors.As(err, &api):
		return envelope.ErrKeyUnavailable // transport: refused, reset, DNS, TLS
	}
	switch api.ErrorCode() {
	case "InvalidCiphertextException", "IncorrectKeyException":
		return envelope.ErrUnauthenticated
	case "DisabledException", "KMSInvalidStateException", "AccessDeniedException",
		"KeyUnavailableException", "InvalidGrantTokenException":
		return envelope.ErrKeyDenied
	}
	return envelope.ErrKeyUnavailable
}

// callError is a failed KMS call: the operation, the envelope class and
// the SDK's error, whose text names the AWS error code and message and
// never a key or a blob.
type callError struct {
	op    string
	class error
	err   error
}

func (e *callError) Error() string {
	return fmt.Sprintf("kmsclient: %s: %v: %v", e.op, e.class, e.err)
}

func (e *callError) Unwrap() []error { return []error{e.class, e.err} }

// wrapErr adds op and the envelope class to err. A deadline that the
// caller did not set is our per-call timeout: ErrTimeout.
func wrapErr(parent context.Context, op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		err = fmt.Errorf("%w (%w)", ErrTimeout, err)
	}
	class := Classify(err)
	if class == nil {
		return fmt.Errorf("kmsclient: %s: %w", op, err)
	}
	return &callError{op: op, class: class, err: err}
}
