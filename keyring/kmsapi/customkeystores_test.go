package kmsapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// randomFake is a fake that also serves GenerateRandom.
type randomFake struct{ *fakeService }

func (f randomFake) GenerateRandom(_ context.Context, in *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error) {
	return answer[keyring.GenerateRandomOutput](f.fakeService, "GenerateRandom", in)
}

// TestCustomKeyStoresRaw pins the __type and status of every custom key
// store operation (issue 9): what AWS answers an account without any,
// never UnknownOperationException.
func TestCustomKeyStoresRaw(t *testing.T) {
	const (
		secret  = "SECRETPASSWORD"
		cluster = `"CloudHsmClusterId":"cluster-1a23b4cdefg","TrustAnchorCertificate":"-----BEGIN CERTIFICATE-----","KeyStorePassword":"` + secret + `"`
		xks     = `"CustomKeyStoreType":"EXTERNAL_KEY_STORE","XksProxyUriEndpoint":"https://xks.example.com","XksProxyUriPath":"/kms/xks/v1",` +
			`"XksProxyAuthenticationCredential":{"AccessKeyId":"ABCDEFGHIJKLMNOPQRST","RawSecretAccessKey":"` + secret + `"}`
	)
	id := `"CustomKeyStoreId":"cks-1234567890abcdef0"`
	long := strings.Repeat("c", 65)
	tests := []struct {
		name   string
		op     string
		body   string
		status int
		typ    string
	}{
		{"describe all", "DescribeCustomKeyStores", `{}`, 200, ""},
		{"describe empty body", "DescribeCustomKeyStores", ``, 200, ""},
		{"describe limit", "DescribeCustomKeyStores", `{"Limit":1}`, 200, ""},
		{"describe by ID", "DescribeCustomKeyStores", `{` + id + `}`, 400, "CustomKeyStoreNotFoundException"},
		{"describe by name", "DescribeCustomKeyStores", `{"CustomKeyStoreName":"ExampleKeyStore"}`, 400, "CustomKeyStoreNotFoundException"},
		{"describe marker", "DescribeCustomKeyStores", `{"Marker":"abc"}`, 400, "InvalidMarkerException"},
		{"describe limit 0", "DescribeCustomKeyStores", `{"Limit":0}`, 400, "ValidationException"},
		{"describe limit 1001", "DescribeCustomKeyStores", `{"Limit":1001}`, 400, "ValidationException"},
		{"describe ID and name", "DescribeCustomKeyStores", `{` + id + `,"CustomKeyStoreName":"n"}`, 400, "ValidationException"},
		{"describe long ID", "DescribeCustomKeyStores", `{"CustomKeyStoreId":"` + long + `"}`, 400, "ValidationException"},
		{"describe bad JSON", "DescribeCustomKeyStores", `{"Limit":"x"}`, 400, "SerializationException"},

		{"connect", "ConnectCustomKeyStore", `{` + id + `}`, 400, "CustomKeyStoreNotFoundException"},
		{"disconnect", "DisconnectCustomKeyStore", `{` + id + `}`, 400, "CustomKeyStoreNotFoundException"},
		{"delete", "DeleteCustomKeyStore", `{` + id + `}`, 400, "CustomKeyStoreNotFoundException"},
		{"update", "UpdateCustomKeyStore", `{` + id + `,"NewCustomKeyStoreName":"x","KeyStorePassword":"` + secret + `"}`, 400, "CustomKeyStoreNotFoundException"},
		{"connect without ID", "ConnectCustomKeyStore", `{}`, 400, "ValidationException"},
		{"disconnect without ID", "DisconnectCustomKeyStore", `{}`, 400, "ValidationException"},
		{"delete without ID", "DeleteCustomKeyStore", `{}`, 400, "ValidationException"},
		{"update without ID", "UpdateCustomKeyStore", `{"KeyStorePassword":"` + secret + `"}`, 400, "ValidationException"},
		{"delete long ID", "DeleteCustomKeyStore", `{"CustomKeyStoreId":"` + long + `"}`, 400, "ValidationException"},

		{"create CloudHSM", "CreateCustomKeyStore", `{"CustomKeyStoreName":"ExampleKeyStore",` + cluster + `}`, 400, "CloudHsmClusterNotFoundException"},
		{"create CloudHSM typed", "CreateCustomKeyStore", `{"CustomKeyStoreName":"ExampleKeyStore","CustomKeyStoreType":"AWS_CLOUDHSM",` + cluster + `}`, 400, "CloudHsmClusterNotFoundException"},
		{"create XKS public", "CreateCustomKeyStore", `{"CustomKeyStoreName":"ExampleKeyStore",` + xks + `,"XksProxyConnectivity":"PUBLIC_ENDPOINT"}`, 400, "XksProxyUriUnreachableException"},
		{"create XKS VPC", "CreateCustomKeyStore", `{"CustomKeyStoreName":"ExampleKeyStore",` + xks + `,"XksProxyConnectivity":"VPC_ENDPOINT_SERVICE",` +
			`"XksProxyVpcEndpointServiceName":"com.amazonaws.vpce.us-east-1.vpce-svc-example1"}`, 400, "XksProxyVpcEndpointServiceNotFoundException"},
		{"create without name", "CreateCustomKeyStore", `{` + cluster + `}`, 400, "ValidationException"},
		{"create CloudHSM without cluster", "CreateCustomKeyStore", `{"CustomKeyStoreName":"n","KeyStorePassword":"` + secret + `"}`, 400, "ValidationException"},
		{"create CloudHSM without password", "CreateCustomKeyStore", `{"CustomKeyStoreName":"n","CloudHsmClusterId":"cluster-1a23b4cdefg","TrustAnchorCertificate":"c"}`, 400, "ValidationException"},
		{"create bad type", "CreateCustomKeyStore", `{"CustomKeyStoreName":"n","CustomKeyStoreType":"HSM",` + cluster + `}`, 400, "ValidationException"},
		{"create XKS without connectivity", "CreateCustomKeyStore", `{"CustomKeyStoreName":"n",` + xks + `}`, 400, "ValidationException"},
		{"create XKS VPC without service", "CreateCustomKeyStore", `{"CustomKeyStoreName":"n",` + xks + `,"XksProxyConnectivity":"VPC_ENDPOINT_SERVICE"}`, 400, "ValidationException"},
		{"create XKS without credential", "CreateCustomKeyStore", `{"CustomKeyStoreName":"n","CustomKeyStoreType":"EXTERNAL_KEY_STORE",` +
			`"XksProxyUriEndpoint":"https://xks.example.com","XksProxyUriPath":"/kms/xks/v1","XksProxyConnectivity":"PUBLIC_ENDPOINT"}`, 400, "ValidationException"},

		{"CreateKey in a store", "CreateKey", `{"Origin":"AWS_CLOUDHSM",` + id + `}`, 400, "CustomKeyStoreNotFoundException"},
		{"CreateKey long store ID", "CreateKey", `{"CustomKeyStoreId":"` + long + `"}`, 400, "ValidationException"},
		{"CreateKey bad JSON", "CreateKey", `{"CustomKeyStoreId":1}`, 400, "SerializationException"},
		{"GenerateRandom in a store", "GenerateRandom", `{"NumberOfBytes":32,` + id + `}`, 400, "CustomKeyStoreNotFoundException"},
	}
	f := fakeWithOutputs()
	_, url := newHTTPClient(t, randomFake{f}, kmsapi.HandlerOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawPost(t, url+"/", "POST", jsonType, "TrentService."+tt.op, []byte(tt.body), false)
			checkCommonHeaders(t, r)
			if strings.Contains(string(r.body), secret) {
				t.Errorf("response %s echoes a secret", r.body)
			}
			if tt.status == 200 {
				if r.status != 200 || string(r.body) != `{"CustomKeyStores":[],"Truncated":false}` {
					t.Errorf("HTTP %d %s, want 200 with an empty CustomKeyStores list", r.status, r.body)
				}
				return
			}
			typ, msg := errorFields(t, r.body)
			if r.status != tt.status || typ != tt.typ || msg == "" {
				t.Errorf("HTTP %d %s (%q), want %d %s", r.status, typ, msg, tt.status, tt.typ)
			}
		})
	}
	if got := f.input("CreateKey"); got != nil {
		t.Errorf("the service saw CreateKey %#v; a custom key store ID must not reach it", got)
	}
	if got := f.input("GenerateRandom"); got != nil {
		t.Errorf("the service saw GenerateRandom %#v", got)
	}
}

// TestCustomKeyStoreIDPassesOthers: CreateKey and GenerateRandom without a
// CustomKeyStoreId still reach the service.
func TestCustomKeyStoreIDPassesOthers(t *testing.T) {
	f := fakeWithOutputs()
	f.setOutput("GenerateRandom", &keyring.GenerateRandomOutput{Plaintext: []byte{1}})
	_, url := newHTTPClient(t, randomFake{f}, kmsapi.HandlerOptions{})
	for _, op := range []string{"CreateKey", "GenerateRandom"} {
		r := rawPost(t, url+"/", "POST", jsonType, "TrentService."+op, []byte(`{"Description":"d","NumberOfBytes":1}`), false)
		if r.status != 200 || f.input(op) == nil {
			t.Errorf("%s: HTTP %d %s; service input %v", op, r.status, r.body, f.input(op))
		}
	}
}

// TestCustomKeyStoreErrorsRoundTrip: the kmsfs client maps the new
// exception names back to their sentinels.
func TestCustomKeyStoreErrorsRoundTrip(t *testing.T) {
	for _, want := range []error{keyring.ErrCustomKeyStoreNotFound, keyring.ErrCloudHsmClusterNotFound,
		keyring.ErrXksProxyUriUnreachable, keyring.ErrXksProxyVpcEndpointServiceNotFound} {
		name, client := keyring.ErrorType(want)
		if !client || !strings.HasSuffix(name, "Exception") {
			t.Errorf("%v: %s client=%v", want, name, client)
		}
		if got := keyring.ErrorFromType(name, "m"); !errors.Is(got, want) {
			t.Errorf("%s comes back as %v, want %v", name, got, want)
		}
	}
}
