package kmsapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/keyring"
)

// HandlerOptions tunes [NewHandler]. The zero value is ready to use.
type HandlerOptions struct {
	// MaxBodyBytes bounds a request body; larger requests get 413. Zero
	// means [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Logger, if set, receives server-side failures (HTTP 500), whose
	// details a client may not act on. Nil discards them.
	Logger *slog.Logger
}

// endpoint decodes one operation's input from body, calls the service and
// returns the output to encode, and wipe (never nil), which clears the
// secrets of the decoded input and of the output once the response is
// written.
type endpoint func(ctx context.Context, body []byte) (out any, wipe func(), err error)

type handler struct {
	ops     map[string]endpoint
	maxBody int64
	log     *slog.Logger
}

// NewHandler serves svc over the AWS KMS JSON protocol (see the package
// documentation for the wire format).
//
// The handler does not authenticate callers: it relies on [ListenUnix]'s
// peer-uid check. Serving it over TCP, as tests do, gives every client that
// can connect full control of the keys, so do that on loopback in tests only
// until SigV4 verification exists.
func NewHandler(svc keyring.Service, opts HandlerOptions) http.Handler {
	h := &handler{ops: operations(svc), maxBody: opts.MaxBodyBytes, log: opts.Logger}
	maps.Copy(h.ops, versionOps(svc))
	maps.Copy(h.ops, backupOps(svc))
	maps.Copy(h.ops, auditOps(svc))
	maps.Copy(h.ops, randomOps(svc))
	maps.Copy(h.ops, recordOps(svc))
	maps.Copy(h.ops, keyTypeOps(svc))
	maps.Copy(h.ops, customKeyStoreOps(h.ops)) // last: it wraps CreateKey and GenerateRandom
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	return h
}

// operations is the dispatch table: one entry per X-Amz-Target.
func operations(svc keyring.Service) map[string]endpoint {
	return map[string]endpoint{
		trentPrefix + "Encrypt":                         wipingOp(svc.Encrypt, wipeEncrypt),
		trentPrefix + "Decrypt":                         wipingOp(svc.Decrypt, wipeDecrypt),
		trentPrefix + "ReEncrypt":                       op(svc.ReEncrypt),
		trentPrefix + "GenerateDataKey":                 wipingOp(svc.GenerateDataKey, wipeGenerateDataKey),
		trentPrefix + "GenerateDataKeyWithoutPlaintext": op(svc.GenerateDataKeyWithoutPlaintext),
		trentPrefix + "CreateKey":                       op(svc.CreateKey),
		trentPrefix + "DescribeKey":                     op(svc.DescribeKey),
		trentPrefix + "ListKeys":                        op(svc.ListKeys),
		trentPrefix + "EnableKey":                       voidOp(svc.EnableKey),
		trentPrefix + "DisableKey":                      voidOp(svc.DisableKey),
		trentPrefix + "EnableKeyRotation":               voidOp(svc.EnableKeyRotation),
		trentPrefix + "DisableKeyRotation":              voidOp(svc.DisableKeyRotation),
		trentPrefix + "GetKeyRotationStatus":            op(svc.GetKeyRotationStatus),
		trentPrefix + "RotateKeyOnDemand":               op(svc.RotateKeyOnDemand),
		trentPrefix + "ListKeyRotations":                op(svc.ListKeyRotations),
		trentPrefix + "ScheduleKeyDeletion":             op(svc.ScheduleKeyDeletion),
		trentPrefix + "CancelKeyDeletion":               op(svc.CancelKeyDeletion),
		trentPrefix + "CreateAlias":                     voidOp(svc.CreateAlias),
		trentPrefix + "UpdateAlias":                     voidOp(svc.UpdateAlias),
		trentPrefix + "DeleteAlias":                     voidOp(svc.DeleteAlias),
		trentPrefix + "ListAliases":                     op(svc.ListAliases),
		kmsfsPrefix + "WrapDEK":                         wipingOp(svc.WrapDEK, wipeWrapDEK),
		kmsfsPrefix + "UnwrapDEK":                       wipingOp(svc.UnwrapDEK, wipeUnwrapDEK),
		kmsfsPrefix + "Ping":                            op(ping),
	}
}

// op adapts one service method whose input and output hold no secrets to
// an endpoint.
func op[In, Out any](f func(context.Context, *In) (*Out, error)) endpoint {
	return wipingOp(f, nil)
}

// wipingOp adapts one service method to an endpoint whose wipe calls
// wipe(in, out) (if not nil; out may be nil) on the decoded input and the
// output, after the response is written.
func wipingOp[In, Out any](f func(context.Context, *In) (*Out, error), wipe func(*In, *Out)) endpoint {
	return func(ctx context.Context, body []byte) (any, func(), error) {
		in := new(In)
		var out *Out
		done := func() {
			if wipe != nil {
				wipe(in, out)
			}
		}
		if err := decodeRequest(body, in); err != nil {
			return nil, done, err // a failed decode may have filled members
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, done, err
		}
		if out == nil {
			return nil, done, fmt.Errorf("kmsapi: service returned no output: %w", keyring.ErrInternal)
		}
		return out, done, nil
	}
}

// voidOp adapts a method without output; its response body is `{}`.
func voidOp[In any](f func(context.Context, *In) error) endpoint {
	return op(func(ctx context.Context, in *In) (*struct{}, error) {
		return &struct{}{}, f(ctx, in)
	})
}

// ping lets [Dial] check that a server answers without touching the keyring.
func ping(context.Context, *struct{}) (*struct{}, error) { return &struct{}{}, nil }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := uuid.NewString()
	w.Header().Set(headerRequestID, id)
	out, wipe, err := h.serve(w, r)
	defer wipe()
	if err != nil {
		h.writeError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// serve runs the request's operation; wipe is never nil.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) (out any, wipe func(), err error) {
	noop := func() {}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, noop, &protocolError{http.StatusBadRequest, typeUnknownOperation, "only POST / is served"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != contentType {
		return nil, noop, serializationError("Content-Type must be " + contentType)
	}
	target := r.Header.Get(headerTarget)
	ep, ok := h.ops[target]
	if !ok {
		return nil, noop, unknownOperation(target)
	}
	body, err := readBody(w, r, h.bodyLimit(target))
	defer clear(body)
	if err != nil {
		return nil, noop, err
	}
	return ep(withCaller(r.Context(), callerOf(r)), body)
}

// readBody reads at most max bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	tooLarge := &protocolError{http.StatusRequestEntityTooLarge, typeValidation,
		"request body exceeds " + strconv.FormatInt(max, 10) + " bytes"}
	if r.ContentLength > max {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return b, tooLarge
	case err != nil:
		return b, serializationError("reading the request body failed")
	}
	return b, nil
}

// decodeRequest decodes a request body; an empty body is an empty input.
// Unknown members are ignored, as AWS SDKs send members we do not model.
func decodeRequest(body []byte, in any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, in); err != nil {
		return serializationError(describeJSONError(err))
	}
	return nil
}

// describeJSONError says what is wrong with a JSON document without quoting
// it: json's own messages may echo bytes of a plaintext.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &syn):
		return "invalid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ) && typ.Field != "":
		return "member " + strconv.Quote(typ.Field) + " has the wrong JSON type"
	case errors.As(err, &typ):
		return "body has the wrong JSON type"
	case errors.As(err, &b64):
		return "invalid base64 in a blob at byte " + strconv.FormatInt(int64(b64), 10)
	default:
		return "malformed JSON"
	}
}

// writeError sends err as {"__type","message"}. Service errors keep their
// message: keyring errors never hold secrets.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, id string, err error) {
	status, body := errorResponse(err)
	if status >= http.StatusInternalServerError && h.log != nil {
		h.log.Error("kmsapi: request failed", "target", r.Header.Get(headerTarget),
			"request_id", id, "caller", callerOf(r), "err", err)
	}
	writeJSON(w, status, body)
}

func errorResponse(err error) (status int, body errorBody) {
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe.status, errorBody{Type: pe.typ, Message: pe.Error()}
	}
	name, client := keyring.ErrorType(err)
	status = http.StatusInternalServerError
	if client {
		status = http.StatusBadRequest
	}
	return status, errorBody{Type: name, Message: err.Error()}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	defer clear(b)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"__type":"KMSInternalException","message":"kmsapi: encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client has gone; nothing left to tell it
}
