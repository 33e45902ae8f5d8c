package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/sigv4"
)

const (
	testID       = "AKIAIOSFODNN7EXAMPLE"
	testSecret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	disabledID   = "AKIADISABLED00000000"
	brokenID     = "AKIABROKENSTORAGE000"
	testRegion   = "us-east-1"
	testRemote   = "192.0.2.7:50123"
	testHost     = "kms.example:4566"
	encryptBody  = `{"KeyId": "alias/fs-master", "Plaintext": "aGVsbG8=", "EncryptionContext": {"path": "/a/b"}}`
	targetHeader = "TrentService.Encrypt"
)

var (
	signTime    = time.Date(2026, 11, 22, 12, 53, 55, 0, time.UTC)
	testUser    = keyring.Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333", UserName: "alice"}
	errStorage  = errors.New("storage is down")
	testKeyring = map[string]*sigv4.Credential{
		testID:     {AccessKeyID: testID, Secret: []byte(testSecret), Principal: testUser},
		disabledID: {AccessKeyID: disabledID, Secret: []byte(testSecret), Principal: testUser, Disabled: true},
	}
)

func lookup(_ context.Context, id string) (*sigv4.Credential, error) {
	if id == brokenID {
		return nil, errStorage
	}
	c, ok := testKeyring[id]
	if !ok {
		return nil, fmt.Errorf("key %s: %w", id, sigv4.ErrUnknownAccessKey)
	}
	return c, nil
}

func newVerifier(now time.Time) *sigv4.Verifier {
	return &sigv4.Verifier{Lookup: lookup, Service: "kms", Now: func() time.Time { return now }}
}

// signOpts says how the client signs.
type signOpts struct {
	id, secret, token, service, region string
	at                                 time.Time
	// payload is the payload hash signed; hex(SHA-256(body)) if empty.
	payload string
}

func defaultOpts() signOpts {
	return signOpts{id: testID, secret: testSecret, service: "kms", region: testRegion, at: signTime}
}

// signed returns a server-side request as net/http would hand it to a
// handler, after a client signed it with the SDK signer the way the Go SDK
// does (the transport then writes Content-Length from ContentLength).
func signed(t testing.TB, body []byte, o signOpts, edit func(*http.Request)) *http.Request {
	t.Helper()
	c, err := http.NewRequest(http.MethodPost, "http://"+testHost+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c.Header.Set("Content-Type", "application/x-amz-json-1.1")
	c.Header.Set("X-Amz-Target", targetHeader)
	c.Header.Set("User-Agent", "test-client/1.0")
	if edit != nil {
		edit(c)
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if o.payload != "" {
		payload = o.payload
	}
	creds := aws.Credentials{AccessKeyID: o.id, SecretAccessKey: o.secret, SessionToken: o.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, c, payload, o.service, o.region, o.at); err != nil {
		t.Fatal(err)
	}
	return toServer(c, body)
}

func toServer(c *http.Request, body []byte) *http.Request {
	s := httptest.NewRequest(c.Method, c.URL.RequestURI(), bytes.NewReader(body))
	s.Host = c.Host
	s.Header = c.Header.Clone()
	if c.ContentLength > 0 {
		s.Header.Set("Content-Length", strconv.FormatInt(c.ContentLength, 10))
	}
	s.RemoteAddr = testRemote
	return s
}

func TestVerifyRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	bodies := map[string][]byte{
		"empty":    nil,
		"json":     []byte(encryptBody),
		"binary":   []byte(`{"CiphertextBlob":"AQIDBAUG/+7d3Q==","KeyId":"1234abcd"}`),
		"64KiB":    big,
		"braces":   []byte("{}"),
		"newlines": []byte("{\n\"a\": \"b\"\n}\n"),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r := signed(t, body, defaultOpts(), nil)
			p, err := newVerifier(signTime).Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := testUser
			want.AccessKeyID, want.SourceIP, want.Region = testID, "192.0.2.7", testRegion
			if p != want {
				t.Fatalf("principal = %+v, want %+v", p, want)
			}
		})
	}
}

// TestVerifyTolerates covers requests that differ from the one signed only
// in ways SigV4 allows.
func TestVerifyTolerates(t *testing.T) {
	body := []byte(encryptBody)
	tests := []struct {
		name string
		sign func(*http.Request) // before signing, client side
		edit func(*http.Request) // after signing, server side
		now  time.Time
	}{
		{name: "proxy adds unsigned headers", edit: func(r *http.Request) {
			r.Header.Set("X-Forwarded-For", "198.51.100.1")
			r.Header.Add("Via", "1.1 proxy")
			r.Header.Set("User-Agent", "rewritten by proxy")
			r.Header.Set("X-Amzn-Trace-Id", "Root=1-2-3")
		}},
		{name: "signed header with repeated spaces", sign: func(r *http.Request) {
			r.Header.Set("X-Amz-Meta-Note", "  two   spaces  inside ")
		}},
		{name: "header with two values", sign: func(r *http.Request) {
			r.Header.Add("X-Amz-Meta-Multi", "a")
			r.Header.Add("X-Amz-Meta-Multi", "b")
		}},
		{name: "query string", sign: func(r *http.Request) {
			r.URL.RawQuery = "b=2&a=1&a=0&sp=x%20y"
		}},
		{name: "escaped path", sign: func(r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/a b/c%2Fd", "/a%20b/c%2Fd"
		}},
		{name: "ipv6 peer", edit: func(r *http.Request) { r.RemoteAddr = "[2001:db8::1]:443" }},
		{name: "skew just inside past", now: signTime.Add(15 * time.Minute)},
		{name: "skew just inside future", now: signTime.Add(-15 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(t, body, defaultOpts(), tt.sign)
			if tt.edit != nil {
				tt.edit(r)
			}
			now := tt.now
			if now.IsZero() {
				now = signTime
			}
			if _, err := newVerifier(now).Verify(r, body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	body := []byte(encryptBody)
	midnight := time.Date(2026, 11, 22, 23, 59, 30, 0, time.UTC)
	tests := []struct {
		name      string
		opts      func(*signOpts)
		edit      func(*http.Request)
		body      []byte // the body as received, if not the one signed
		verifier  func(*sigv4.Verifier)
		sentinel  error
		exception string
		msgPrefix string
	}{
		{name: "no authorization", edit: func(r *http.Request) { r.Header.Del("Authorization") },
			sentinel: sigv4.ErrMissingAuthentication, exception: "MissingAuthenticationTokenException",
			msgPrefix: "Missing Authentication Token"},
		{name: "garbage authorization", edit: setAuth(func(string) string { return "Bearer abc" }),
			sentinel: sigv4.ErrMalformedAuthorization, exception: "IncompleteSignatureException"},
		{name: "sigv2 style", edit: setAuth(func(string) string { return "AWS " + testID + ":c2lnbmF0dXJl" }),
			sentinel: sigv4.ErrMalformedAuthorization, exception: "IncompleteSignatureException"},
		{name: "missing SignedHeaders", edit: setAuth(func(a string) string {
			i, j := strings.Index(a, "SignedHeaders="), strings.Index(a, "Signature=")
			return a[:i] + a[j:]
		}), sentinel: sigv4.ErrMalformedAuthorization, exception: "IncompleteSignatureException"},
		{name: "missing Signature", edit: setAuth(func(a string) string { return a[:strings.Index(a, ", Signature=")] }),
			sentinel: sigv4.ErrMalformedAuthorization, exception: "IncompleteSignatureException"},
		{name: "two authorization headers", edit: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			sentinel: sigv4.ErrMalformedAuthorization, exception: "IncompleteSignatureException"},
		{name: "missing X-Amz-Date", edit: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			sentinel: sigv4.ErrMissingDate, exception: "IncompleteSignatureException"},
		{name: "malformed X-Amz-Date", edit: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-11-22T12:53:55Z") },
			sentinel: sigv4.ErrMissingDate, exception: "IncompleteSignatureException"},
		{name: "host not signed", edit: setAuth(func(a string) string { return strings.Replace(a, ";host;", ";", 1) }),
			sentinel: sigv4.ErrHostNotSigned, exception: "IncompleteSignatureException"},
		{name: "unknown access key", opts: func(o *signOpts) { o.id = "AKIAUNKNOWN000000000" },
			sentinel: sigv4.ErrUnknownAccessKey, exception: "UnrecognizedClientException",
			msgPrefix: "The security token included in the request is invalid."},
		{name: "disabled access key", opts: func(o *signOpts) { o.id = disabledID },
			sentinel: sigv4.ErrDisabledAccessKey, exception: "UnrecognizedClientException",
			msgPrefix: "The security token included in the request is invalid."},
		{name: "session token", opts: func(o *signOpts) { o.token = "FwoGZXIvYXdzEXAMPLE" },
			sentinel: sigv4.ErrSessionToken, exception: "UnrecognizedClientException",
			msgPrefix: "The security token included in the request is invalid."},
		{name: "wrong service", opts: func(o *signOpts) { o.service = "s3" },
			sentinel: sigv4.ErrCredentialScope, exception: "InvalidSignatureException",
			msgPrefix: "Credential should be scoped to correct service: 'kms'."},
		{name: "wrong region", opts: func(o *signOpts) { o.region = "eu-west-1" },
			verifier: func(v *sigv4.Verifier) { v.Region = testRegion },
			sentinel: sigv4.ErrCredentialScope, exception: "InvalidSignatureException",
			msgPrefix: "Credential should be scoped to a valid region."},
		{name: "wrong terminator", edit: setAuth(func(a string) string { return strings.Replace(a, "/aws4_request", "/aws5_request", 1) }),
			sentinel: sigv4.ErrCredentialScope, exception: "InvalidSignatureException"},
		{name: "scope date is not X-Amz-Date's",
			opts:     func(o *signOpts) { o.at = midnight },
			edit:     func(r *http.Request) { r.Header.Set("X-Amz-Date", "20261123T000100Z") },
			verifier: func(v *sigv4.Verifier) { v.Now = func() time.Time { return midnight } },
			sentinel: sigv4.ErrScopeDate, exception: "InvalidSignatureException",
			msgPrefix: "Date in Credential scope does not match YYYYMMDD"},
		{name: "signed 16 minutes ago", verifier: func(v *sigv4.Verifier) { v.Now = func() time.Time { return signTime.Add(16 * time.Minute) } },
			sentinel: sigv4.ErrSignatureExpired, exception: "InvalidSignatureException",
			msgPrefix: "Signature expired: 20261122T125355Z is now earlier than 20261122T125455Z (20261122T130955Z - 15 min.)"},
		{name: "signed 16 minutes ahead", verifier: func(v *sigv4.Verifier) { v.Now = func() time.Time { return signTime.Add(-16 * time.Minute) } },
			sentinel: sigv4.ErrSignatureExpired, exception: "InvalidSignatureException",
			msgPrefix: "Signature not yet current: 20261122T125355Z is still later than 20261122T125255Z (20261122T123755Z + 15 min.)"},
		{name: "replayed a day later", verifier: func(v *sigv4.Verifier) { v.Now = func() time.Time { return signTime.Add(24 * time.Hour) } },
			sentinel: sigv4.ErrSignatureExpired, exception: "InvalidSignatureException", msgPrefix: "Signature expired: "},
		{name: "wrong secret", opts: func(o *signOpts) { o.secret = strings.ToLower(testSecret) },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException",
			msgPrefix: "The request signature we calculated does not match"},
		{name: "tampered body", body: []byte(strings.Replace(encryptBody, "aGVsbG8=", "aGVsbG9=", 1)),
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "truncated body", body: []byte(encryptBody[:len(encryptBody)-1]),
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "tampered signed header", edit: func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.Decrypt") },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "signed header dropped", edit: func(r *http.Request) { r.Header.Del("Content-Type") },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "tampered host", edit: func(r *http.Request) { r.Host = "other.example:4566" },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "tampered query", edit: func(r *http.Request) { r.URL.RawQuery = "x=1" },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "tampered method", edit: func(r *http.Request) { r.Method = http.MethodPut },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "tampered X-Amz-Date", edit: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20261122T125356Z") },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "tampered signature", edit: setAuth(flipLastHex),
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "x-amz-date dropped from SignedHeaders", edit: setAuth(func(a string) string { return strings.Replace(a, ";x-amz-date", "", 1) }),
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "unsigned payload",
			opts:     func(o *signOpts) { o.payload = "UNSIGNED-PAYLOAD" },
			edit:     func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") },
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
		{name: "user-agent claimed signed", edit: setAuth(func(a string) string { return strings.Replace(a, ";x-amz-date", ";user-agent;x-amz-date", 1) }),
			sentinel: sigv4.ErrSignatureMismatch, exception: "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOpts()
			if tt.opts != nil {
				tt.opts(&o)
			}
			r := signed(t, body, o, nil)
			if tt.edit != nil {
				tt.edit(r)
			}
			v := newVerifier(signTime)
			if tt.verifier != nil {
				tt.verifier(v)
			}
			got := body
			if tt.body != nil {
				got = tt.body
			}
			sig := signatureOf(r.Header.Get("Authorization"))
			p, err := v.Verify(r, got)
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("Verify = %v, want %v", err, tt.sentinel)
			}
			if p != (keyring.Principal{}) {
				t.Errorf("refused request returned principal %+v", p)
			}
			name, status := sigv4.ExceptionOf(err)
			if name != tt.exception || status != http.StatusBadRequest {
				t.Errorf("ExceptionOf = %s %d, want %s 400", name, status, tt.exception)
			}
			var e *sigv4.Error
			if !errors.As(err, &e) {
				t.Fatalf("%v is not a *sigv4.Error", err)
			}
			if !strings.HasPrefix(e.Message, tt.msgPrefix) {
				t.Errorf("message %q, want prefix %q", e.Message, tt.msgPrefix)
			}
			for _, secret := range []string{testSecret, strings.ToLower(testSecret), sig} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a secret or the signature", err)
				}
			}
		})
	}
}

// TestVerifyConcurrent lets the race detector watch one Verifier serving
// many goroutines.
func TestVerifyConcurrent(t *testing.T) {
	body := []byte(encryptBody)
	v := newVerifier(signTime)
	var wg sync.WaitGroup
	for i := range 8 {
		r := signed(t, body, defaultOpts(), nil)
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(r, body); err != nil {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestVerifyLookupFailure(t *testing.T) {
	o := defaultOpts()
	o.id = brokenID
	_, err := newVerifier(signTime).Verify(signed(t, nil, o, nil), nil)
	if !errors.Is(err, errStorage) {
		t.Fatalf("Verify = %v, want the storage's error", err)
	}
	if name, status := sigv4.ExceptionOf(err); name != "KMSInternalException" || status != http.StatusInternalServerError {
		t.Fatalf("ExceptionOf = %s %d, want KMSInternalException 500", name, status)
	}
}

func TestExceptionOfNil(t *testing.T) {
	if name, status := sigv4.ExceptionOf(nil); name != "" || status != http.StatusOK {
		t.Fatalf("ExceptionOf(nil) = %q %d", name, status)
	}
}

func setAuth(f func(string) string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) }
}

func flipLastHex(a string) string {
	last := a[len(a)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return a[:len(a)-1] + string(repl)
}

func signatureOf(auth string) string {
	_, sig, _ := strings.Cut(auth, "Signature=")
	return sig
}

func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{256, 4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("body=%d", n), func(b *testing.B) {
			body := bytes.Repeat([]byte{'a'}, n)
			r := signed(b, body, defaultOpts(), nil)
			v := newVerifier(signTime)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTargetMustBeSigned: a request signed without its X-Amz-Target, the
// operation set afterwards (as someone on the path could), is refused
// instead of running an operation its signer never chose.
func TestTargetMustBeSigned(t *testing.T) {
	body := []byte(`{"KeyId":"alias/x"}`)
	r := signed(t, body, defaultOpts(), func(c *http.Request) { c.Header.Del("X-Amz-Target") })
	r.Header.Set("X-Amz-Target", "TrentService.Decrypt")
	_, err := newVerifier(signTime).Verify(r, body)
	if !errors.Is(err, sigv4.ErrTargetNotSigned) {
		t.Fatalf("Verify = %v, want ErrTargetNotSigned", err)
	}
	if name, status := sigv4.ExceptionOf(err); name != "IncompleteSignatureException" || status != http.StatusBadRequest {
		t.Errorf("exception %s %d", name, status)
	}
}
