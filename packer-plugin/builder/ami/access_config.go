//go:generate packer-sdc struct-markdown ../../.sdc/packer-plugin-elemental/builder/ami/access_config.go

package ami

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// AccessConfig holds the AWS credentials, with packer-plugin-amazon's
// names. Unset fields fall back to the SDK's standard chain: environment,
// shared config and credentials files, SSO, instance metadata.
type AccessConfig struct {
	// The build region (default: `AWS_REGION` or the profile's).
	Region string `mapstructure:"region" required:"true"`
	// Access key ID. Kept out of the logs.
	AccessKey string `mapstructure:"access_key" required:"false"`
	// Secret access key. Kept out of the logs.
	SecretKey string `mapstructure:"secret_key" required:"false"`
	// Session token for temporary credentials. Kept out of the logs.
	Token string `mapstructure:"token" required:"false"`
	// Accept `region` and `ami_regions` values that do not look like AWS
	// region names (private partitions, emulators). Default false.
	SkipRegionValidation bool `mapstructure:"skip_region_validation" required:"false"`
	// Profile of the shared config and credentials files.
	Profile string `mapstructure:"profile" required:"false"`
	// Role to assume with STS before publishing.
	AssumeRole AssumeRoleConfig `mapstructure:"assume_role" required:"false"`
	// One endpoint that serves EC2, EBS and S3 (an emulator or a private
	// gateway). Per-service endpoints come from `AWS_ENDPOINT_URL_EC2`,
	// `AWS_ENDPOINT_URL_EBS` and `AWS_ENDPOINT_URL_S3`.
	CustomEndpointEc2 string `mapstructure:"custom_endpoint_ec2" required:"false"`
	// Attempts per API call before giving up. Default 10.
	MaxRetries int `mapstructure:"max_retries" required:"false"`
}

// AssumeRoleConfig is the `assume_role` block, as in packer-plugin-amazon:
// a role to assume with STS, with the credentials above, before anything
// is published.
type AssumeRoleConfig struct {
	// ARN of the role to assume.
	RoleARN string `mapstructure:"role_arn" required:"false"`
	// External ID the role's trust policy asks for.
	ExternalID string `mapstructure:"external_id" required:"false"`
	// Session name (default `elemental-publish`).
	SessionName string `mapstructure:"session_name" required:"false"`
}

// filterSecrets keeps the keys out of Packer's logs.
func (c *AccessConfig) filterSecrets() {
	for _, s := range []string{c.AccessKey, c.SecretKey, c.Token} {
		if s != "" {
			packersdk.LogSecretFilter.Set(s)
		}
	}
}

func (c *AccessConfig) validate() []error {
	var errs []error
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, fmt.Errorf("access_key and secret_key: set both or neither"))
	}
	if c.Token != "" && c.AccessKey == "" {
		errs = append(errs, fmt.Errorf("token: needs access_key and secret_key"))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("max_retries: %d is negative", c.MaxRetries))
	}
	return errs
}

// awsConfig loads the SDK configuration these settings describe.
func (c *AccessConfig) awsConfig(ctx context.Context) (awssdk.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if c.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.Token)))
	}
	if c.CustomEndpointEc2 != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(c.CustomEndpointEc2))
	}
	if c.MaxRetries > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(c.MaxRetries))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if r := c.AssumeRole; r.RoleARN != "" {
		name := r.SessionName
		if name == "" {
			name = "elemental-publish"
		}
		prov := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), r.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = name
			if r.ExternalID != "" {
				o.ExternalID = awssdk.String(r.ExternalID)
			}
		})
		cfg.Credentials = awssdk.NewCredentialsCache(prov)
	}
	if cfg.Region == "" {
		return awssdk.Config{}, fmt.Errorf("region: not set and not found in the environment or profile")
	}
	return cfg, nil
}
