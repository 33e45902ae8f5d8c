package local

import (
	"context"
	"slices"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// trackedOps are the operations GetKeyLastUsage reports (AWS's
// KeyLastUsageTrackingOperation). WrapDEK and UnwrapDEK, the filesystem's
// wraps, count as the Encrypt and Decrypt they authorize as.
var trackedOps = map[string]string{
	"Decrypt": "Decrypt", "DeriveSharedSecret": "DeriveSharedSecret", "Encrypt": "Encrypt",
	"GenerateDataKey": "GenerateDataKey", "GenerateDataKeyPair": "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext": "GenerateDataKeyPairWithoutPlaintext",
	"GenerateDataKeyWithoutPlaintext":     "GenerateDataKeyWithoutPlaintext",
	"GenerateMac":                         "GenerateMac", "ReEncrypt": "ReEncrypt", "Sign": "Sign", "Verify": "Verify",
	"VerifyMac": "VerifyMac", "WrapDEK": "Encrypt", "UnwrapDEK": "Decrypt",
}

// GetKeyLastUsage answers from the audit log: the newest successful
// cryptographic record of the key (as the destination of a ReEncrypt or
// its source). Tracking starts with the audit log's first record. Records
// still in the background batch (at most a second old) are not yet seen.
func (k *Keyring) GetKeyLastUsage(ctx context.Context, in *keyring.GetKeyLastUsageInput) (*keyring.GetKeyLastUsageOutput, error) {
	var out *keyring.GetKeyLastUsageOutput
	err := k.readKey(ctx, "GetKeyLastUsage", in.KeyId, func(e *keyEntry) error {
		out = &keyring.GetKeyLastUsageOutput{KeyId: k.keyARN(e.rec), KeyCreationDate: keyring.EpochTime{Time: e.rec.Created}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	id, err := k.auditKeyID(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	start, last, err := k.lastUse(id)
	if err != nil {
		return nil, err
	}
	out.TrackingStartDate = keyring.EpochTime{Time: start}
	if last != nil {
		out.KeyLastUsage = &keyring.KeyLastUsage{Operation: trackedOps[last.Op],
			Timestamp: keyring.EpochTime{Time: last.Time}, CloudTrailEventId: last.EventID()}
	}
	return out, nil
}

// lastUse scans the audit log for the first record's time and key id's
// newest successful tracked operation.
func (k *Keyring) lastUse(id string) (start time.Time, last *keyring.AuditRecord, err error) {
	k.auditReaders.RLock()
	defer k.auditReaders.RUnlock()
	_, _, err = k.audit.scan(func(_ []byte, r *keyring.AuditRecord) error {
		if start.IsZero() {
			start = r.Time
		}
		if _, ok := trackedOps[r.Op]; ok && r.Outcome == "Success" && (r.KeyId == id || r.SourceKeyId == id) {
			rec := *r
			rec.ContextKeys = slices.Clone(r.ContextKeys)
			last = &rec
		}
		return nil
	})
	return start, last, err
}

var _ keyring.UsageReporter = (*Keyring)(nil)
