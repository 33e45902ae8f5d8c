package kmsclient

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// DefaultEndpointRegion is the signing region used with an explicit
// endpoint when neither ClientConfig.Region nor the AWS configuration
// names one: kmsfs serve accepts any region, AWS KMS needs the right one.
const DefaultEndpointRegion = "us-east-1"

// ClientConfig says where the KMS is. Credentials are not part of it: the
// SDK finds them in the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...),
// the shared config and credentials files, or an instance role.
type ClientConfig struct {
	Endpoint   string       // base URL of an AWS-KMS-compatible service; "" is AWS KMS
	Region     string       // "" takes the AWS configuration's
	Profile    string       // a shared-config profile; "" is the default or AWS_PROFILE
	HTTPClient *http.Client // nil is the SDK's
	// MaxAttempts bounds the SDK's attempts per call (its retries); 0
	// keeps the SDK's default. Config.Timeout bounds them all together.
	MaxAttempts int
}

// NewClient builds the AWS SDK's KMS client for cc from the standard AWS
// configuration chain.
func NewClient(ctx context.Context, cc ClientConfig) (*kms.Client, error) {
	var opts []func(*config.LoadOptions) error
	if cc.Region != "" {
		opts = append(opts, config.WithRegion(cc.Region))
	}
	if cc.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cc.Profile))
	}
	if cc.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cc.HTTPClient))
	}
	if cc.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cc.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kmsclient: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if cc.Endpoint == "" {
			return nil, fmt.Errorf("%w: no AWS region (give --region, or set AWS_REGION or a profile's region)", ErrBadConfig)
		}
		cfg.Region = DefaultEndpointRegion
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		if cc.Endpoint != "" {
			o.BaseEndpoint = aws.String(cc.Endpoint)
		}
	}), nil
}

// randRead fills b from the system CSPRNG.
func randRead(b []byte) (int, error) { return rand.Read(b) }
