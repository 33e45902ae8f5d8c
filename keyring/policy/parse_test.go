package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/policy"
)

func TestParseMalformed(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	ok := `{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`
	tests := []struct {
		name, doc, want string // want: a substring of the message
	}{
		{"not json", `{`, "not valid JSON"},
		{"array", `[]`, "must be a JSON object"},
		{"empty", ``, "must be a JSON object"},
		{"trailing data", stmt(ok) + `{}`, "not valid JSON"},
		{"bad version", `{"Version":"2020-01-01","Statement":` + ok + `}`, "Version must be"},
		{"numeric version", `{"Version":2012,"Statement":` + ok + `}`, "Version must be"},
		{"unknown member", `{"Version":"2012-10-17","Statment":[]}`, `unknown policy member "Statment"`},
		{"no statement", `{"Version":"2012-10-17"}`, "Statement must be"},
		{"empty statement array", `{"Version":"2012-10-17","Statement":[]}`, "Statement must be"},
		{"statement string", `{"Version":"2012-10-17","Statement":"x"}`, "statement 0: " + policy.ErrMalformedPolicy.Error() + ": statement must be a JSON object"},
		{"bad effect", stmt(`{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}`), `statement 0: policy: malformed policy document: Effect must be`},
		{"no effect", stmt(`{"Principal":"*","Action":"kms:*","Resource":"*"}`), "Effect must be"},
		{"second statement", stmt(ok + `,{"Effect":"Deny","Action":"kms:*","Resource":"*"}`), "statement 1: policy: malformed policy document: statement has neither Principal nor NotPrincipal"},
		{"both principals", stmt(`{"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*"}`), "both Principal and NotPrincipal"},
		{"principal bad string", stmt(`{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"kms:*","Resource":"*"}`), `Principal must be "*"`},
		{"principal bad arn", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1111:root"},"Action":"kms:*","Resource":"*"}`), `invalid principal "arn:aws:iam::1111:root"`},
		{"principal wildcard arn", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"}`), `invalid principal`},
		{"duplicate effect", stmt(`{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), `duplicate member "Effect"`},
		{"duplicate condition key", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a:b":"1","a:b":"2"}}}`), `duplicate member "a:b"`},
		{"duplicate top-level", `{"Statement":[],"Statement":` + ok + `}`, `duplicate member "Statement"`},
		{"principal empty object", stmt(`{"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"}`), "names no principal"},
		{"principal unknown type", stmt(`{"Effect":"Allow","Principal":{"Aws":"*"},"Action":"kms:*","Resource":"*"}`), `unknown principal type "Aws"`},
		{"principal number", stmt(`{"Effect":"Allow","Principal":{"AWS":123},"Action":"kms:*","Resource":"*"}`), "must be a string or a non-empty array"},
		{"principal empty list", stmt(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"}`), "must be a string or a non-empty array"},
		{"no action", stmt(`{"Effect":"Allow","Principal":"*","Resource":"*"}`), "neither Action nor NotAction"},
		{"bad action", stmt(`{"Effect":"Allow","Principal":"*","Action":"Decrypt","Resource":"*"}`), `invalid action "Decrypt"`},
		{"action null", stmt(`{"Effect":"Allow","Principal":"*","Action":null,"Resource":"*"}`), "Action must be"},
		{"action list of numbers", stmt(`{"Effect":"Allow","Principal":"*","Action":[1],"Resource":"*"}`), "Action must be"},
		{"no resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`), "neither Resource nor NotResource"},
		{"bad resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"key/1"}`), `invalid resource "key/1"`},
		{"unknown statement member", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Conditions":{}}`), `unknown statement member "Conditions"`},
		{"bad sid", stmt(`{"Sid":1,"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), "Sid must be a string"},
		{"unknown operator", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqual":{"kms:ViaService":"x"}}}`), `unknown condition operator "StringEqual"`},
		{"NullIfExists", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"kms:ViaService":"true"}}}`), "unknown condition operator"},
		{"date unsupported", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`), "unknown condition operator"},
		{"condition not object", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":[]}`), "Condition must be a JSON object"},
		{"condition key without colon", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"ViaService":"x"}}}`), "is not service:name"},
		{"condition value object", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":{"a":1}}}}`), "values must be strings, numbers or booleans"},
		{"condition empty values", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":[]}}}`), "needs a value"},
		{"bad ip", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), "not an IP address or CIDR block"},
		{"bad number", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"kms:EncryptionContext:n":"ten"}}}`), "is not a number"},
		{"bad bool", stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"yes"}}}`), `is not "true" or "false"`},
		{"too big", stmt(ok + strings.Repeat(","+ok, 600)), "more than the 32768-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if !errors.Is(err, policy.ErrMalformedPolicy) {
				t.Fatalf("Parse error %v does not wrap ErrMalformedPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for name, doc := range map[string]string{
		"no version":        `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`,
		"legacy version":    `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["*"],"Resource":["*"]}}`,
		"service principal": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"logs.us-east-1.amazonaws.com"},"Action":"kms:Encrypt*","Resource":"*"}]}`,
		"sts and numbers":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s"},"Action":"kms:Decrypt","Resource":"*","Condition":{"NumericEquals":{"kms:EncryptionContext:n":[1,2.5]},"Bool":{"kms:GrantIsForAWSResource":false}}}]}`,
		"operator case":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"forallvalues:stringequalsifexists":{"KMS:encryptioncontextkeys":"a"}}}]}`,
		"policy lists":      policies["admins-users"],
		"same names apart":  `{"Statement":[{"Sid":"a","Effect":"Allow","Principal":{"AWS":["*"]},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a:b":"1"},"StringLike":{"a:b":["x","y"]}}},{"Sid":"b","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := policy.Parse([]byte(doc)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
	for name, doc := range policies {
		if _, err := policy.Parse([]byte(doc)); err != nil {
			t.Errorf("policy %s: %v", name, err)
		}
	}
}

// TestMissingKeys pins IAM's rules for a condition whose key the request
// lacks (here kms:ViaService on a direct call).
func TestMissingKeys(t *testing.T) {
	tests := []struct {
		op    string
		value string
		want  policy.Decision
	}{
		{"StringEquals", "x", policy.ImplicitDeny},
		{"StringNotEquals", "x", policy.Allow},
		{"StringEqualsIfExists", "x", policy.Allow},
		{"StringLike", "*", policy.ImplicitDeny},
		{"StringNotLike", "*", policy.Allow},
		{"ArnLike", "arn:*", policy.ImplicitDeny},
		{"ArnNotEquals", "arn:*", policy.Allow},
		{"Null", "true", policy.Allow},
		{"Null", "false", policy.ImplicitDeny},
		{"ForAllValues:StringEquals", "x", policy.Allow},
		{"ForAnyValue:StringEquals", "x", policy.ImplicitDeny},
		{"ForAnyValue:StringNotEquals", "x", policy.ImplicitDeny},
		{"ForAnyValue:StringEqualsIfExists", "x", policy.Allow},
		{"Bool", "false", policy.ImplicitDeny},
		{"BoolIfExists", "false", policy.Allow},
		{"NumericLessThan", "5", policy.ImplicitDeny},
		{"NumericNotEquals", "5", policy.Allow},
		{"IpAddress", "10.0.0.0/8", policy.ImplicitDeny},
		{"NotIpAddress", "10.0.0.0/8", policy.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.op+"="+tt.value, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{%q:{"kms:ViaService":%q}}}]}`, tt.op, tt.value)
			p, err := policy.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			r := &keyring.AuthzRequest{Principal: alice, Action: "kms:Decrypt", KeyARN: keyARN}
			if got := p.Evaluate(r); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNotPrincipalNotResource(t *testing.T) {
	doc := []byte(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","NotResource":"arn:aws:kms:*:*:key/secret-*"},
	  {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:role/KeyAdmin"]},"Action":"kms:Disable*","Resource":"*"}]}`)
	p, err := policy.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		caller keyring.Principal
		action string
		key    string
		want   policy.Decision
	}{
		{alice, "kms:Decrypt", keyARN, policy.Allow},
		{alice, "kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/secret-1", policy.ImplicitDeny},
		{alice, "kms:DisableKey", keyARN, policy.ExplicitDeny},
		{admin, "kms:DisableKeyRotation", keyARN, policy.Allow},
		{outsider, "kms:DisableKey", keyARN, policy.ExplicitDeny},
	}
	for _, tt := range tests {
		r := &keyring.AuthzRequest{Principal: tt.caller, Action: tt.action, KeyARN: tt.key}
		if got := p.Evaluate(r); got != tt.want {
			t.Errorf("%s %s on %s = %v, want %v", tt.caller.ARN, tt.action, tt.key, got, tt.want)
		}
	}
	if got := p.Evaluate(nil); got != policy.ImplicitDeny {
		t.Errorf("Evaluate(nil) = %v", got)
	}
	if got := (*policy.Policy)(nil).Evaluate(&keyring.AuthzRequest{}); got != policy.ImplicitDeny {
		t.Errorf("nil policy Evaluate = %v", got)
	}
}

func TestDefaultPolicy(t *testing.T) {
	want := `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
	got := policy.DefaultPolicy(acct)
	if string(got) != want {
		t.Fatalf("DefaultPolicy =\n%s\nwant\n%s", got, want)
	}
	if !json.Valid(got) {
		t.Fatal("DefaultPolicy is not valid JSON")
	}
}

func TestAuthorizeSpecialCases(t *testing.T) {
	var a policy.Authorizer
	bg := context.Background()
	// No key: CreateKey, ListKeys... any authenticated principal.
	if err := a.Authorize(bg, &keyring.AuthzRequest{Principal: outsider, Action: "kms:CreateKey"}); err != nil {
		t.Errorf("CreateKey: %v", err)
	}
	checkErr(t, a.Authorize(bg, &keyring.AuthzRequest{Action: "kms:ListKeys"}),
		"User: anonymous is not authorized to perform: kms:ListKeys on resource: * because no resource-based policy allows the kms:ListKeys action")
	if err := a.Authorize(bg, nil); !errors.Is(err, keyring.ErrAccessDenied) {
		t.Errorf("nil request = %v", err)
	}
	// No stored policy: the default policy of the key's account.
	r := &keyring.AuthzRequest{Principal: alice, Action: "kms:Decrypt", KeyARN: keyARN}
	if err := a.Authorize(bg, r); err != nil {
		t.Errorf("default policy, same account: %v", err)
	}
	r.Principal = outsider
	checkErr(t, a.Authorize(bg, r), "User: arn:aws:iam::444455556666:user/Eve is not authorized to perform: kms:Decrypt on resource: "+keyARN+" because no resource-based policy allows the kms:Decrypt action")
	// A stored policy that does not parse refuses, as an access denial.
	r = &keyring.AuthzRequest{Principal: root, Action: "kms:Decrypt", KeyARN: keyARN, Policy: []byte(`{"Statement":`)}
	for range 2 { // the second time from the cache
		err := a.Authorize(bg, r)
		if !errors.Is(err, keyring.ErrAccessDenied) || errors.Is(err, policy.ErrMalformedPolicy) {
			t.Errorf("broken stored policy = %v, want a bare access denial", err)
		}
	}
}

func TestAuthorizerCacheBounded(t *testing.T) {
	a := policy.Authorizer{CacheSize: 4}
	for i := range 50 {
		doc := fmt.Sprintf(`{"Id":"%d","Statement":{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"kms:*","Resource":"*"}}`, i, alice.ARN)
		r := &keyring.AuthzRequest{Principal: alice, Action: "kms:Decrypt", KeyARN: keyARN, Policy: []byte(doc)}
		if err := a.Authorize(context.Background(), r); err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
		r.Principal = bob
		if err := a.Authorize(context.Background(), r); err == nil {
			t.Fatalf("policy %d allowed bob", i)
		}
	}
	if n := a.CachedPolicies(); n > 4 {
		t.Errorf("cache holds %d policies, limit 4", n)
	}
}

func TestWouldLockOut(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		caller keyring.Principal
		want   bool
	}{
		{"default, root", policies["default"], root, false},
		{"default, user of account", policies["default"], alice, false},
		{"default, other account", policies["default"], outsider, true},
		{"admins, admin", policies["admins-users"], admin, false},
		{"admins, key user", policies["admins-users"], alice, true},
		{"not-action, alice", policies["not-action"], alice, true},
		{"explicit deny", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*"}]}`, root, true},
		{"malformed", `{`, root, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.WouldLockOut([]byte(tt.doc), tt.caller, keyARN); got != tt.want {
				t.Errorf("WouldLockOut = %v, want %v", got, tt.want)
			}
		})
	}
	if !errors.Is(policy.ErrLockout, policy.ErrMalformedPolicy) {
		t.Error("ErrLockout does not wrap ErrMalformedPolicy")
	}
}

func TestValidateGrant(t *testing.T) {
	valid := func() *keyring.Grant {
		return &keyring.Grant{GranteePrincipal: alice.ARN, Operations: []string{"Decrypt", "Encrypt"}}
	}
	tests := []struct {
		name string
		edit func(g *keyring.Grant)
		want string // "" valid; else a substring
	}{
		{"valid", func(*keyring.Grant) {}, ""},
		{"role grantee", func(g *keyring.Grant) { g.GranteePrincipal = admin.ARN }, ""},
		{"root grantee", func(g *keyring.Grant) { g.GranteePrincipal = root.ARN }, ""},
		{"service grantee", func(g *keyring.Grant) { g.GranteePrincipal = "logs.us-east-1.amazonaws.com" }, ""},
		{"every operation", func(g *keyring.Grant) { g.Operations = policy.GrantOperations() }, ""},
		{"name", func(g *keyring.Grant) { g.Name = "ebs:vol-1/a_b-c" }, ""},
		{"retiring", func(g *keyring.Grant) { g.RetiringPrincipal = admin.ARN }, ""},
		{"subset", func(g *keyring.Grant) {
			g.Constraints = &keyring.GrantConstraints{EncryptionContextSubset: ctx{"a": "b"}}
		}, ""},
		{"empty grantee", func(g *keyring.Grant) { g.GranteePrincipal = "" }, "GranteePrincipal"},
		{"bare account grantee", func(g *keyring.Grant) { g.GranteePrincipal = acct }, "GranteePrincipal"},
		{"bad arn", func(g *keyring.Grant) { g.GranteePrincipal = "arn:aws:iam::1:user/x" }, "GranteePrincipal"},
		{"bad retiring", func(g *keyring.Grant) { g.RetiringPrincipal = "bob" }, "RetiringPrincipal"},
		{"no operations", func(g *keyring.Grant) { g.Operations = nil }, "at least one operation"},
		{"bad operation", func(g *keyring.Grant) { g.Operations = []string{"Decrypt", "PutKeyPolicy"} }, `"PutKeyPolicy" is not one of`},
		{"operation case", func(g *keyring.Grant) { g.Operations = []string{"decrypt"} }, `"decrypt"`},
		{"both constraints", func(g *keyring.Grant) {
			g.Constraints = &keyring.GrantConstraints{EncryptionContextSubset: ctx{"a": "b"}, EncryptionContextEquals: ctx{"a": "b"}}
		}, "not both"},
		{"bad name", func(g *keyring.Grant) { g.Name = "has space" }, "Name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := valid()
			tt.edit(g)
			err := policy.ValidateGrant(g)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateGrant: %v", err)
				}
				return
			}
			if !errors.Is(err, policy.ErrInvalidGrant) || !errors.Is(err, keyring.ErrValidation) {
				t.Fatalf("ValidateGrant = %v, want ErrInvalidGrant and keyring.ErrValidation", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ValidateGrant = %q, want it to say %q", err, tt.want)
			}
		})
	}
	if err := policy.ValidateGrant(nil); !errors.Is(err, policy.ErrInvalidGrant) {
		t.Errorf("ValidateGrant(nil) = %v", err)
	}
	ops := policy.GrantOperations()
	if len(ops) != 17 || !policy.IsGrantOperation("DeriveSharedSecret") || policy.IsGrantOperation("PutKeyPolicy") {
		t.Errorf("GrantOperations = %v", ops)
	}
	ops[0] = "mutated"
	if !policy.IsGrantOperation("Decrypt") {
		t.Error("GrantOperations returned the package's own slice")
	}
}

// TestArnLike: Arn* operators match field by field, so a wildcard does not
// cross a colon, while the resource field may hold colons and slashes.
func TestArnLike(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"arn:aws:iam::*:user/Alice", alice.ARN, true},
		{"arn:aws:iam::111122223333:user/*", alice.ARN, true},
		{"arn:aws:iam::111122223333:*", admin.ARN, true},
		{"arn:aws:iam::111122223333:role/*", alice.ARN, false},
		{"arn:aws:*", alice.ARN, false},
		{"arn:*:*:*:*:*", alice.ARN, true},
		{"arn:aws:iam::1111222233?3:user/Alice", alice.ARN, true},
		{"arn:aws:iam::111122223333:user/alice", alice.ARN, false},
	}
	for _, tt := range tests {
		doc := fmt.Sprintf(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":%q}}}}`, tt.pattern)
		p, err := policy.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		c := alice
		c.ARN = tt.arn
		got := p.Evaluate(&keyring.AuthzRequest{Principal: c, Action: "kms:Decrypt", KeyARN: keyARN}) == policy.Allow
		if got != tt.want {
			t.Errorf("ArnLike %q on %q = %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
}
