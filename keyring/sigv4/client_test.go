package sigv4_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/sigv4"
)

// verifyingServer answers Encrypt after verifying each request against the
// real clock, and records the principals it authenticated.
type verifyingServer struct {
	*httptest.Server
	mu         sync.Mutex
	principals []keyring.Principal
}

func newVerifyingServer(t *testing.T) *verifyingServer {
	t.Helper()
	s := &verifyingServer{}
	v := &sigv4.Verifier{Lookup: lookup} // every other field at its default
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := v.Verify(r, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if err != nil {
			name, status := sigv4.ExceptionOf(err)
			var e *sigv4.Error
			msg := "internal error"
			if errors.As(err, &e) {
				msg = e.Message
			}
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": name, "message": msg})
			return
		}
		s.mu.Lock()
		s.principals = append(s.principals, p)
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"CiphertextBlob":"AQID","KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *verifyingServer) authenticated() []keyring.Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]keyring.Principal(nil), s.principals...)
}

func TestKMSClient(t *testing.T) {
	srv := newVerifyingServer(t)
	tests := []struct {
		name, id, secret string
		wantCode         string
	}{
		{name: "valid key", id: testID, secret: testSecret},
		{name: "wrong secret", id: testID, secret: "x" + testSecret[1:], wantCode: "InvalidSignatureException"},
		{name: "unknown key", id: "AKIAUNKNOWN000000000", secret: testSecret, wantCode: "UnrecognizedClientException"},
		{name: "disabled key", id: disabledID, secret: testSecret, wantCode: "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kms.New(kms.Options{
				Region:           testRegion,
				BaseEndpoint:     aws.String(srv.URL),
				Credentials:      credentials.NewStaticCredentialsProvider(tt.id, tt.secret, ""),
				RetryMaxAttempts: 1,
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := c.Encrypt(ctx, &kms.EncryptInput{
				KeyId:             aws.String("alias/fs-master"),
				Plaintext:         []byte("hello\x00\xff binary"),
				EncryptionContext: map[string]string{"path": "/a  b/c", "inode": "42"},
			})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				if string(out.CiphertextBlob) != "\x01\x02\x03" {
					t.Fatalf("CiphertextBlob = %x", out.CiphertextBlob)
				}
				return
			}
			// smithy.APIError, named by its method so that this test does
			// not make smithy-go a direct requirement of the module.
			var ae interface{ ErrorCode() string }
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.wantCode {
				t.Fatalf("Encrypt = %v, want API error %s", err, tt.wantCode)
			}
		})
	}
	ps := srv.authenticated()
	if len(ps) != 1 || ps[0].AccessKeyID != testID || ps[0].SourceIP != "127.0.0.1" || ps[0].ARN != testUser.ARN {
		t.Fatalf("authenticated principals = %+v, want one for %s from 127.0.0.1", ps, testID)
	}
}

// botoScript makes one Encrypt call with boto3 against argv[1] and prints
// the ciphertext's hex, or the error code.
const botoScript = `
import sys, boto3, botocore.config, botocore.exceptions
c = boto3.client("kms", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
    config=botocore.config.Config(retries={"max_attempts": 1}))
try:
    r = c.encrypt(KeyId="alias/fs-master", Plaintext=b"hello", EncryptionContext={"path": "/a/b"})
    print("ok", r["CiphertextBlob"].hex())
except botocore.exceptions.ClientError as e:
    print("error", e.response["Error"]["Code"])
`

func TestBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 not installed")
	}
	srv := newVerifyingServer(t)
	tests := []struct{ name, id, secret, want string }{
		{"valid key", testID, testSecret, "ok 010203"},
		{"wrong secret", testID, "x" + testSecret[1:], "error InvalidSignatureException"},
		{"unknown key", "AKIAUNKNOWN000000000", testSecret, "error UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "-c", botoScript, srv.URL, tt.id, tt.secret)
			cmd.Env = append(cmd.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python3: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Fatalf("boto3 printed %q, want %q", got, tt.want)
			}
		})
	}
	if ps := srv.authenticated(); len(ps) != 1 || ps[0].AccessKeyID != testID {
		t.Fatalf("authenticated principals = %+v, want one for %s", ps, testID)
	}
}
