package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
	gcppub "github.com/elemental-suite/elemental/internal/publish/gcp"
)

// awsConfig loads the AWS configuration: the standard chain, then the
// provider's explicit credentials and endpoints on top.
func (s awsSettings) awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awspub.LoadConfig(ctx, awspub.ConfigOptions{Region: s.Region, Profile: s.Profile})
	if err != nil {
		return cfg, err
	}
	if s.AccessKey != "" || s.SecretKey != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, s.SessionToken))
	}
	byService := map[string]string{"EC2": s.EC2Endpoint, "EBS": s.EBSEndpoint, "S3": s.S3Endpoint, "STS": s.STSEndpoint}
	if s.EC2Endpoint != "" && s.EC2Endpoint == s.EBSEndpoint && s.EBSEndpoint == s.S3Endpoint {
		cfg.BaseEndpoint = aws.String(s.EC2Endpoint)
	}
	//nolint:staticcheck // the v1 resolver is the one hook that sets per-service endpoints for clients built elsewhere
	cfg.EndpointResolverWithOptions = aws.EndpointResolverWithOptionsFunc(func(service, _ string, _ ...any) (aws.Endpoint, error) {
		if u := byService[service]; u != "" {
			return aws.Endpoint{URL: u, HostnameImmutable: true}, nil
		}
		return aws.Endpoint{}, &aws.EndpointNotFoundError{}
	})
	return cfg, nil
}

// gcpClients builds the Cloud Storage and Compute Engine clients.
func (s gcpSettings) gcpClients(ctx context.Context) (gcppub.Clients, error) {
	o := gcppub.ClientOptions{ImpersonateServiceAccount: s.ImpersonateServiceAccount,
		ComputeEndpoint: s.ComputeEndpoint, StorageEndpoint: s.StorageEndpoint,
		WithoutAuthentication: s.WithoutAuthentication}
	switch c := strings.TrimSpace(s.Credentials); {
	case strings.HasPrefix(c, "{"):
		o.CredentialsJSON = []byte(c)
	case c != "":
		o.CredentialsFile = c
	}
	cl, err := gcppub.NewClients(ctx, o)
	if err != nil {
		return cl, fmt.Errorf("creating Google Cloud clients: %w", err)
	}
	return cl, nil
}
