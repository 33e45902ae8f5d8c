package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/policy"
)

const (
	acct   = "111122223333"
	other  = "444455556666"
	keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

var (
	root     = keyring.Principal{ARN: "arn:aws:iam::111122223333:root", Account: acct}
	alice    = keyring.Principal{ARN: "arn:aws:iam::111122223333:user/Alice", Account: acct, UserName: "Alice", SourceIP: "192.0.2.10"}
	bob      = keyring.Principal{ARN: "arn:aws:iam::111122223333:user/Bob", Account: acct, UserName: "Bob", SourceIP: "198.51.100.7"}
	admin    = keyring.Principal{ARN: "arn:aws:iam::111122223333:role/KeyAdmin", Account: acct}
	outsider = keyring.Principal{ARN: "arn:aws:iam::444455556666:user/Eve", Account: other, UserName: "Eve"}
)

// Policies adapted from the AWS KMS Developer Guide's key policy examples.
var policies = map[string]string{
	"default": string(policy.DefaultPolicy(acct)),

	// The console's default policy, minus the account-root statement (which
	// in kmsfs would admit the whole account): key administrators and key
	// users.
	"admins-users": `{
  "Version": "2012-10-17",
  "Id": "key-consolepolicy-3",
  "Statement": [
    {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
     "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:user/Alice"]},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*"},
    {"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/Alice"},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
     "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}
  ]
}`,

	// kms:EncryptionContext:<key>: Bob may decrypt only the IT department's data.
	"ec-department": `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:user/Bob"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
    "Resource": "*",
    "Condition": {"StringEquals": {"kms:EncryptionContext:Department": "IT"}}
  }]
}`,

	// ForAllValues + kms:EncryptionContextKeys: only these keys may appear.
	// The Null condition additionally requires an encryption context.
	"ec-keys": `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": "111122223333"},
    "Action": "kms:Encrypt",
    "Resource": "*",
    "Condition": {
      "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]},
      "Null": {"kms:EncryptionContextKeys": "false"}
    }
  }]
}`,

	// An explicit Deny under a ...IfExists condition beats the account
	// statement: Decrypt is refused unless the request says it is via S3.
	"deny-decrypt": `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "DenyDecryptOutsideS3", "Effect": "Deny",
     "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringNotEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                   "BoolIfExists": {"kms:GrantIsForAWSResource": "false"}}}
  ]
}`,

	// NotAction: Alice may do anything but manage the key's policy.
	"not-action": `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/Alice"},
     "NotAction": ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"], "Resource": "*"},
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
     "Action": "kms:*", "Resource": "*"}
  ]
}`,

	// aws:SourceIp: use of the key only from 192.0.2.0/24.
	"source-ip": `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]},
                   "StringEquals": {"kms:CallerAccount": "111122223333"}}},
    {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32", "203.0.113.5"]}}}
  ]
}`,

	// Assorted operators on one key.
	"operators": `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "like", "Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt",
     "Resource": "arn:aws:kms:*:111122223333:key/*",
     "Condition": {"StringLike": {"kms:EncryptionContext:path": "/home/*/docs/?.txt"},
                   "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/*"}}},
    {"Sid": "numeric", "Effect": "Allow", "Principal": "*", "Action": "kms:GenerateDataKey",
     "Resource": "*",
     "Condition": {"NumericLessThanEquals": {"kms:EncryptionContext:size": 4096},
                   "StringEqualsIgnoreCase": {"aws:username": "alice"}}},
    {"Sid": "any", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "tenant-*"},
                   "StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT", "kms:KeyUsage": "ENCRYPT_DECRYPT"}}},
    {"Sid": "alias", "Effect": "Allow", "Principal": "*", "Action": "kms:DescribeKey", "Resource": "*",
     "Condition": {"StringEquals": {"kms:RequestAlias": "alias/shared"}}},
    {"Sid": "not-other", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}}},
    {"Sid": "wrong-key", "Effect": "Allow", "Principal": "*", "Action": "kms:Sign",
     "Resource": "arn:aws:kms:us-east-1:111122223333:key/other"}
  ]
}`,
}

type ctx = map[string]string

func TestAuthorize(t *testing.T) {
	allow := ""
	implicit := func(p keyring.Principal, action string) string {
		return "User: " + p.ARN + " is not authorized to perform: " + action + " on resource: " + keyARN +
			" because no resource-based policy allows the " + action + " action"
	}
	explicit := func(p keyring.Principal, action string) string {
		return "User: " + p.ARN + " is not authorized to perform: " + action + " on resource: " + keyARN +
			" with an explicit deny in a resource-based policy"
	}
	tests := []struct {
		name, policy string
		caller       keyring.Principal
		action       string
		ec           ctx
		alias, via   string
		want         string // "" allows; else the exact error message
	}{
		{"default/root", "default", root, "kms:PutKeyPolicy", nil, "", "", allow},
		{"default/user of account", "default", alice, "kms:Decrypt", nil, "", "", allow},
		{"default/role of account", "default", admin, "kms:ScheduleKeyDeletion", nil, "", "", allow},
		{"default/other account", "default", outsider, "kms:Decrypt", nil, "", "", implicit(outsider, "kms:Decrypt")},

		{"admins/admin manages", "admins-users", admin, "kms:PutKeyPolicy", nil, "", "", allow},
		{"admins/admin describes", "admins-users", admin, "kms:DescribeKey", nil, "", "", allow},
		{"admins/admin cannot decrypt", "admins-users", admin, "kms:Decrypt", nil, "", "", implicit(admin, "kms:Decrypt")},
		{"admins/user encrypts", "admins-users", alice, "kms:Encrypt", nil, "", "", allow},
		{"admins/user reencrypts (wildcard)", "admins-users", alice, "kms:ReEncryptFrom", nil, "", "", allow},
		{"admins/user generates (wildcard)", "admins-users", alice, "kms:GenerateDataKeyWithoutPlaintext", nil, "", "", allow},
		{"admins/action case-insensitive", "admins-users", alice, "KMS:decrypt", nil, "", "", allow},
		{"admins/user cannot manage", "admins-users", alice, "kms:PutKeyPolicy", nil, "", "", implicit(alice, "kms:PutKeyPolicy")},
		{"admins/grant not for AWS resource", "admins-users", alice, "kms:CreateGrant", nil, "", "", implicit(alice, "kms:CreateGrant")},
		{"admins/root not named", "admins-users", root, "kms:Decrypt", nil, "", "", implicit(root, "kms:Decrypt")},
		{"admins/other user", "admins-users", bob, "kms:Encrypt", nil, "", "", implicit(bob, "kms:Encrypt")},

		{"ec/department IT", "ec-department", bob, "kms:Decrypt", ctx{"Department": "IT"}, "", "", allow},
		{"ec/key case-insensitive", "ec-department", bob, "kms:Decrypt", ctx{"department": "IT"}, "", "", allow},
		{"ec/value case-sensitive", "ec-department", bob, "kms:Decrypt", ctx{"Department": "it"}, "", "", implicit(bob, "kms:Decrypt")},
		{"ec/other department", "ec-department", bob, "kms:Decrypt", ctx{"Department": "HR"}, "", "", implicit(bob, "kms:Decrypt")},
		{"ec/no context", "ec-department", bob, "kms:Decrypt", nil, "", "", implicit(bob, "kms:Decrypt")},
		{"ec/extra pairs", "ec-department", bob, "kms:GenerateDataKey", ctx{"Department": "IT", "Project": "x"}, "", "", allow},
		{"ec/not bob", "ec-department", alice, "kms:Decrypt", ctx{"Department": "IT"}, "", "", implicit(alice, "kms:Decrypt")},

		{"eckeys/subset", "ec-keys", alice, "kms:Encrypt", ctx{"Department": "IT"}, "", "", allow},
		{"eckeys/both", "ec-keys", bob, "kms:Encrypt", ctx{"Department": "IT", "Project": "Alpha"}, "", "", allow},
		{"eckeys/extra key", "ec-keys", alice, "kms:Encrypt", ctx{"Department": "IT", "Owner": "a"}, "", "", implicit(alice, "kms:Encrypt")},
		{"eckeys/key case matters", "ec-keys", alice, "kms:Encrypt", ctx{"department": "IT"}, "", "", implicit(alice, "kms:Encrypt")},
		{"eckeys/empty context (Null)", "ec-keys", alice, "kms:Encrypt", nil, "", "", implicit(alice, "kms:Encrypt")},
		{"eckeys/bare account id", "ec-keys", admin, "kms:Encrypt", ctx{"Project": "p"}, "", "", allow},
		{"eckeys/other account", "ec-keys", outsider, "kms:Encrypt", ctx{"Project": "p"}, "", "", implicit(outsider, "kms:Encrypt")},

		{"deny/decrypt direct", "deny-decrypt", alice, "kms:Decrypt", nil, "", "", explicit(alice, "kms:Decrypt")},
		{"deny/root too", "deny-decrypt", root, "kms:Decrypt", nil, "", "", explicit(root, "kms:Decrypt")},
		{"deny/via s3", "deny-decrypt", alice, "kms:Decrypt", nil, "", "s3.us-east-1.amazonaws.com", allow},
		{"deny/via other service", "deny-decrypt", alice, "kms:Decrypt", nil, "", "ebs.us-east-1.amazonaws.com", explicit(alice, "kms:Decrypt")},
		{"deny/encrypt unaffected", "deny-decrypt", alice, "kms:Encrypt", nil, "", "", allow},
		{"deny/outsider implicit on encrypt", "deny-decrypt", outsider, "kms:Encrypt", nil, "", "", implicit(outsider, "kms:Encrypt")},
		{"deny/outsider explicit on decrypt", "deny-decrypt", outsider, "kms:Decrypt", nil, "", "", explicit(outsider, "kms:Decrypt")},

		{"notaction/decrypt", "not-action", alice, "kms:Decrypt", nil, "", "", allow},
		{"notaction/disable", "not-action", alice, "kms:DisableKey", nil, "", "", allow},
		{"notaction/put policy", "not-action", alice, "kms:PutKeyPolicy", nil, "", "", implicit(alice, "kms:PutKeyPolicy")},
		{"notaction/schedule deletion", "not-action", alice, "kms:ScheduleKeyDeletion", nil, "", "", implicit(alice, "kms:ScheduleKeyDeletion")},
		{"notaction/admin put policy", "not-action", admin, "kms:PutKeyPolicy", nil, "", "", allow},

		{"ip/inside", "source-ip", alice, "kms:Encrypt", nil, "", "", allow},
		{"ip/outside: explicit", "source-ip", bob, "kms:Encrypt", nil, "", "", explicit(bob, "kms:Encrypt")},
		{"ip/v6 inside", "source-ip", keyring.Principal{ARN: bob.ARN, Account: acct, SourceIP: "2001:db8::1"}, "kms:Decrypt", nil, "", "", allow},
		{"ip/single address not allowed but not denied", "source-ip", keyring.Principal{ARN: bob.ARN, Account: acct, SourceIP: "203.0.113.5"}, "kms:Decrypt", nil, "", "", implicit(bob, "kms:Decrypt")},
		{"ip/v4-mapped v6", "source-ip", keyring.Principal{ARN: bob.ARN, Account: acct, SourceIP: "::ffff:192.0.2.99"}, "kms:Decrypt", nil, "", "", allow},
		{"ip/unix socket: no address, NotIpAddress holds", "source-ip", root, "kms:Encrypt", nil, "", "", explicit(root, "kms:Encrypt")},
		{"ip/inside but other account", "source-ip", keyring.Principal{ARN: outsider.ARN, Account: other, SourceIP: "192.0.2.1"}, "kms:Encrypt", nil, "", "", implicit(outsider, "kms:Encrypt")},

		{"ops/like", "operators", alice, "kms:Encrypt", ctx{"path": "/home/alice/docs/a.txt"}, "", "", allow},
		{"ops/like ? is one char", "operators", alice, "kms:Encrypt", ctx{"path": "/home/alice/docs/ab.txt"}, "", "", implicit(alice, "kms:Encrypt")},
		{"ops/arnlike role refused", "operators", admin, "kms:Encrypt", ctx{"path": "/home/a/docs/a.txt"}, "", "", implicit(admin, "kms:Encrypt")},
		{"ops/numeric ok", "operators", alice, "kms:GenerateDataKey", ctx{"size": "4096"}, "", "", allow},
		{"ops/numeric too big", "operators", alice, "kms:GenerateDataKey", ctx{"size": "4097"}, "", "", implicit(alice, "kms:GenerateDataKey")},
		{"ops/numeric not a number", "operators", alice, "kms:GenerateDataKey", ctx{"size": "big"}, "", "", implicit(alice, "kms:GenerateDataKey")},
		{"ops/ignorecase username", "operators", keyring.Principal{ARN: alice.ARN, Account: acct, UserName: "ALICE"}, "kms:GenerateDataKey", ctx{"size": "1"}, "", "", allow},
		{"ops/foranyvalue", "operators", bob, "kms:Decrypt", ctx{"x": "1", "tenant-7": "y"}, "", "", allow},
		{"ops/foranyvalue none", "operators", bob, "kms:Decrypt", ctx{"x": "1"}, "", "", implicit(bob, "kms:Decrypt")},
		{"ops/foranyvalue missing", "operators", bob, "kms:Decrypt", nil, "", "", implicit(bob, "kms:Decrypt")},
		{"ops/alias", "operators", bob, "kms:DescribeKey", nil, "alias/shared", "", allow},
		{"ops/other alias", "operators", bob, "kms:DescribeKey", nil, "alias/other", "", implicit(bob, "kms:DescribeKey")},
		{"ops/no alias", "operators", bob, "kms:DescribeKey", nil, "", "", implicit(bob, "kms:DescribeKey")},
		{"ops/other account denied", "operators", outsider, "kms:DescribeKey", nil, "alias/shared", "", explicit(outsider, "kms:DescribeKey")},
		{"ops/resource mismatch", "operators", alice, "kms:Sign", nil, "", "", implicit(alice, "kms:Sign")},
	}
	var a policy.Authorizer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, ok := policies[tt.policy]
			if !ok {
				t.Fatalf("no policy %q", tt.policy)
			}
			r := &keyring.AuthzRequest{
				Principal: tt.caller, Action: tt.action, KeyARN: keyARN, KeyAccount: acct,
				KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
				Policy: []byte(doc), EncryptionContext: tt.ec, RequestAlias: tt.alias, ViaService: tt.via,
			}
			checkErr(t, a.Authorize(context.Background(), r), tt.want)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("allowed, want %q", want)
	}
	if !errors.Is(err, keyring.ErrAccessDenied) {
		t.Errorf("error %v does not wrap keyring.ErrAccessDenied", err)
	}
	if err.Error() != want {
		t.Errorf("error\n got %q\nwant %q", err, want)
	}
}

func TestGrants(t *testing.T) {
	// A policy that allows nothing to Alice and denies Decrypt to Bob.
	doc := []byte(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"kms:Decrypt","Resource":"*"}]}`)
	grant := func(grantee string, ops []string, c *keyring.GrantConstraints) keyring.Grant {
		return keyring.Grant{KeyId: keyARN, GrantId: "g", GranteePrincipal: grantee, Operations: ops, Constraints: c}
	}
	dec := []string{"Decrypt", "Encrypt"}
	tests := []struct {
		name   string
		grants []keyring.Grant
		caller keyring.Principal
		action string
		ec     ctx
		ok     bool
		denyEx bool
	}{
		{"no grants", nil, alice, "kms:Decrypt", nil, false, false},
		{"grant allows", []keyring.Grant{grant(alice.ARN, dec, nil)}, alice, "kms:Decrypt", nil, true, false},
		{"other operation", []keyring.Grant{grant(alice.ARN, dec, nil)}, alice, "kms:GenerateDataKey", nil, false, false},
		{"operation case matters", []keyring.Grant{grant(alice.ARN, []string{"decrypt"}, nil)}, alice, "kms:Decrypt", nil, false, false},
		{"other grantee", []keyring.Grant{grant(bob.ARN, dec, nil)}, alice, "kms:Decrypt", nil, false, false},
		{"second grant allows", []keyring.Grant{grant(bob.ARN, dec, nil), grant(alice.ARN, dec, nil)}, alice, "kms:Encrypt", nil, true, false},
		{"explicit deny beats grant", []keyring.Grant{grant(bob.ARN, dec, nil)}, bob, "kms:Decrypt", nil, false, true},
		{"grant to account root", []keyring.Grant{grant(root.ARN, dec, nil)}, alice, "kms:Decrypt", nil, true, false},
		{"grant to other account root", []keyring.Grant{grant("arn:aws:iam::444455556666:root", dec, nil)}, alice, "kms:Decrypt", nil, false, false},
		{"subset holds", []keyring.Grant{grant(alice.ARN, dec, &keyring.GrantConstraints{EncryptionContextSubset: ctx{"Dept": "IT"}})}, alice, "kms:Decrypt", ctx{"Dept": "IT", "x": "y"}, true, false},
		{"subset key case-insensitive", []keyring.Grant{grant(alice.ARN, dec, &keyring.GrantConstraints{EncryptionContextSubset: ctx{"Dept": "IT"}})}, alice, "kms:Decrypt", ctx{"dept": "IT"}, true, false},
		{"subset value case-sensitive", []keyring.Grant{grant(alice.ARN, dec, &keyring.GrantConstraints{EncryptionContextSubset: ctx{"Dept": "IT"}})}, alice, "kms:Decrypt", ctx{"Dept": "it"}, false, false},
		{"subset missing", []keyring.Grant{grant(alice.ARN, dec, &keyring.GrantConstraints{EncryptionContextSubset: ctx{"Dept": "IT"}})}, alice, "kms:Decrypt", nil, false, false},
		{"equals holds", []keyring.Grant{grant(alice.ARN, dec, &keyring.GrantConstraints{EncryptionContextEquals: ctx{"Dept": "IT"}})}, alice, "kms:Encrypt", ctx{"Dept": "IT"}, true, false},
		{"equals extra pair", []keyring.Grant{grant(alice.ARN, dec, &keyring.GrantConstraints{EncryptionContextEquals: ctx{"Dept": "IT"}})}, alice, "kms:Encrypt", ctx{"Dept": "IT", "x": "y"}, false, false},
		{"constraints skip DescribeKey", []keyring.Grant{grant(alice.ARN, []string{"DescribeKey"}, &keyring.GrantConstraints{EncryptionContextEquals: ctx{"Dept": "IT"}})}, alice, "kms:DescribeKey", nil, true, false},
		{"grant cannot allow PutKeyPolicy", []keyring.Grant{grant(alice.ARN, []string{"PutKeyPolicy"}, nil)}, alice, "kms:PutKeyPolicy", nil, false, false},
	}
	var a policy.Authorizer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &keyring.AuthzRequest{Principal: tt.caller, Action: tt.action, KeyARN: keyARN, KeyAccount: acct,
				Policy: doc, Grants: tt.grants, EncryptionContext: tt.ec}
			err := a.Authorize(context.Background(), r)
			if tt.ok != (err == nil) {
				t.Fatalf("Authorize = %v, want allowed=%v", err, tt.ok)
			}
			var de *policy.DeniedError
			if err != nil && (!errors.As(err, &de) || de.Explicit != tt.denyEx) {
				t.Fatalf("Authorize = %#v, want explicit=%v", err, tt.denyEx)
			}
		})
	}
}
