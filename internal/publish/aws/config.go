package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ConfigOptions select credentials beyond the standard chain.
type ConfigOptions struct {
	Region      string // overrides AWS_REGION / the profile's region
	Profile     string // shared config profile (SSO profiles work)
	RoleARN     string // assume this role with STS
	ExternalID  string
	SessionName string // default "elemental-publish"
}

// LoadConfig loads an aws.Config the standard way (environment, shared
// config and credentials files, SSO, IMDS, AWS_ENDPOINT_URL and the
// per-service AWS_ENDPOINT_URL_* variables) and, when RoleARN is set,
// wraps the credentials in an STS assume-role provider.
func LoadConfig(ctx context.Context, o ConfigOptions) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS config (profile %q): %w", o.Profile, err)
	}
	if o.RoleARN != "" {
		name := o.SessionName
		if name == "" {
			name = "elemental-publish"
		}
		prov := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.RoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = name
			if o.ExternalID != "" {
				ao.ExternalID = aws.String(o.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(prov)
	}
	return cfg, nil
}

// NewRetryer returns the SDK standard retryer with maxAttempts attempts,
// jittered exponential backoff capped at maxBackoff, and no client-side
// retry quota (a long upload must not run out of retry tokens). Publish
// uses NewRetryer(10, 20*time.Second) when the config has no Retryer.
func NewRetryer(maxAttempts int, maxBackoff time.Duration) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
	})
}

// withRetryer returns cfg with the default retryer when it has none.
func withRetryer(cfg aws.Config) aws.Config {
	if cfg.Retryer == nil {
		cfg.Retryer = func() aws.Retryer { return NewRetryer(10, 20*time.Second) }
	}
	return cfg
}
