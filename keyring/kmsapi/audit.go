package kmsapi

import (
	"context"
	"errors"

	"github.com/kmsfs/kmsfs/keyring"
)

var _ keyring.Auditor = (*Client)(nil)

// auditPageSize bounds the records of one KmsfsService.Audit response
// (about 300 bytes each, far below the client's response limit); the
// [Client] pages through longer listings.
const auditPageSize = 1000

const (
	targetAudit       = kmsfsPrefix + "Audit"
	targetVerifyAudit = kmsfsPrefix + "VerifyAudit"
)

// auditOutput is the response of KmsfsService.Audit.
type auditOutput struct {
	Records []keyring.AuditRecord
}

// verifyAuditOutput is the response of KmsfsService.VerifyAudit. A broken
// chain is a result, not a failure of the request, so that its record
// number survives the trip: keyring.ErrAuditBroken has no AWS exception.
type verifyAuditOutput struct {
	Intact    bool
	Records   uint64
	Head      []byte
	BrokenSeq uint64 `json:",omitempty"`
	Reason    string `json:",omitempty"`
}

// auditOps serves the keyring.Auditor operations when svc has them.
func auditOps(svc keyring.Service) map[string]endpoint {
	a, ok := svc.(keyring.Auditor)
	if !ok {
		return nil
	}
	return map[string]endpoint{
		targetAudit: op(func(ctx context.Context, f *keyring.AuditFilter) (*auditOutput, error) {
			if f.Limit <= 0 || f.Limit > auditPageSize {
				f.Limit = auditPageSize
			}
			recs, err := a.Audit(ctx, *f)
			if err != nil {
				return nil, err
			}
			return &auditOutput{Records: recs}, nil
		}),
		targetVerifyAudit: op(func(ctx context.Context, _ *struct{}) (*verifyAuditOutput, error) {
			st, err := a.AuditStatus(ctx)
			var ae *keyring.AuditError
			switch {
			case errors.As(err, &ae):
				return &verifyAuditOutput{BrokenSeq: ae.Seq, Reason: ae.Reason}, nil
			case err != nil:
				return nil, err
			}
			return &verifyAuditOutput{Intact: true, Records: st.Records, Head: st.Head}, nil
		}),
	}
}

// Audit implements [keyring.Auditor] over the wire, one page of at most
// auditPageSize records per request: forwards from f.AfterSeq, or with
// f.Newest backwards from f.BeforeSeq.
func (c *Client) Audit(ctx context.Context, f keyring.AuditFilter) ([]keyring.AuditRecord, error) {
	want := f.Limit
	out := []keyring.AuditRecord{}
	for {
		page := f
		page.Limit = auditPageSize
		if want > 0 {
			page.Limit = min(auditPageSize, want-len(out))
		}
		res, err := call[auditOutput](ctx, c, targetAudit, &page)
		if err != nil {
			return nil, err
		}
		recs := res.Records
		if f.Newest {
			out = append(recs, out...)
		} else {
			out = append(out, recs...)
		}
		if len(recs) == 0 || len(recs) < page.Limit || want > 0 && len(out) >= want {
			return out, nil
		}
		if f.Newest {
			f.BeforeSeq = recs[0].Seq
		} else {
			f.AfterSeq = recs[len(recs)-1].Seq
		}
	}
}

// AuditStatus implements [keyring.Auditor] over the wire; a broken chain comes back
// as the same *keyring.AuditError a local keyring returns.
func (c *Client) AuditStatus(ctx context.Context) (*keyring.AuditStatus, error) {
	res, err := call[verifyAuditOutput](ctx, c, targetVerifyAudit, struct{}{})
	if err != nil {
		return nil, err
	}
	if !res.Intact {
		return nil, &keyring.AuditError{Seq: res.BrokenSeq, Reason: res.Reason}
	}
	return &keyring.AuditStatus{Records: res.Records, Head: res.Head}, nil
}

// VerifyAudit implements [keyring.Auditor] over the wire.
func (c *Client) VerifyAudit(ctx context.Context) error {
	_, err := c.AuditStatus(ctx)
	return err
}
