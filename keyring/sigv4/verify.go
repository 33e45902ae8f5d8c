package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kmsfs/kmsfs/keyring"
)

// Defaults of [Verifier]'s zero fields.
const (
	// DefaultService is the signing name of AWS KMS.
	DefaultService = "kms"
	// DefaultMaxSkew is how far AWS lets X-Amz-Date stray from its clock.
	DefaultMaxSkew = 15 * time.Minute
)

// Credential is an access key as its storage holds it.
type Credential struct {
	AccessKeyID string
	// Secret is the secret access key. Verify does not keep or modify it.
	Secret []byte
	// Principal is who the key acts as; Verify fills in its AccessKeyID
	// and SourceIP.
	Principal keyring.Principal
	// Disabled keys are refused as unknown ones are.
	Disabled bool
}

// LookupFunc returns the access key with the given ID, or an error wrapping
// [ErrUnknownAccessKey] if there is none. Any other error is a failure of
// the storage and makes Verify fail with KMSInternalException.
type LookupFunc func(ctx context.Context, accessKeyID string) (*Credential, error)

// Verifier authenticates SigV4-signed requests. Its zero fields take the
// defaults; it is safe for concurrent use once set up.
type Verifier struct {
	// Lookup finds access keys; it is required.
	Lookup LookupFunc
	// Service is the signing name the credential scope must carry;
	// [DefaultService] if empty.
	Service string
	// Region, if set, is the only region the credential scope may carry;
	// if empty, any region verifies (the signature covers it either way).
	Region string
	// MaxSkew bounds |X-Amz-Date − Now()|; [DefaultMaxSkew] if zero.
	MaxSkew time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Verify authenticates r, whose body the caller has read into body, and
// returns the principal of the access key that signed it. It does not read
// r.Body. Refusals are [*Error] values (see [ExceptionOf]); a failed
// lookup is returned wrapped as it came.
func (v *Verifier) Verify(r *http.Request, body []byte) (keyring.Principal, error) {
	a, t, err := v.parse(r)
	if err != nil {
		return keyring.Principal{}, err
	}
	cred, err := v.lookup(r.Context(), a.accessKeyID)
	if err != nil {
		return keyring.Principal{}, err
	}
	want, err := resign(r, body, a, t, cred.Secret)
	if err != nil {
		return keyring.Principal{}, err
	}
	if want.signedHeaders != a.signedHeaders ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(a.signature)) != 1 {
		return keyring.Principal{}, refuse(ErrSignatureMismatch, ExceptionInvalidSignature, msgMismatch)
	}
	p := cred.Principal
	p.AccessKeyID = a.accessKeyID
	p.Region = a.region
	p.SourceIP = sourceIP(r.RemoteAddr)
	return p, nil
}

// parse runs every check that needs no secret, in the order AWS reports
// them: the header's shape, the date, the scope, the clock, the token.
func (v *Verifier) parse(r *http.Request) (authorization, time.Time, error) {
	hdr := r.Header.Values("Authorization")
	if len(hdr) == 0 || len(hdr) == 1 && hdr[0] == "" {
		return authorization{}, time.Time{}, refuse(ErrMissingAuthentication, ExceptionMissingAuthenticationToken, msgMissingToken)
	}
	a, ok := authorization{}, len(hdr) == 1
	if ok {
		a, ok = parseAuthorization(hdr[0])
	}
	if !ok {
		return a, time.Time{}, refuse(ErrMalformedAuthorization, ExceptionIncompleteSignature,
			"Authorization header requires 'AWS4-HMAC-SHA256' with 'Credential', 'SignedHeaders' and 'Signature' parameters, each once.")
	}
	if !a.signs("host") {
		return a, time.Time{}, refuse(ErrHostNotSigned, ExceptionIncompleteSignature,
			"'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if _, ok := r.Header["X-Amz-Target"]; ok && !a.signs("x-amz-target") {
		return a, time.Time{}, refuse(ErrTargetNotSigned, ExceptionIncompleteSignature,
			"'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
	}
	t, err := amzDate(r)
	if err != nil {
		return a, t, err
	}
	if err := v.checkScope(a, t); err != nil {
		return a, t, err
	}
	if err := v.checkSkew(t); err != nil {
		return a, t, err
	}
	if _, ok := r.Header[textproto.CanonicalMIMEHeaderKey("X-Amz-Security-Token")]; ok {
		return a, t, refuse(ErrSessionToken, ExceptionUnrecognizedClient, msgBadToken)
	}
	return a, t, nil
}

// amzDate parses X-Amz-Date. It must format back to itself, so that the
// signer, which writes the header anew from the time, signs the same text.
func amzDate(r *http.Request) (time.Time, error) {
	s := r.Header.Values("X-Amz-Date")
	if len(s) == 1 {
		t, err := time.Parse(amzDateLayout, s[0])
		if err == nil && t.Format(amzDateLayout) == s[0] {
			return t, nil
		}
	}
	return time.Time{}, refuse(ErrMissingDate, ExceptionIncompleteSignature,
		"Authorization header requires existence of a valid 'X-Amz-Date' header (yyyyMMdd'T'HHmmss'Z').")
}

func (v *Verifier) checkScope(a authorization, t time.Time) error {
	service := v.Service
	if service == "" {
		service = DefaultService
	}
	switch {
	case a.terminator != terminator:
		return refuse(ErrCredentialScope, ExceptionInvalidSignature,
			"Credential should be scoped with a valid terminator: 'aws4_request'.")
	case a.service != service:
		return refuse(ErrCredentialScope, ExceptionInvalidSignature,
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	case v.Region != "" && a.region != v.Region:
		return refuse(ErrCredentialScope, ExceptionInvalidSignature,
			"Credential should be scoped to a valid region.")
	}
	if d := t.Format(amzDateLayout)[:scopeDateLen]; a.date != d {
		return refuse(ErrScopeDate, ExceptionInvalidSignature, fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: %q != '%s', from '%s'.",
			a.date, d, t.Format(amzDateLayout)))
	}
	return nil
}

// checkSkew refuses a request signed too long ago (or a replay of one) or
// too far ahead, with AWS's wording of both.
func (v *Verifier) checkSkew(t time.Time) error {
	now, skew := time.Now, v.MaxSkew
	if v.Now != nil {
		now = v.Now
	}
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	n := now().UTC()
	f := func(t time.Time) string { return t.Format(amzDateLayout) }
	mins := strconv.FormatFloat(skew.Minutes(), 'f', -1, 64)
	if earliest := n.Add(-skew); t.Before(earliest) {
		return refuse(ErrSignatureExpired, ExceptionInvalidSignature, fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - %s min.)", f(t), f(earliest), f(n), mins))
	}
	if latest := n.Add(skew); t.After(latest) {
		return refuse(ErrSignatureExpired, ExceptionInvalidSignature, fmt.Sprintf(
			"Signature not yet current: %s is still later than %s (%s + %s min.)", f(t), f(latest), f(n), mins))
	}
	return nil
}

// lookup finds the key and refuses unknown and disabled ones alike.
func (v *Verifier) lookup(ctx context.Context, id string) (*Credential, error) {
	if v.Lookup == nil {
		panic("sigv4: internal error: Verifier.Lookup is nil")
	}
	cred, err := v.Lookup(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownAccessKey) || err == nil && cred == nil:
		return nil, refuse(ErrUnknownAccessKey, ExceptionUnrecognizedClient, msgBadToken)
	case err != nil:
		return nil, fmt.Errorf("sigv4: looking up access key %q: %w", id, err)
	case cred.Disabled:
		return nil, refuse(ErrDisabledAccessKey, ExceptionUnrecognizedClient, msgBadToken)
	}
	return cred, nil
}

// resign signs, with the SDK signer, a copy of r holding only the headers
// a names, and returns the Authorization header the signer wrote.
func resign(r *http.Request, body []byte, a authorization, t time.Time, secret []byte) (authorization, error) {
	c := &http.Request{
		Method: r.Method,
		// No scheme: the signer then keeps the Host's port as sent.
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: make(http.Header, len(a.headers)),
	}
	for _, h := range a.headers {
		switch h {
		case "host": // the signer takes it from c.Host
		case "content-length":
			// The signer signs c.ContentLength when > 0 and never the
			// header; leaving it 0 when unsigned keeps it out.
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil {
				n = r.ContentLength
			}
			c.ContentLength = n
		default:
			if vals := r.Header.Values(h); len(vals) > 0 {
				c.Header[textproto.CanonicalMIMEHeaderKey(h)] = append([]string(nil), vals...)
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.accessKeyID, SecretAccessKey: string(secret)}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, c, hex.EncodeToString(sum[:]), a.service, a.region, t)
	if err != nil {
		return authorization{}, fmt.Errorf("sigv4: re-signing the request: %w", err)
	}
	want, ok := parseAuthorization(c.Header.Get("Authorization"))
	if !ok {
		return authorization{}, errors.New("sigv4: internal error: the SDK signer wrote an unparsable header")
	}
	return want, nil
}

// sourceIP is aws:SourceIp: the peer address without its port.
func sourceIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
