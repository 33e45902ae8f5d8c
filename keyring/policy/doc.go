// Package policy decides who may use a kmsfs key: it parses AWS KMS key
// policies and evaluates them, together with the key's grants, for each
// request, so that policies written for AWS KMS work unchanged against
// `kmsfs serve`.
//
// # What it owns
//
//   - [Parse]: validation of a key policy document as AWS KMS validates it
//     at CreateKey and PutKeyPolicy (32 KiB limit, Version, Statement,
//     Effect, Principal/NotPrincipal, Action/NotAction,
//     Resource/NotResource, Condition). Errors wrap [ErrMalformedPolicy]
//     (MalformedPolicyDocumentException).
//   - [Policy.Evaluate]: IAM's evaluation order (an explicit Deny beats an
//     Allow, which beats the implicit deny), action wildcards matched
//     without regard to case, resource ARN wildcards, and the condition
//     operators String*, Numeric*, Bool, Null, Arn*, IpAddress and
//     NotIpAddress, each with ...IfExists and the ForAnyValue: and
//     ForAllValues: set qualifiers (Null takes neither).
//   - [Authorizer]: the [keyring.Authorizer] of a policy-enforcing key
//     service, adding grants ([ValidateGrant], [GrantOperations]) and
//     AWS-worded denials ([DeniedError]).
//   - [DefaultPolicy] and [WouldLockOut] (the key policy lockout safety
//     check, whose refusal is [ErrLockout]).
//
// An [Authorizer] keeps parsed policies in a small cache keyed by the
// SHA-256 of the policy bytes ([DefaultCacheSize] entries unless set), so
// evaluating a request does not re-parse its key's policy and a changed
// policy is never served from a stale entry.
//
// Condition keys understood: kms:EncryptionContext:<key>,
// kms:EncryptionContextKeys, kms:CallerAccount, kms:ViaService,
// kms:RequestAlias, kms:KeySpec, kms:KeyUsage, kms:GrantIsForAWSResource,
// aws:username, aws:SourceIp, aws:PrincipalArn and aws:PrincipalAccount.
// Any other key is absent from every request. Condition keys are matched
// without regard to case, and so is the <key> inside
// kms:EncryptionContext:<key> (AWS documents the same); values keep their
// case. An absent key follows IAM's rule: the condition is false, except
// that it is true for ...IfExists, ForAllValues: and negated operators
// (StringNotEquals, ArnNotLike, NotIpAddress, ...), and Null tests for it.
//
// # What it refuses
//
// It does not authenticate (SigV4 belongs to the transport, which names the
// caller with [keyring.WithPrincipal]), store policies or grants (the key
// service passes them in each [keyring.AuthzRequest]), or speak any
// protocol. It never sees key material.
//
// # kmsfs-specific choices
//
//   - kmsfs has no IAM. In AWS, a key policy naming an account (its root
//     ARN arn:aws:iam::<account>:root, or the bare 12-digit id) delegates
//     to that account's IAM policies; here it admits every authenticated
//     principal of the account, as if each had an IAM policy allowing
//     kms:*. The same holds for a grant whose grantee is an account root.
//     Service, Federated and CanonicalUser principals parse but never match.
//   - Operations that take no key (CreateKey, ListKeys, ListAliases, ...)
//     are allowed to every authenticated principal; [Authorizer] sees them
//     as requests without a KeyARN.
//   - A key without a stored policy is evaluated under [DefaultPolicy] of
//     its account; a stored policy that no longer parses refuses every
//     request.
//   - kms:GrantIsForAWSResource is always false: no AWS service calls
//     kmsfs on a user's behalf.
//   - Principals in a policy are checked for form only; AWS also checks
//     that they exist.
//   - Policy variables (${aws:username}) are not expanded, and the Date*
//     operators are not supported (Parse refuses them).
package policy
