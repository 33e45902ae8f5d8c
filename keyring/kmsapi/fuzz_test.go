package kmsapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// FuzzHandler feeds the handler arbitrary targets and bodies. Whatever
// arrives, it must not panic and must answer with a well-formed KMS
// response. Seeds: every operation's sample input and testdata/requests.
func FuzzHandler(f *testing.F) {
	seeds := 0
	for _, c := range opCases() {
		b, err := json.Marshal(c.in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.target, b)
		seeds++
	}
	for _, rf := range requestFiles(f) {
		f.Add(rf.target, rf.body)
		seeds++
	}
	if seeds == 0 {
		f.Fatal("no seeds")
	}
	h := kmsapi.NewHandler(fakeWithOutputs(), kmsapi.HandlerOptions{MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("X-Amz-Target", target)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkFuzzResponse(t, rec)
	})
}

func checkFuzzResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != jsonType {
		t.Fatalf("Content-Type %q", ct)
	}
	body := rec.Body.Bytes()
	switch rec.Code {
	case http.StatusOK:
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("200 with a body that is not a JSON object: %q", body)
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusInternalServerError:
		var eb struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &eb); err != nil || eb.Type == "" || eb.Message == "" {
			t.Fatalf("HTTP %d with a malformed error body %q", rec.Code, body)
		}
	default:
		t.Fatalf("unexpected HTTP %d: %q", rec.Code, body)
	}
}

// roundTripFunc answers client requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzClientResponse feeds the client arbitrary responses: it must not
// panic, and every failure must be a RemoteError or wrap ErrProtocol.
func FuzzClientResponse(f *testing.F) {
	f.Add(200, []byte(`{"KeyMetadata":{"KeyId":"k","CreationDate":1.7000000001E9}}`))
	f.Add(200, []byte(``))
	f.Add(400, []byte(`{"__type":"com.amazonaws.kms#DisabledException:x","message":"m"}`))
	f.Add(500, []byte(`{"code":"KMSInternalException","Message":"m"}`))
	f.Add(502, []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			rec := httptest.NewRecorder()
			rec.WriteHeader(status)
			rec.Write(body)
			resp := rec.Result()
			resp.Request = r
			return resp, nil
		})}
		c := kmsapi.NewClient("http://kms.invalid", hc)
		_, err := c.DescribeKey(t.Context(), &keyring.KeyIDInput{KeyId: "k"})
		var re *keyring.RemoteError
		if err != nil && !errors.As(err, &re) && !errors.Is(err, kmsapi.ErrProtocol) {
			t.Fatalf("HTTP %d %q: error %v is neither RemoteError nor ErrProtocol", status, body, err)
		}
		if err == nil && status != http.StatusOK {
			t.Fatalf("HTTP %d accepted as success", status)
		}
	})
}
