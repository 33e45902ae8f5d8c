package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/session"
)

// fixedControl answers every request without touching files.
type fixedControl struct{}

func (fixedControl) RewrapFile(_ context.Context, rel string, target envelope.KeyRef) (maintain.Result, error) {
	if rel == "busy" {
		return maintain.Result{}, maintain.ErrBusy
	}
	return maintain.Result{Changed: true, Old: envelope.KeyRef{KeyID: target.KeyID, Version: 1}, New: target}, nil
}

func (fixedControl) SetVolumeKey(context.Context, string) error { return nil }

// FuzzControlHandler: any request gets a JSON answer with a status the
// protocol allows, never a panic.
func FuzzControlHandler(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/control/*.json")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/control")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("KmsfsService.RewrapFile", b)
	}
	f.Add("KmsfsService.SetVolumeKey", []byte(`{"KeyId":"x"}`))
	f.Add("KmsfsService.Ping", []byte(``))
	h := session.NewControlHandler(fixedControl{}, nil)
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d", rec.Code)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body.Bytes())
		}
	})
}
