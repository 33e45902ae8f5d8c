package keyring

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// AuditRecord is one entry of the audit log. It never holds plaintext,
// ciphertext or encryption-context values.
type AuditRecord struct {
	Seq         uint64
	Time        time.Time
	Op          string   // the AWS operation name, or DeleteKey, RotateKey, ChangePassphrase, ...
	KeyId       string   `json:",omitempty"` // the key's UUID, or the caller's id when it did not resolve
	KeyVersion  uint32   `json:",omitempty"`
	SourceKeyId string   `json:",omitempty"` // ReEncrypt
	Alias       string   `json:",omitempty"` // alias operations
	ContextKeys []string `json:",omitempty"` // encryption-context keys, sorted; never values
	Caller      string   `json:",omitempty"` // from [WithCaller]
	Outcome     string   // "Success" or the AWS exception name of the error
	Count       uint64   // calls this record stands for (>1 only for aggregated UnwrapDEK)
	Hash        []byte   `json:",omitempty"`
}

// AuditFilter selects audit records; zero fields match everything.
type AuditFilter struct {
	KeyId     string // any key ID form; matches KeyId or SourceKeyId
	Op        string
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	AfterSeq  uint64
	BeforeSeq uint64 // 0 means no bound
	Limit     int    // 0 means no limit
	// Newest makes Limit keep the newest matching records instead of the
	// oldest; they are still returned oldest first.
	Newest bool `json:",omitempty"`
}

// AuditStatus describes an audit log whose chain verified.
type AuditStatus struct {
	Records uint64 // number of records, also the Seq of the newest
	Head    []byte // the newest record's Hash (32 zero bytes when empty)
}

// AuditError reports where the audit hash chain breaks.
type AuditError struct {
	Seq    uint64
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("%s at record %d: %s", ErrAuditBroken, e.Seq, e.Reason)
}

func (e *AuditError) Unwrap() error { return ErrAuditBroken }

type callerKey struct{}

// WithCaller returns a context whose operations are audited as done by
// caller (for example "uid 1000" or a socket peer).
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// CallerFrom returns the caller set by [WithCaller], or "".
func CallerFrom(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

// EventID names the record as a CloudTrail event ID does (a UUID-shaped
// string from its chain hash), or by its sequence number when it has no
// hash yet.
func (r AuditRecord) EventID() string {
	if len(r.Hash) < 16 {
		return strconv.FormatUint(r.Seq, 10)
	}
	h := hex.EncodeToString(r.Hash[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
