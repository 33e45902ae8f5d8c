package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/server"
)

var errBadSig = errors.New("test: bad signature")

// fakeAuth admits requests whose Authorization header is "good".
func fakeAuth(r *http.Request, body []byte) (keyring.Principal, error) {
	if r.Header.Get("Authorization") != "good" {
		return keyring.Principal{}, errBadSig
	}
	return keyring.Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333"}, nil
}

type auditLog struct {
	mu   sync.Mutex
	recs []keyring.AuditRecord
}

func (a *auditLog) add(_ context.Context, r keyring.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
	return nil
}

// start serves h behind fakeAuth on a loopback port.
func start(t *testing.T, h http.Handler, o server.Options) (base string, srv *server.Server) {
	t.Helper()
	o.Handler = h
	o.Auth = server.AuthenticatorFunc(fakeAuth)
	o.Refusal = func(err error) (string, int, string) {
		return "InvalidSignatureException", http.StatusBadRequest, "The request signature we calculated does not match"
	}
	srv, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String(), srv
}

func post(t *testing.T, base, auth, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/", strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	req.Header.Set("X-Amz-Target", "TrentService.Decrypt")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestAuthenticatedRequestsReachTheHandlerWithTheirPrincipal(t *testing.T) {
	var got keyring.Principal
	var gotBody string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = keyring.PrincipalFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		io.WriteString(w, "{}")
	})
	base, _ := start(t, h, server.Options{})
	resp, _ := post(t, base, "good", `{"KeyId":"alias/x"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got.ARN != "arn:aws:iam::111122223333:user/alice" || gotBody != `{"KeyId":"alias/x"}` {
		t.Fatalf("handler saw principal %+v body %q", got, gotBody)
	}
}

func TestRefusedRequestsNeverReachTheHandlerAndAreAudited(t *testing.T) {
	called := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
	audit := &auditLog{}
	m := server.NewMetrics()
	base, _ := start(t, h, server.Options{Audit: audit.add, Metrics: m})
	resp, body := post(t, base, "forged", `{}`)
	if called {
		t.Fatal("handler called for a refused request")
	}
	if resp.StatusCode != 400 || !strings.Contains(body, `"__type":"InvalidSignatureException"`) {
		t.Fatalf("refusal: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Error("refusal without x-amzn-RequestId")
	}
	if len(audit.recs) != 1 || audit.recs[0].Op != "Decrypt" || audit.recs[0].Outcome != "InvalidSignatureException" {
		t.Fatalf("audit records: %+v", audit.recs)
	}
	if !strings.HasPrefix(audit.recs[0].Caller, "addr:127.0.0.1:") {
		t.Errorf("audit caller %q", audit.recs[0].Caller)
	}
	mresp, err := http.Get(base + "/healthz")
	if err != nil || mresp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, mresp)
	}
	mresp.Body.Close()
	rec := httptestGet(t, m.Handler())
	if !strings.Contains(rec, `kmsfs_requests_total{operation="TrentService.Decrypt",outcome="InvalidSignatureException"} 1`) {
		t.Fatalf("metrics lack the refused request:\n%s", grep(rec, "kmsfs_"))
	}
}

func TestBodyLimit(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") })
	base, _ := start(t, h, server.Options{MaxBodyBytes: 100})
	resp, body := post(t, base, "good", strings.Repeat("x", 101))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "ValidationException") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestPlainHTTPIsRefusedBeyondLoopback(t *testing.T) {
	h := http.NotFoundHandler()
	for _, tc := range []struct {
		addr     string
		insecure bool
		want     error
	}{
		{"127.0.0.1:0", false, nil},
		{"[::1]:0", false, nil},
		{"0.0.0.0:0", false, server.ErrPlainHTTP},
		{"0.0.0.0:0", true, nil},
	} {
		srv, err := server.New(server.Options{Handler: h, Auth: server.AuthenticatorFunc(fakeAuth), InsecureHTTP: tc.insecure})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := srv.Listen(tc.addr)
		if tc.addr == "[::1]:0" && err != nil && !errors.Is(err, server.ErrPlainHTTP) {
			continue // no IPv6 loopback on this machine
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("Listen(%s, insecure=%v) = %v, want %v", tc.addr, tc.insecure, err, tc.want)
		}
		if ln != nil {
			ln.Close()
		}
	}
}

func TestShutdownLetsRequestsInFlightFinish(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, `{"done":true}`)
	})
	base, srv := start(t, h, server.Options{})
	result := make(chan string, 1)
	go func() {
		_, body := post(t, base, "good", `{}`)
		result <- body
	}()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned before the request finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if body := <-result; body != `{"done":true}` {
		t.Fatalf("in-flight request got %q", body)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}
