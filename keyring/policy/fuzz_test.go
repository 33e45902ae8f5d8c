package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/policy"
)

// FuzzParse: Parse of any bytes either fails with ErrMalformedPolicy or
// yields a policy that evaluates, for a spread of requests, without
// panicking, and whose WouldLockOut agrees with Evaluate.
func FuzzParse(f *testing.F) {
	if len(policies) == 0 {
		f.Fatal("no seed policies")
	}
	for _, doc := range policies {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"NotAction":"kms:*","NotResource":"arn:*"}}`))
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAllValues:NumericGreaterThanIfExists":{"kms:EncryptionContext:n":[1e308,"-0"]},"Null":{"x:y":true}}}}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[]}`))
	f.Add([]byte(`null`))
	requests := []*keyring.AuthzRequest{
		{Principal: alice, Action: "kms:Decrypt", KeyARN: keyARN, EncryptionContext: map[string]string{"Department": "IT", "n": "5", "path": "/a"}, ViaService: "s3.us-east-1.amazonaws.com"},
		{Principal: outsider, Action: "kms:PutKeyPolicy", KeyARN: keyARN, RequestAlias: "alias/x"},
		{Principal: keyring.Principal{ARN: "arn:aws:iam::111122223333:role/R", SourceIP: "not an ip"}, Action: "KMS:*", KeyARN: "arn:*"},
		{},
	}
	var a policy.Authorizer
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := policy.Parse(doc)
		if err != nil {
			if !errors.Is(err, policy.ErrMalformedPolicy) {
				t.Fatalf("Parse error %v does not wrap ErrMalformedPolicy", err)
			}
			if p != nil {
				t.Fatal("Parse returned a policy with an error")
			}
			return
		}
		for _, r := range requests {
			d := p.Evaluate(r)
			rr := *r
			rr.Policy = doc
			err := a.Authorize(context.Background(), &rr)
			if (d == policy.Allow) != (err == nil) && rr.KeyARN != "" {
				t.Fatalf("Evaluate = %v but Authorize = %v", d, err)
			}
		}
		for _, c := range []keyring.Principal{alice, outsider} {
			r := &keyring.AuthzRequest{Principal: c, Action: "kms:PutKeyPolicy", KeyARN: keyARN, KeyAccount: acct}
			if policy.WouldLockOut(doc, c, keyARN) != (p.Evaluate(r) != policy.Allow) {
				t.Fatalf("WouldLockOut disagrees with Evaluate for %s", c.ARN)
			}
		}
	})
}

// BenchmarkAuthorize: a cached 5-statement policy and 10 grants, for a
// request that the last grant allows (the slowest path that allows).
func BenchmarkAuthorize(b *testing.B) {
	doc := []byte(`{"Version":"2012-10-17","Statement":[
	  {"Sid":"admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*"],"Resource":"*"},
	  {"Sid":"users","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/Alice","arn:aws:iam::111122223333:user/Carol"]},"Action":["kms:Encrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"},
	  {"Sid":"ec","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Dave"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}},
	  {"Sid":"ip","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","198.51.100.0/24"]}}},
	  {"Sid":"keys","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"secret-*"}}}]}`)
	grants := make([]keyring.Grant, 10)
	for i := range grants {
		grants[i] = keyring.Grant{KeyId: keyARN, GranteePrincipal: "arn:aws:iam::111122223333:role/Worker", Operations: []string{"Encrypt"}}
	}
	grants[9] = keyring.Grant{KeyId: keyARN, GranteePrincipal: alice.ARN, Operations: []string{"Decrypt", "Encrypt"},
		Constraints: &keyring.GrantConstraints{EncryptionContextSubset: map[string]string{"Department": "IT"}}}
	r := &keyring.AuthzRequest{Principal: alice, Action: "kms:Decrypt", KeyARN: keyARN, KeyAccount: acct, Policy: doc,
		Grants: grants, EncryptionContext: map[string]string{"Department": "IT", "Project": "Alpha"}}
	var a policy.Authorizer
	ctx := context.Background()
	if err := a.Authorize(ctx, r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := a.Authorize(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
