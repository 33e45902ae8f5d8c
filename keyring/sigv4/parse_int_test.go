package sigv4

import (
	"slices"
	"testing"
)

var authorizationSeeds = []string{
	// As boto3 sends it (SignedHeaders of botocore 1.43).
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=a5fbde7e1e0f5a864b3f5d82c2699401a6f3d3f1c17acbe57217c3cb58f617e6",
	// As aws-sdk-go-v2 sends it.
	"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/kms/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target, Signature=0ba8caedff8527c7ffc121ceb4e358564b6501a4eb56385570e15dffb9b835a8",
	// No spaces after the commas, which AWS also accepts.
	"AWS4-HMAC-SHA256 Credential=A/20261122/r/kms/aws4_request,SignedHeaders=host,Signature=0000000000000000000000000000000000000000000000000000000000000000",
	"AWS4-HMAC-SHA256 Credential=A/B/C/D/E, SignedHeaders=host, SignedHeaders=host, Signature=00",
	"AWS4-HMAC-SHA256 ",
	"AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature=",
	"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
	"",
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want authorization
	}{
		{in: authorizationSeeds[0], ok: true, want: authorization{
			accessKeyID: "AKIDEXAMPLE", date: "20261122", region: "us-east-1", service: "kms", terminator: "aws4_request",
			signedHeaders: "content-type;host;x-amz-date;x-amz-target",
			headers:       []string{"content-type", "host", "x-amz-date", "x-amz-target"},
			signature:     "a5fbde7e1e0f5a864b3f5d82c2699401a6f3d3f1c17acbe57217c3cb58f617e6",
		}},
		{in: authorizationSeeds[2], ok: true, want: authorization{
			accessKeyID: "A", date: "20261122", region: "r", service: "kms", terminator: "aws4_request",
			signedHeaders: "host", headers: []string{"host"}, signature: "0000000000000000000000000000000000000000000000000000000000000000",
		}},
		{in: authorizationSeeds[3]},
		{in: authorizationSeeds[4]},
		{in: authorizationSeeds[5]},
		{in: authorizationSeeds[6]},
		{in: authorizationSeeds[7]},
		{in: "AWS4-HMAC-SHA256 Credential=A/20261122/r/kms/aws4_request, SignedHeaders=Host, Signature=" + zeros64},
		{in: "AWS4-HMAC-SHA256 Credential=A/20261122/r/kms/aws4_request, SignedHeaders=host, Signature=" + zeros64[1:] + "A"},
		{in: "AWS4-HMAC-SHA256 Credential=A/20261122/r/kms/aws4_request/x, SignedHeaders=host, Signature=" + zeros64},
		{in: "AWS4-HMAC-SHA256 Credential=A/20261122/r/kms/aws4_request, SignedHeaders=host, Signature=" + zeros64 + ", Extra=1"},
		{in: "AWS4-HMAC-SHA256 Credential=A/20261122/r/kms/aws4_request, SignedHeaders=host;;x, Signature=" + zeros64},
	}
	for i, tt := range tests {
		got, ok := parseAuthorization(tt.in)
		if ok != tt.ok {
			t.Errorf("%d: parseAuthorization(%q) ok = %v, want %v", i, tt.in, ok, tt.ok)
			continue
		}
		if ok && !equalAuthorization(got, tt.want) {
			t.Errorf("%d: parseAuthorization(%q) = %+v, want %+v", i, tt.in, got, tt.want)
		}
	}
}

const zeros64 = "0000000000000000000000000000000000000000000000000000000000000000"

func equalAuthorization(a, b authorization) bool {
	return a.accessKeyID == b.accessKeyID && a.date == b.date && a.region == b.region &&
		a.service == b.service && a.terminator == b.terminator && a.signedHeaders == b.signedHeaders &&
		slices.Equal(a.headers, b.headers) && a.signature == b.signature
}

// FuzzParseAuthorization checks that the parser never panics on attacker
// input and that what it accepts formats back to a header that parses to
// the same value.
func FuzzParseAuthorization(f *testing.F) {
	if len(authorizationSeeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, s := range authorizationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseAuthorization(s)
		if !ok {
			return
		}
		b, ok := parseAuthorization(a.String())
		if !ok || !equalAuthorization(a, b) {
			t.Fatalf("%q parsed to %+v, which formats to %q and parses to %+v, %v", s, a, a.String(), b, ok)
		}
	})
}
