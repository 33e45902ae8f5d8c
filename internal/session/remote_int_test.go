package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/keyring"
)

// failingService answers every unwrap with err.
type failingService struct {
	keyring.Service
	err error
}

func (f *failingService) UnwrapDEK(context.Context, *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &keyring.UnwrapDEKOutput{}, nil
}

// TestRemoteKeysHideTransportErrno: a dead owner's ECONNREFUSED or ENOENT
// never reaches the filesystem as an errno (it would show as "no such
// file"); it becomes ErrKeyServiceGone, classified as an unavailable key,
// and is logged once per outage. The keyring's own answers pass unchanged.
func TestRemoteKeysHideTransportErrno(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name     string
		err      error
		gone     bool
		wantSent error
	}{
		{"ECONNREFUSED", fmt.Errorf("kmsapi: UnwrapDEK: %w", refused), true, envelope.ErrKeyUnavailable},
		{"ENOENT", fmt.Errorf("kmsapi: %w", syscall.ENOENT), true, envelope.ErrKeyUnavailable},
		{"disabled", fmt.Errorf("x: %w", keyring.ErrDisabled), false, envelope.ErrKeyDenied},
		{"not found", keyring.ErrNotFound, false, envelope.ErrKeyUnavailable},
		{"cancelled", context.Canceled, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			svc := &failingService{err: tc.err}
			r := &remoteKeys{Service: svc, sock: "/k.sock", logger: slog.New(slog.NewTextHandler(&log, nil))}
			ks := keyring.NewKeyService(r, "alias/x")
			for range 3 {
				_, err := ks.UnwrapKey(context.Background(), envelope.KeyRef{Version: 1}, nil, nil)
				var en syscall.Errno
				if tc.gone && (errors.As(err, &en) || !errors.Is(err, ErrKeyServiceGone)) {
					t.Fatalf("err %v: errno %v visible or not ErrKeyServiceGone", err, en)
				}
				if !tc.gone && !errors.Is(err, tc.err) {
					t.Fatalf("err %v does not keep %v", err, tc.err)
				}
				if tc.wantSent != nil && !errors.Is(err, tc.wantSent) {
					t.Fatalf("err %v is not classified %v", err, tc.wantSent)
				}
			}
			if n := strings.Count(log.String(), "level=WARN"); (n == 1) != tc.gone || n > 1 {
				t.Errorf("%d warnings for 3 failures:\n%s", n, log.String())
			}
			svc.err = nil
			if _, err := ks.UnwrapKey(context.Background(), envelope.KeyRef{Version: 1}, nil, nil); err != nil {
				t.Fatal(err)
			}
			if tc.gone && !strings.Contains(log.String(), "answers again") {
				t.Errorf("recovery not logged:\n%s", log.String())
			}
		})
	}
}
