package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// fakeAuditor answers AuditStatus with a canned result.
type fakeAuditor struct {
	st  *keyring.AuditStatus
	err error
}

func (f fakeAuditor) Audit(context.Context, keyring.AuditFilter) ([]keyring.AuditRecord, error) {
	return nil, f.err
}

func (f fakeAuditor) AuditStatus(context.Context) (*keyring.AuditStatus, error) { return f.st, f.err }

func (f fakeAuditor) VerifyAudit(context.Context) error { return f.err }

// TestAuditVerifyExit checks what `kmsfs audit verify` prints and how it
// exits: a broken chain (which the keyring tests produce by tampering with
// the database) exits with exitIntegrity and names the record.
func TestAuditVerifyExit(t *testing.T) {
	tests := []struct {
		name     string
		a        fakeAuditor
		wantCode int
		want     string // in stdout, or in the error
	}{
		{"intact", fakeAuditor{st: &keyring.AuditStatus{Records: 7, Head: make([]byte, 32)}}, exitOK, "audit log intact: 7 records\n"},
		{"broken", fakeAuditor{err: &keyring.AuditError{Seq: 4, Reason: "hash mismatch"}}, exitIntegrity, "at record 4: hash mismatch"},
		{"closed", fakeAuditor{err: keyring.ErrClosed}, exitFailure, "closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			set := flag.NewFlagSet(tc.name, flag.ContinueOnError)
			set.Bool("json", false, "")
			c := cli.NewContext(&cli.App{Writer: &out}, set, nil)
			err := auditVerify(c, tc.a)
			if got := exitCode(err); got != tc.wantCode {
				t.Fatalf("exit code %d (%v), want %d", got, err, tc.wantCode)
			}
			if got := out.String(); err == nil && got != tc.want || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("output %q, error %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), true},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.Local), true},
		{"36h", now.Add(-36 * time.Hour), true},
		{"7d", now.AddDate(0, 0, -7), true},
		{"0d", now, true},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range tests {
		got, err := parseSince(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestTrailIdentity(t *testing.T) {
	for _, tc := range []struct{ caller, typ, account string }{
		{"", "Local", local.DefaultAccount},
		{"uid:1000", "UnixUser", local.DefaultAccount},
		{"addr:127.0.0.1:5000", "Network", local.DefaultAccount},
		{"arn:aws:iam::111122223333:user/alice", "IAMUser", "111122223333"},
		{"arn:aws:iam::111122223333:role/AppRole", "AssumedRole", "111122223333"},
		{"arn:aws:iam::111122223333:root", "Root", "111122223333"},
	} {
		got := trailIdentityOf(tc.caller)
		if got.Type != tc.typ || got.AccountID != tc.account {
			t.Errorf("%q: %+v, want type %s account %s", tc.caller, got, tc.typ, tc.account)
		}
	}
}
