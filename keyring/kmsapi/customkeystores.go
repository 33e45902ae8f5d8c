package kmsapi

// Custom key stores (CloudHSM and external key stores) are out of scope
// (issue 9). Their operations still answer as AWS KMS answers an account
// that has none, never UnknownOperationException, so that tooling which
// probes for them (DescribeCustomKeyStores) sees an empty list, and a
// request naming one gets the exception AWS documents for it:
//
//   - DescribeCustomKeyStores: 200 with an empty CustomKeyStores list; a
//     CustomKeyStoreId or CustomKeyStoreName gets
//     CustomKeyStoreNotFoundException, and a Marker (none was ever
//     returned) InvalidMarkerException.
//   - ConnectCustomKeyStore, DisconnectCustomKeyStore,
//     DeleteCustomKeyStore, UpdateCustomKeyStore: any CustomKeyStoreId
//     gets CustomKeyStoreNotFoundException.
//   - CreateCustomKeyStore: UnsupportedOperationException is not among
//     its documented errors. A CloudHSM key store (CustomKeyStoreType
//     AWS_CLOUDHSM, the default) needs a cluster of the account: it gets
//     CloudHsmClusterNotFoundException. An external key store needs its
//     proxy reachable before it is created: PUBLIC_ENDPOINT gets
//     XksProxyUriUnreachableException, VPC_ENDPOINT_SERVICE
//     XksProxyVpcEndpointServiceNotFoundException.
//   - CreateKey and GenerateRandom with a CustomKeyStoreId get
//     CustomKeyStoreNotFoundException before the service sees them.
//
// A required member that is missing, or a value outside the model's
// bounds or enums, is ValidationException first, as AWS checks its input
// model before anything else. Secrets (KeyStorePassword,
// XksProxyAuthenticationCredential) are never decoded: only their
// presence is checked, and the request body is cleared after the call.

import (
	"context"
	"fmt"

	"github.com/kmsfs/kmsfs/keyring"
)

// The X-Amz-Targets of the custom key store operations.
const (
	targetCreateCustomKeyStore     = trentPrefix + "CreateCustomKeyStore"
	targetConnectCustomKeyStore    = trentPrefix + "ConnectCustomKeyStore"
	targetDisconnectCustomKeyStore = trentPrefix + "DisconnectCustomKeyStore"
	targetDeleteCustomKeyStore     = trentPrefix + "DeleteCustomKeyStore"
	targetDescribeCustomKeyStores  = trentPrefix + "DescribeCustomKeyStores"
	targetUpdateCustomKeyStore     = trentPrefix + "UpdateCustomKeyStore"
)

// Bounds of the AWS model (botocore kms 2014-11-01).
const (
	maxCustomKeyStoreID   = 64
	maxCustomKeyStoreName = 256
	maxListLimit          = 1000
	maxClusterID          = 24
)

// noCustomKeyStores says why, in every message.
const noCustomKeyStores = "this key service has no custom key stores"

// customKeyStoreOps serves the custom key store operations, and wraps
// ops' CreateKey and GenerateRandom (if served) so that a
// CustomKeyStoreId names no store. It reads ops and returns the entries
// to add or replace.
func customKeyStoreOps(ops map[string]endpoint) map[string]endpoint {
	m := map[string]endpoint{
		targetCreateCustomKeyStore:     op(createCustomKeyStore),
		targetConnectCustomKeyStore:    op(customKeyStoreNotFound),
		targetDisconnectCustomKeyStore: op(customKeyStoreNotFound),
		targetDeleteCustomKeyStore:     op(customKeyStoreNotFound),
		targetUpdateCustomKeyStore:     op(customKeyStoreNotFound),
		targetDescribeCustomKeyStores:  op(describeCustomKeyStores),
	}
	for _, target := range []string{trentPrefix + "CreateKey", targetGenerateRandom} {
		if ep, ok := ops[target]; ok {
			m[target] = refuseCustomKeyStoreID(ep)
		}
	}
	return m
}

// present records whether a JSON member was sent (and not null) without
// keeping its value: the members it is used for hold secrets.
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = string(b) != "null"
	return nil
}

type createCustomKeyStoreInput struct {
	CustomKeyStoreName               string
	CustomKeyStoreType               string
	CloudHsmClusterId                string
	TrustAnchorCertificate           string
	KeyStorePassword                 present
	XksProxyConnectivity             string
	XksProxyUriEndpoint              string
	XksProxyUriPath                  string
	XksProxyVpcEndpointServiceName   string
	XksProxyAuthenticationCredential present
}

type createCustomKeyStoreOutput struct {
	CustomKeyStoreId string
}

func createCustomKeyStore(_ context.Context, in *createCustomKeyStoreInput) (*createCustomKeyStoreOutput, error) {
	if err := checkLen("CustomKeyStoreName", in.CustomKeyStoreName, true, maxCustomKeyStoreName); err != nil {
		return nil, err
	}
	switch in.CustomKeyStoreType {
	case "", "AWS_CLOUDHSM":
		switch {
		case in.CloudHsmClusterId == "":
			return nil, validationf("CloudHsmClusterId is required for an AWS_CLOUDHSM custom key store")
		case len(in.CloudHsmClusterId) > maxClusterID:
			return nil, validationf("CloudHsmClusterId is longer than %d characters", maxClusterID)
		case in.TrustAnchorCertificate == "":
			return nil, validationf("TrustAnchorCertificate is required for an AWS_CLOUDHSM custom key store")
		case !bool(in.KeyStorePassword):
			return nil, validationf("KeyStorePassword is required for an AWS_CLOUDHSM custom key store")
		}
		return nil, fmt.Errorf("%w: %q (%s)", keyring.ErrCloudHsmClusterNotFound, in.CloudHsmClusterId, noCustomKeyStores)
	case "EXTERNAL_KEY_STORE":
		switch {
		case in.XksProxyUriEndpoint == "" || in.XksProxyUriPath == "":
			return nil, validationf("XksProxyUriEndpoint and XksProxyUriPath are required for an EXTERNAL_KEY_STORE custom key store")
		case !bool(in.XksProxyAuthenticationCredential):
			return nil, validationf("XksProxyAuthenticationCredential is required for an EXTERNAL_KEY_STORE custom key store")
		}
		switch in.XksProxyConnectivity {
		case "PUBLIC_ENDPOINT":
			return nil, fmt.Errorf("%w: the proxy cannot be reached (%s)", keyring.ErrXksProxyUriUnreachable, noCustomKeyStores)
		case "VPC_ENDPOINT_SERVICE":
			if err := checkLen("XksProxyVpcEndpointServiceName", in.XksProxyVpcEndpointServiceName, true, 64); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %q (%s)", keyring.ErrXksProxyVpcEndpointServiceNotFound, in.XksProxyVpcEndpointServiceName, noCustomKeyStores)
		case "":
			return nil, validationf("XksProxyConnectivity is required for an EXTERNAL_KEY_STORE custom key store")
		default:
			return nil, validationf("XksProxyConnectivity must be PUBLIC_ENDPOINT or VPC_ENDPOINT_SERVICE")
		}
	default:
		return nil, validationf("CustomKeyStoreType must be AWS_CLOUDHSM or EXTERNAL_KEY_STORE")
	}
}

// customKeyStoreIDInput is the one member Connect-, Disconnect-, Delete-
// and UpdateCustomKeyStore have in common, and the only one this package
// reads of them (UpdateCustomKeyStore's others may hold secrets).
type customKeyStoreIDInput struct {
	CustomKeyStoreId string
}

// customKeyStoreNotFound answers an operation on one custom key store:
// whatever its ID, there is none.
func customKeyStoreNotFound(_ context.Context, in *customKeyStoreIDInput) (*struct{}, error) {
	if err := checkLen("CustomKeyStoreId", in.CustomKeyStoreId, true, maxCustomKeyStoreID); err != nil {
		return nil, err
	}
	return nil, notFoundCustomKeyStore(in.CustomKeyStoreId)
}

type describeCustomKeyStoresInput struct {
	CustomKeyStoreId   string
	CustomKeyStoreName string
	Limit              *int
	Marker             string
}

// customKeyStoresListEntry is an element of CustomKeyStores; the list is
// always empty, so it has no members.
type customKeyStoresListEntry struct{}

type describeCustomKeyStoresOutput struct {
	CustomKeyStores []customKeyStoresListEntry
	Truncated       bool
}

func describeCustomKeyStores(_ context.Context, in *describeCustomKeyStoresInput) (*describeCustomKeyStoresOutput, error) {
	if err := checkLen("CustomKeyStoreId", in.CustomKeyStoreId, false, maxCustomKeyStoreID); err != nil {
		return nil, err
	}
	if err := checkLen("CustomKeyStoreName", in.CustomKeyStoreName, false, maxCustomKeyStoreName); err != nil {
		return nil, err
	}
	switch {
	case in.Limit != nil && (*in.Limit < 1 || *in.Limit > maxListLimit):
		return nil, validationf("Limit must be between 1 and %d", maxListLimit)
	case in.CustomKeyStoreId != "" && in.CustomKeyStoreName != "":
		return nil, validationf("specify CustomKeyStoreId or CustomKeyStoreName, not both")
	case in.CustomKeyStoreId != "":
		return nil, notFoundCustomKeyStore(in.CustomKeyStoreId)
	case in.CustomKeyStoreName != "":
		return nil, notFoundCustomKeyStore(in.CustomKeyStoreName)
	case in.Marker != "":
		return nil, fmt.Errorf("%w: no listing of custom key stores returned this marker", keyring.ErrInvalidMarker)
	}
	return &describeCustomKeyStoresOutput{CustomKeyStores: []customKeyStoresListEntry{}}, nil
}

// refuseCustomKeyStoreID wraps ep (CreateKey, GenerateRandom): a request
// with a CustomKeyStoreId names a store that does not exist. A body that
// does not decode is left to ep, which reports it.
func refuseCustomKeyStoreID(ep endpoint) endpoint {
	return func(ctx context.Context, body []byte) (any, func(), error) {
		var in customKeyStoreIDInput
		if decodeRequest(body, &in) == nil && in.CustomKeyStoreId != "" {
			if err := checkLen("CustomKeyStoreId", in.CustomKeyStoreId, true, maxCustomKeyStoreID); err != nil {
				return nil, func() {}, err
			}
			return nil, func() {}, notFoundCustomKeyStore(in.CustomKeyStoreId)
		}
		return ep(ctx, body)
	}
}

func notFoundCustomKeyStore(idOrName string) error {
	return fmt.Errorf("%w: %q (%s)", keyring.ErrCustomKeyStoreNotFound, idOrName, noCustomKeyStores)
}

// checkLen checks a string member against the model's length bounds
// (minimum 1); "" is absent, which only a required member refuses.
func checkLen(member, v string, required bool, maxLen int) error {
	switch {
	case v == "" && required:
		return validationf("%s is required", member)
	case len(v) > maxLen:
		return validationf("%s is longer than %d characters", member, maxLen)
	}
	return nil
}

func validationf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{keyring.ErrValidation}, args...)...)
}
