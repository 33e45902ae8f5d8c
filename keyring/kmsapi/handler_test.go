package kmsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

const jsonType = "application/x-amz-json-1.1"

// newHTTPClient serves svc on loopback TCP and returns a client for it.
func newHTTPClient(t *testing.T, svc keyring.Service, opts kmsapi.HandlerOptions) (*kmsapi.Client, string) {
	t.Helper()
	srv := httptest.NewServer(kmsapi.NewHandler(svc, opts))
	t.Cleanup(srv.Close)
	c := kmsapi.NewClient(srv.URL, srv.Client())
	t.Cleanup(func() { c.Close() })
	return c, srv.URL
}

// rawResponse is what a raw HTTP exchange returned.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// rawPost sends one request by hand; chunked hides the body's length.
func rawPost(t *testing.T, url, method, ctype, target string, body []byte, chunked bool) rawResponse {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: sent chunked
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// checkCommonHeaders asserts what every response carries.
func checkCommonHeaders(t *testing.T, r rawResponse) {
	t.Helper()
	if got := r.header.Get("Content-Type"); got != jsonType {
		t.Errorf("Content-Type = %q, want %q", got, jsonType)
	}
	if _, err := uuid.Parse(r.header.Get("X-Amzn-RequestId")); err != nil {
		t.Errorf("x-amzn-RequestId = %q: %v", r.header.Get("X-Amzn-RequestId"), err)
	}
}

// errorFields decodes an error body and checks it has exactly __type and
// message.
func errorFields(t *testing.T, body []byte) (typ, msg string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"__type", "message"}) {
		t.Fatalf("error body %s has members %v, want [__type message]", body, keys)
	}
	typ, _ = m["__type"].(string)
	msg, _ = m["message"].(string)
	return typ, msg
}

func TestCasesCoverService(t *testing.T) {
	var want []string
	st := reflect.TypeFor[keyring.Service]()
	for i := range st.NumMethod() {
		want = append(want, st.Method(i).Name)
	}
	var got []string
	for _, c := range opCases() {
		got = append(got, c.name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("cases cover %v,\nService has %v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			f := fakeWithOutputs()
			cl, _ := newHTTPClient(t, f, kmsapi.HandlerOptions{})
			got, err := c.call(t.Context(), cl)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if in := f.input(c.name); !reflect.DeepEqual(in, c.in) {
				t.Errorf("service got input\n%#v\nwant\n%#v", in, c.in)
			}
			if !reflect.DeepEqual(got, c.out) {
				t.Errorf("client got output\n%#v\nwant\n%#v", got, c.out)
			}
		})
	}
}

// sentinelCases lists every keyring sentinel with what must arrive.
var sentinelCases = []struct {
	err    error
	typ    string
	status int
	is     error // the sentinel the client sees
}{
	{keyring.ErrNotFound, "NotFoundException", 400, keyring.ErrNotFound},
	{keyring.ErrDisabled, "DisabledException", 400, keyring.ErrDisabled},
	{keyring.ErrInvalidState, "KMSInvalidStateException", 400, keyring.ErrInvalidState},
	{keyring.ErrInvalidCiphertext, "InvalidCiphertextException", 400, keyring.ErrInvalidCiphertext},
	{keyring.ErrIncorrectKey, "IncorrectKeyException", 400, keyring.ErrIncorrectKey},
	{keyring.ErrAlreadyExists, "AlreadyExistsException", 400, keyring.ErrAlreadyExists},
	{keyring.ErrInvalidAliasName, "InvalidAliasNameException", 400, keyring.ErrInvalidAliasName},
	{keyring.ErrValidation, "ValidationException", 400, keyring.ErrValidation},
	{keyring.ErrUnsupported, "UnsupportedOperationException", 400, keyring.ErrUnsupported},
	{keyring.ErrWrongPassphrase, "AccessDeniedException", 400, keyring.ErrWrongPassphrase},
	{keyring.ErrLocked, "DependencyTimeoutException", 500, keyring.ErrLocked}, // retryable server fault
	{keyring.ErrInvalidMarker, "InvalidMarkerException", 400, keyring.ErrInvalidMarker},
	{keyring.ErrVersionRetired, "KmsfsKeyVersionRetiredException", 400, keyring.ErrVersionRetired},
	{keyring.ErrInternal, "KMSInternalException", 500, keyring.ErrInternal},
	{errors.New("boom"), "KMSInternalException", 500, keyring.ErrInternal},
}

func TestErrorsRoundTrip(t *testing.T) {
	for _, sc := range sentinelCases {
		for _, c := range []opCase{caseNamed(t, "Encrypt"), caseNamed(t, "EnableKey")} {
			t.Run(fmt.Sprintf("%s/%s", sc.typ, c.name), func(t *testing.T) {
				f := newFake()
				f.setErr(fmt.Errorf("fake: key %s: %w", sampleKeyID, sc.err))
				cl, url := newHTTPClient(t, f, kmsapi.HandlerOptions{})
				_, err := c.call(t.Context(), cl)
				if !errors.Is(err, sc.is) {
					t.Errorf("client error %v does not wrap %v", err, sc.is)
				}
				var re *keyring.RemoteError
				if !errors.As(err, &re) || re.Type != sc.typ {
					t.Errorf("client error %#v, want a RemoteError of type %s", err, sc.typ)
				}
				in, _ := json.Marshal(c.in)
				r := rawPost(t, url, http.MethodPost, jsonType, c.target, in, false)
				checkCommonHeaders(t, r)
				typ, msg := errorFields(t, r.body)
				if r.status != sc.status || typ != sc.typ {
					t.Errorf("HTTP %d %s, want %d %s", r.status, typ, sc.status, sc.typ)
				}
				if !strings.Contains(msg, sampleKeyID) {
					t.Errorf("message %q lost the service's text", msg)
				}
			})
		}
	}
}

func TestRawSuccess(t *testing.T) {
	tests := []struct {
		target string
		body   string
		want   []string // substrings of the response body
		exact  string   // the whole body, if set
	}{
		{target: "TrentService.EnableKey", body: `{"KeyId":"k"}`, exact: `{}`},
		{target: "TrentService.DeleteAlias", body: `{"AliasName":"alias/a"}`, exact: `{}`},
		{target: "KmsfsService.Ping", body: ``, exact: `{}`},
		{target: "TrentService.Encrypt", body: `{"KeyId":"k","Plaintext":"AQ=="}`,
			want: []string{`"CiphertextBlob":"CQgHBg=="`, `"KeyId":"` + sampleKeyARN + `"`}},
		{target: "TrentService.Decrypt", body: `{"CiphertextBlob":"AQ=="}`,
			want: []string{`"Plaintext":"AAEC/v8="`}},
		{target: "TrentService.DescribeKey", body: `{"KeyId":"k"}`,
			want: []string{`"CreationDate":1700000000.5,`, `"DeletionDate":1702592000,`, `"KeyState":"PendingDeletion"`}},
		{target: "TrentService.ListKeyRotations", body: `{"KeyId":"k"}`,
			want: []string{`"RotationDate":1700000001,`, `"RotationDate":1700000002,`}},
		{target: "TrentService.GetKeyRotationStatus", body: `{"KeyId":"k"}`,
			want: []string{`"NextRotationDate":1731536000`}},
	}
	_, url := newHTTPClient(t, fakeWithOutputs(), kmsapi.HandlerOptions{})
	ids := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := rawPost(t, url, http.MethodPost, jsonType, tt.target, []byte(tt.body), false)
			checkCommonHeaders(t, r)
			if r.status != http.StatusOK {
				t.Fatalf("HTTP %d: %s", r.status, r.body)
			}
			if tt.exact != "" && string(r.body) != tt.exact {
				t.Errorf("body %s, want exactly %s", r.body, tt.exact)
			}
			for _, w := range tt.want {
				if !bytes.Contains(r.body, []byte(w)) {
					t.Errorf("body %s lacks %s", r.body, w)
				}
			}
			id := r.header.Get("X-Amzn-RequestId")
			if ids[id] {
				t.Errorf("request id %s repeated", id)
			}
			ids[id] = true
		})
	}
}

// TestRequestFiles runs every captured or hand-written request body in
// testdata/requests: "<Target>.<variant>.json", where variants starting
// with "bad" must be refused as SerializationException.
func TestRequestFiles(t *testing.T) {
	files := requestFiles(t)
	_, url := newHTTPClient(t, fakeWithOutputs(), kmsapi.HandlerOptions{})
	for _, rf := range files {
		t.Run(rf.name, func(t *testing.T) {
			r := rawPost(t, url, http.MethodPost, jsonType, rf.target, rf.body, false)
			checkCommonHeaders(t, r)
			if !rf.bad {
				if r.status != http.StatusOK {
					t.Fatalf("HTTP %d: %s", r.status, r.body)
				}
				return
			}
			typ, _ := errorFields(t, r.body)
			if r.status != http.StatusBadRequest || typ != "SerializationException" {
				t.Errorf("HTTP %d %s, want 400 SerializationException", r.status, typ)
			}
		})
	}
}

func TestRawDecode(t *testing.T) {
	f := fakeWithOutputs()
	_, url := newHTTPClient(t, f, kmsapi.HandlerOptions{})
	body, err := os.ReadFile(filepath.Join("testdata", "requests", "TrentService.Encrypt.boto3.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r := rawPost(t, url, http.MethodPost, jsonType+"; charset=utf-8", "TrentService.Encrypt", body, true); r.status != 200 {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	want := &keyring.EncryptInput{KeyId: "alias/fs-master", Plaintext: []byte("hello"),
		EncryptionContext: map[string]string{"path": "/a/b", "inode": "42"}}
	if got := f.input("Encrypt"); !reflect.DeepEqual(got, want) {
		t.Errorf("service got %#v, want %#v", got, want)
	}
}

func TestRawErrors(t *testing.T) {
	const secret = "SECRETPLAINTEXT"
	tests := []struct {
		name    string
		method  string
		path    string
		ctype   string
		target  string
		body    string
		chunked bool
		status  int
		typ     string
	}{
		{name: "unknown target", target: "TrentService.Sign", body: `{}`, status: 400, typ: "UnknownOperationException"},
		{name: "no target", body: `{}`, status: 400, typ: "UnknownOperationException"},
		{name: "kmsfs op under AWS prefix", target: "TrentService.WrapDEK", body: `{}`, status: 400, typ: "UnknownOperationException"},
		{name: "AWS op under kmsfs prefix", target: "KmsfsService.Encrypt", body: `{}`, status: 400, typ: "UnknownOperationException"},
		{name: "GET", method: http.MethodGet, target: "TrentService.ListKeys", status: 400, typ: "UnknownOperationException"},
		{name: "other path", path: "/v1", target: "TrentService.ListKeys", body: `{}`, status: 400, typ: "UnknownOperationException"},
		{name: "json 1.0", ctype: "application/x-amz-json-1.0", target: "TrentService.ListKeys", body: `{}`, status: 400, typ: "SerializationException"},
		{name: "plain json", ctype: "application/json", target: "TrentService.ListKeys", body: `{}`, status: 400, typ: "SerializationException"},
		{name: "no content type", ctype: "-", target: "TrentService.ListKeys", body: `{}`, status: 400, typ: "SerializationException"},
		{name: "bad JSON escape", target: "TrentService.Encrypt", body: `{"Plaintext":"` + secret + `\q"}`, status: 400, typ: "SerializationException"},
		{name: "bad base64", target: "TrentService.Encrypt", body: `{"Plaintext":"` + secret + `!!"}`, status: 400, typ: "SerializationException"},
		{name: "wrong type", target: "TrentService.Encrypt", body: `{"Plaintext":["` + secret + `"]}`, status: 400, typ: "SerializationException"},
		{name: "too large", target: "TrentService.Encrypt", body: `{"KeyId":"` + strings.Repeat("k", 2000) + `"}`, status: 413, typ: "ValidationException"},
		{name: "too large chunked", target: "TrentService.Encrypt", body: `{"KeyId":"` + strings.Repeat("k", 2000) + `"}`, chunked: true, status: 413, typ: "ValidationException"},
		{name: "nil output", target: "TrentService.ListAliases", body: `{}`, status: 500, typ: "KMSInternalException"},
	}
	f := fakeWithOutputs()
	f.setOutput("ListAliases", nil)
	_, url := newHTTPClient(t, f, kmsapi.HandlerOptions{MaxBodyBytes: 1024})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := cmp(tt.method, http.MethodPost)
			ctype := cmp(tt.ctype, jsonType)
			if ctype == "-" {
				ctype = ""
			}
			r := rawPost(t, url+cmp(tt.path, "/"), method, ctype, tt.target, []byte(tt.body), tt.chunked)
			checkCommonHeaders(t, r)
			typ, msg := errorFields(t, r.body)
			if r.status != tt.status || typ != tt.typ {
				t.Errorf("HTTP %d %s (%s), want %d %s", r.status, typ, msg, tt.status, tt.typ)
			}
			if msg == "" || strings.Contains(msg, secret) {
				t.Errorf("message %q is empty or echoes the body", msg)
			}
		})
	}
}

func caseNamed(t *testing.T, name string) opCase {
	t.Helper()
	for _, c := range opCases() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no case %s", name)
	return opCase{}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestClientParsesErrors feeds the client error responses shaped as the
// various AWS servers and SDKs write them (botocore and the Go SDK accept
// the exception name in __type, possibly prefixed by a namespace and "#",
// or in the x-amzn-ErrorType header).
func TestClientParsesErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  string // X-Amzn-ErrorType
		body    string
		is      error
		typ     string
		message string
	}{
		{name: "header wins", status: 400, header: "DisabledException:http://internal.amazon.com/", body: `{"__type":"NotFoundException"}`,
			is: keyring.ErrDisabled, typ: "DisabledException"},
		{name: "namespaced type, capital Message", status: 400, body: `{"__type":"com.amazonaws.kms#NotFoundException","Message":"gone"}`,
			is: keyring.ErrNotFound, typ: "NotFoundException", message: "gone"},
		{name: "code member", status: 400, body: `{"code":"AlreadyExistsException","message":"dup"}`,
			is: keyring.ErrAlreadyExists, typ: "AlreadyExistsException", message: "dup"},
		{name: "unknown type", status: 400, body: `{"__type":"KMSFutureException","message":"slow"}`,
			is: keyring.ErrInternal, typ: "KMSFutureException", message: "slow"},
		{name: "not JSON", status: 502, body: `<html>bad gateway</html>`, is: kmsapi.ErrProtocol},
		{name: "no type", status: 400, body: `{"message":"x"}`, is: kmsapi.ErrProtocol},
		{name: "200 not JSON", status: 200, body: `{"KeyId":`, is: kmsapi.ErrProtocol},
		{name: "200 wrong shape", status: 200, body: `{"KeyMetadata":5}`, is: kmsapi.ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.header)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			cl := kmsapi.NewClient(srv.URL+"/", nil)
			defer cl.Close()
			_, err := cl.DescribeKey(t.Context(), &keyring.KeyIDInput{KeyId: "k"})
			if !errors.Is(err, tt.is) {
				t.Fatalf("error %v does not wrap %v", err, tt.is)
			}
			var re *keyring.RemoteError
			if tt.typ != "" && (!errors.As(err, &re) || re.Type != tt.typ || re.Message != tt.message) {
				t.Errorf("error %#v, want RemoteError{%s, %q}", err, tt.typ, tt.message)
			}
		})
	}
}

// TestClientEmptyVoidResponse: AWS may answer operations without output
// with 200 and no body.
func TestClientEmptyVoidResponse(t *testing.T) {
	var gotTarget, gotType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTarget, gotType = r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type")
	}))
	defer srv.Close()
	cl := kmsapi.NewClient(srv.URL, srv.Client())
	if err := cl.EnableKey(t.Context(), &keyring.KeyIDInput{KeyId: "k"}); err != nil {
		t.Fatal(err)
	}
	if gotTarget != "TrentService.EnableKey" || gotType != jsonType {
		t.Errorf("sent target %q, content type %q", gotTarget, gotType)
	}
}

func TestClientContextCancelled(t *testing.T) {
	cl, _ := newHTTPClient(t, fakeWithOutputs(), kmsapi.HandlerOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := cl.ListKeys(ctx, &keyring.ListInput{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// requestFile is one body in testdata/requests.
type requestFile struct {
	name, target string
	body         []byte
	bad          bool
}

func requestFiles(tb testing.TB) []requestFile {
	tb.Helper()
	dir := filepath.Join("testdata", "requests")
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var files []requestFile
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		i := strings.LastIndexByte(name, '.')
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || i < 0 {
			tb.Fatalf("%s: %v", e.Name(), err)
		}
		files = append(files, requestFile{name: name, target: name[:i], body: body,
			bad: strings.HasPrefix(name[i+1:], "bad")})
	}
	if len(files) == 0 {
		tb.Fatal("no request files in " + dir)
	}
	return files
}
