package kmsapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// wipeSpy is a service that keeps a reference to every secret the handler
// hands it (plaintexts, data keys, passphrases) and every secret it
// answers with, so a test can look at them after the response is written.
type wipeSpy struct {
	*fakeService
	mu   sync.Mutex
	bufs [][]byte
}

func (s *wipeSpy) keep(b ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bufs = append(s.bufs, b...)
}

// spySecret is what the spy answers with: fresh each time.
func spySecret() []byte { return bytes.Repeat([]byte{0x5a}, 24) }

func (s *wipeSpy) Encrypt(_ context.Context, in *keyring.EncryptInput) (*keyring.EncryptOutput, error) {
	s.keep(in.Plaintext)
	return &keyring.EncryptOutput{CiphertextBlob: []byte("ct")}, nil
}

func (s *wipeSpy) Decrypt(_ context.Context, _ *keyring.DecryptInput) (*keyring.DecryptOutput, error) {
	out := &keyring.DecryptOutput{Plaintext: spySecret()}
	s.keep(out.Plaintext)
	return out, nil
}

func (s *wipeSpy) GenerateDataKey(_ context.Context, _ *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyOutput, error) {
	out := &keyring.GenerateDataKeyOutput{Plaintext: spySecret(), CiphertextBlob: []byte("ct")}
	s.keep(out.Plaintext)
	return out, nil
}

func (s *wipeSpy) WrapDEK(_ context.Context, in *keyring.WrapDEKInput) (*keyring.WrapDEKOutput, error) {
	s.keep(in.Plaintext)
	return &keyring.WrapDEKOutput{WrappedKey: []byte("wrapped")}, nil
}

func (s *wipeSpy) UnwrapDEK(_ context.Context, _ *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	out := &keyring.UnwrapDEKOutput{Plaintext: spySecret()}
	s.keep(out.Plaintext)
	return out, nil
}

func (s *wipeSpy) GenerateRandom(_ context.Context, _ *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error) {
	out := &keyring.GenerateRandomOutput{Plaintext: spySecret()}
	s.keep(out.Plaintext)
	return out, nil
}

func (s *wipeSpy) ExportKeyring(_ context.Context, in *keyring.ExportKeyringInput) (*keyring.ExportKeyringOutput, error) {
	s.keep(in.KeyringPassphrase, in.Passphrase)
	return &keyring.ExportKeyringOutput{Bundle: []byte("sealed")}, nil
}

func (s *wipeSpy) ImportKeyring(_ context.Context, in *keyring.ImportKeyringInput) (*keyring.ImportKeyringOutput, error) {
	s.keep(in.KeyringPassphrase, in.Passphrase)
	return &keyring.ImportKeyringOutput{}, nil
}

// TestHandlerWipesSecrets sends every operation that carries a secret and
// checks that, once the response is written, the handler has zeroed the
// decoded input's and the output's secrets, and only after encoding them.
func TestHandlerWipesSecrets(t *testing.T) {
	secretB64 := base64.StdEncoding.EncodeToString(spySecret())
	tests := []struct {
		target  string
		body    string
		secrets int  // buffers the spy must have seen
		answers bool // the response carries spySecret
	}{
		{"TrentService.Encrypt", `{"KeyId":"k","Plaintext":"c2VjcmV0"}`, 1, false},
		{"TrentService.Decrypt", `{"CiphertextBlob":"Y3Q="}`, 1, true},
		{"TrentService.GenerateDataKey", `{"KeyId":"k","KeySpec":"AES_256"}`, 1, true},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":24}`, 1, true},
		{"KmsfsService.WrapDEK", `{"KeyId":"k","Plaintext":"c2VjcmV0c2VjcmV0c2VjcmV0"}`, 1, false},
		{"KmsfsService.UnwrapDEK", `{"KeyId":"k","KeyVersion":1,"WrappedKey":"d3JhcHBlZA=="}`, 1, true},
		{"KmsfsService.ExportKeyring", `{"KeyringPassphrase":"cGFzcw==","Passphrase":"YnVuZGxl"}`, 2, false},
		{"KmsfsService.ImportKeyring", `{"KeyringPassphrase":"cGFzcw==","Bundle":"eA==","Passphrase":"YnVuZGxl"}`, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			spy := &wipeSpy{fakeService: newFake()}
			h := kmsapi.NewHandler(spy, kmsapi.HandlerOptions{})
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", jsonType)
			req.Header.Set("X-Amz-Target", tt.target)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
			}
			if tt.answers && !strings.Contains(rec.Body.String(), secretB64) {
				t.Fatalf("response %s lacks the answer: wiped before it was encoded", rec.Body)
			}
			if len(spy.bufs) != tt.secrets {
				t.Fatalf("spy saw %d secrets, want %d", len(spy.bufs), tt.secrets)
			}
			for i, b := range spy.bufs {
				if len(b) == 0 || !bytes.Equal(b, make([]byte, len(b))) {
					t.Errorf("secret %d (%d bytes) not zeroed: %q", i, len(b), b)
				}
			}
		})
	}
}
