package local

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kmsfs/kmsfs/keyring"
)

// Key policies, tags and descriptions, as AWS KMS keeps them; all live in
// the key record under its MAC.

// Limits, as AWS KMS's (policy size: AWS's key policy quota, 32 KiB).
const (
	maxPolicyBytes = 32 << 10
	maxTags        = 50
	maxTagKey      = 128
	maxTagValue    = 256
)

var (
	_ keyring.KeyPolicies = (*Keyring)(nil)
	_ keyring.Tagger      = (*Keyring)(nil)
	_ keyring.Describer   = (*Keyring)(nil)
)

// defaultPolicy is AWS's default key policy: the account root may do
// everything, so IAM policies decide.
func defaultPolicy(account string) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// policyOf is a key's policy; a key without one (made before policies were
// stored) has the default policy of the current account.
func (k *Keyring) policyOf(rec *keyRecord) string {
	if rec.Policy == "" {
		return defaultPolicy(k.opts.Account)
	}
	return rec.Policy
}

// checkPolicyShape accepts a JSON object of at most 32 KiB. The policy
// grammar and the lockout safety check are not the keyring's: an installed
// Authorizer that is a [keyring.PolicyChecker] applies them (checkPolicy).
func checkPolicyShape(p string) error {
	if p == "" || len(p) > maxPolicyBytes {
		return fmt.Errorf("%w: a policy is 1 to %d bytes", keyring.ErrMalformedPolicy, maxPolicyBytes)
	}
	var obj map[string]json.RawMessage
	if !utf8.ValidString(p) || json.Unmarshal([]byte(p), &obj) != nil || obj == nil {
		return fmt.Errorf("%w: the policy is not a JSON object", keyring.ErrMalformedPolicy)
	}
	return nil
}

func checkPolicyName(name string) error {
	if name != "" && name != keyring.DefaultPolicyName {
		return fmt.Errorf("%w: policy %q (the only policy is %q)", keyring.ErrNotFound, truncate(name), keyring.DefaultPolicyName)
	}
	return nil
}

// GetKeyPolicy returns a key's policy, in any key state.
func (k *Keyring) GetKeyPolicy(ctx context.Context, in *keyring.GetKeyPolicyInput) (*keyring.GetKeyPolicyOutput, error) {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	var out *keyring.GetKeyPolicyOutput
	err := k.readKey(ctx, "GetKeyPolicy", in.KeyId, func(e *keyEntry) error {
		out = &keyring.GetKeyPolicyOutput{Policy: k.policyOf(e.rec), PolicyName: keyring.DefaultPolicyName}
		return nil
	})
	return out, err
}

// PutKeyPolicy replaces a key's policy. It checks the policy's shape, and
// asks an installed Authorizer that is a [keyring.PolicyChecker] for the
// grammar and the lockout safety check (which
// BypassPolicyLockoutSafetyCheck skips); without one, the shape is all.
func (k *Keyring) PutKeyPolicy(ctx context.Context, in *keyring.PutKeyPolicyInput) error {
	if err := cmp.Or(checkPolicyName(in.PolicyName), checkPolicyShape(in.Policy)); err != nil {
		return err
	}
	if arn, err := k.arnOf(ctx, in.KeyId); err == nil {
		if err := k.checkPolicy(ctx, in.Policy, arn, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return err
		}
	}
	// Every key state takes a policy, PendingDeletion included (AWS's key
	// state table).
	_, err := k.mutate(ctx, "PutKeyPolicy", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		rec.Policy = in.Policy
		return nil
	})
	return err
}

// ListKeyPolicies lists the one policy name, "default".
func (k *Keyring) ListKeyPolicies(ctx context.Context, in *keyring.ListKeyPoliciesInput) (*keyring.ListKeyPoliciesOutput, error) {
	var out *keyring.ListKeyPoliciesOutput
	err := k.readKey(ctx, "ListKeyPolicies", in.KeyId, func(*keyEntry) error {
		page, next, err := paginate([]string{keyring.DefaultPolicyName}, func(s string) string { return s },
			func(m string) bool { return m == keyring.DefaultPolicyName }, in.Limit, in.Marker)
		out = &keyring.ListKeyPoliciesOutput{PolicyNames: page, NextMarker: next, Truncated: next != ""}
		return err
	})
	return out, err
}

// readKey authorizes op on a key and runs fn on it under the shared lock.
func (k *Keyring) readKey(ctx context.Context, op, keyID string, fn func(e *keyEntry) error) error {
	if err := k.authorize(ctx, authz{op: op, keyID: keyID}); err != nil {
		return err
	}
	return k.withKey(ctx, keyID, fn)
}

// validTag applies AWS's tag rules.
func validTag(t keyring.Tag) error {
	switch {
	case t.TagKey == "" || utf8.RuneCountInString(t.TagKey) > maxTagKey:
		return fmt.Errorf("%w: a tag key is 1 to %d characters", keyring.ErrTag, maxTagKey)
	case utf8.RuneCountInString(t.TagValue) > maxTagValue:
		return fmt.Errorf("%w: tag %q: a value is at most %d characters", keyring.ErrTag, truncate(t.TagKey), maxTagValue)
	case strings.HasPrefix(strings.ToLower(t.TagKey), "aws:"):
		return fmt.Errorf("%w: tag key %q: the prefix aws: is reserved", keyring.ErrTag, truncate(t.TagKey))
	case !utf8.ValidString(t.TagKey) || !utf8.ValidString(t.TagValue):
		return fmt.Errorf("%w: tags are UTF-8", keyring.ErrTag)
	}
	return nil
}

// TagResource adds tags to a key, replacing the value of a key it has.
func (k *Keyring) TagResource(ctx context.Context, in *keyring.TagResourceInput) error {
	if len(in.Tags) == 0 {
		return fmt.Errorf("%w: Tags is required", keyring.ErrValidation)
	}
	for _, t := range in.Tags {
		if err := validTag(t); err != nil {
			return err
		}
	}
	_, err := k.mutate(ctx, "TagResource", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if pendingDeletion(rec) {
			return pendingErr(rec)
		}
		tags, err := mergeTags(rec.Tags, in.Tags)
		rec.Tags = tags
		return err
	})
	return err
}

// mergeTags returns have with add applied, sorted by key.
func mergeTags(have, add []keyring.Tag) ([]keyring.Tag, error) {
	out := slices.Clone(have)
	for _, t := range add {
		i, found := slices.BinarySearchFunc(out, t.TagKey, func(a keyring.Tag, key string) int { return strings.Compare(a.TagKey, key) })
		if found {
			out[i].TagValue = t.TagValue
		} else {
			out = slices.Insert(out, i, t)
		}
	}
	if len(out) > maxTags {
		return nil, fmt.Errorf("%w: a key has at most %d tags", keyring.ErrLimitExceeded, maxTags)
	}
	return out, nil
}

// UntagResource removes tags by key; keys the key lacks are ignored.
func (k *Keyring) UntagResource(ctx context.Context, in *keyring.UntagResourceInput) error {
	if len(in.TagKeys) == 0 {
		return fmt.Errorf("%w: TagKeys is required", keyring.ErrValidation)
	}
	for _, key := range in.TagKeys {
		if err := validTag(keyring.Tag{TagKey: key}); err != nil {
			return err
		}
	}
	_, err := k.mutate(ctx, "UntagResource", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if pendingDeletion(rec) {
			return pendingErr(rec)
		}
		rec.Tags = slices.DeleteFunc(rec.Tags, func(t keyring.Tag) bool { return slices.Contains(in.TagKeys, t.TagKey) })
		if len(rec.Tags) == 0 {
			rec.Tags = nil
		}
		return nil
	})
	return err
}

// ListResourceTags lists a key's tags sorted by key; Marker is a tag key.
func (k *Keyring) ListResourceTags(ctx context.Context, in *keyring.ListResourceTagsInput) (*keyring.ListResourceTagsOutput, error) {
	var out *keyring.ListResourceTagsOutput
	err := k.readKey(ctx, "ListResourceTags", in.KeyId, func(e *keyEntry) error {
		page, next, err := paginate(e.rec.Tags, func(t keyring.Tag) string { return t.TagKey },
			func(m string) bool { return validTag(keyring.Tag{TagKey: m}) == nil }, in.Limit, in.Marker)
		out = &keyring.ListResourceTagsOutput{Tags: append([]keyring.Tag{}, page...), NextMarker: next, Truncated: next != ""}
		return err
	})
	return out, err
}

// UpdateKeyDescription replaces a key's description (at most 8192
// characters).
func (k *Keyring) UpdateKeyDescription(ctx context.Context, in *keyring.UpdateKeyDescriptionInput) error {
	if len(in.Description) > maxDescription {
		return fmt.Errorf("%w: Description longer than %d", keyring.ErrValidation, maxDescription)
	}
	_, err := k.mutate(ctx, "UpdateKeyDescription", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if pendingDeletion(rec) {
			return pendingErr(rec)
		}
		rec.Description = in.Description
		return nil
	})
	return err
}
