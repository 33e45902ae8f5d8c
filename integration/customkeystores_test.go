package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestServeCustomKeyStores drives the custom key store operations of
// `kmsfs serve` with the AWS SDK for Go: they answer as AWS answers an
// account without custom key stores (issue 9), and the SDK decodes each
// answer into its typed error.
func TestServeCustomKeyStores(t *testing.T) {
	s := startServer(t)
	c := s.client(s.accessKey("--name", "alice"))
	ctx := context.Background()
	storeID := aws.String("cks-1234567890abcdef0")

	list := must[*kms.DescribeCustomKeyStoresOutput](t, "DescribeCustomKeyStores")(c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}))
	if list.CustomKeyStores == nil || len(list.CustomKeyStores) != 0 || list.Truncated {
		t.Errorf("DescribeCustomKeyStores: %+v, want an empty list", list)
	}
	n := 0
	for p := kms.NewDescribeCustomKeyStoresPaginator(c, &kms.DescribeCustomKeyStoresInput{Limit: aws.Int32(1)}); p.HasMorePages(); {
		n += len(must[*kms.DescribeCustomKeyStoresOutput](t, "DescribeCustomKeyStores page")(p.NextPage(ctx)).CustomKeyStores)
	}
	if n != 0 {
		t.Errorf("paging DescribeCustomKeyStores found %d stores", n)
	}

	var notFound *types.CustomKeyStoreNotFoundException
	check := func(what string, err error, target any, code string) {
		t.Helper()
		wantCode(t, what, err, code)
		if err != nil && !errors.As(err, target) {
			t.Errorf("%s: %v is not the SDK's %T", what, err, target)
		}
	}
	_, err := c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: storeID})
	check("DescribeCustomKeyStores by ID", err, &notFound, "CustomKeyStoreNotFoundException")
	_, err = c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("ExampleKeyStore")})
	check("DescribeCustomKeyStores by name", err, &notFound, "CustomKeyStoreNotFoundException")
	_, err = c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: storeID})
	check("ConnectCustomKeyStore", err, &notFound, "CustomKeyStoreNotFoundException")
	_, err = c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: storeID})
	check("DisconnectCustomKeyStore", err, &notFound, "CustomKeyStoreNotFoundException")
	_, err = c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: storeID})
	check("DeleteCustomKeyStore", err, &notFound, "CustomKeyStoreNotFoundException")
	_, err = c.UpdateCustomKeyStore(ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: storeID, NewCustomKeyStoreName: aws.String("renamed")})
	check("UpdateCustomKeyStore", err, &notFound, "CustomKeyStoreNotFoundException")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{CustomKeyStoreId: storeID, Origin: types.OriginTypeAwsCloudhsm})
	check("CreateKey in a custom key store", err, &notFound, "CustomKeyStoreNotFoundException")

	var noCluster *types.CloudHsmClusterNotFoundException
	_, err = c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:     aws.String("ExampleKeyStore"),
		CloudHsmClusterId:      aws.String("cluster-1a23b4cdefg"),
		TrustAnchorCertificate: aws.String("-----BEGIN CERTIFICATE-----"),
		KeyStorePassword:       aws.String("kmsPswd1"),
	})
	check("CreateCustomKeyStore (CloudHSM)", err, &noCluster, "CloudHsmClusterNotFoundException")
	var unreachable *types.XksProxyUriUnreachableException
	_, err = c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:   aws.String("ExampleExternalKeyStore"),
		CustomKeyStoreType:   types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint,
		XksProxyUriEndpoint:  aws.String("https://xks.example.com"),
		XksProxyUriPath:      aws.String("/kms/xks/v1"),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String("ABCDE12345670EXAMPLE"), RawSecretAccessKey: aws.String("DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo="),
		},
	})
	check("CreateCustomKeyStore (external)", err, &unreachable, "XksProxyUriUnreachableException")

	// The server is still well: an ordinary key works.
	must[*kms.CreateKeyOutput](t, "CreateKey")(c.CreateKey(ctx, &kms.CreateKeyInput{}))
}
