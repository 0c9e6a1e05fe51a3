package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type awsProviderModel struct {
	Region       types.String `tfsdk:"region"`
	Profile      types.String `tfsdk:"profile"`
	AccessKey    types.String `tfsdk:"access_key"`
	SecretKey    types.String `tfsdk:"secret_key"`
	SessionToken types.String `tfsdk:"session_token"`
	Endpoints    *struct {
		EC2 types.String `tfsdk:"ec2"`
		EBS types.String `tfsdk:"ebs"`
		S3  types.String `tfsdk:"s3"`
		STS types.String `tfsdk:"sts"`
	} `tfsdk:"endpoints"`
}

type gcpProviderModel struct {
	Project                   types.String `tfsdk:"project"`
	Credentials               types.String `tfsdk:"credentials"`
	ImpersonateServiceAccount types.String `tfsdk:"impersonate_service_account"`
	WithoutAuthentication     types.Bool   `tfsdk:"without_authentication"`
	Endpoints                 *struct {
		Compute types.String `tfsdk:"compute"`
		Storage types.String `tfsdk:"storage"`
	} `tfsdk:"endpoints"`
}

// awsSettings are the AWS settings after environment fallbacks. Empty
// values leave the SDK's default credential chain and endpoints in charge
// (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_EC2, SSO, IMDS, …).
type awsSettings struct {
	Region, Profile, AccessKey, SecretKey, SessionToken string
	EC2Endpoint, EBSEndpoint, S3Endpoint, STSEndpoint   string
}

// gcpSettings are the Google Cloud settings after environment fallbacks;
// empty credentials mean Application Default Credentials.
type gcpSettings struct {
	Project, Credentials, ImpersonateServiceAccount string
	ComputeEndpoint, StorageEndpoint                string
	WithoutAuthentication                           bool
}

func awsFromModel(m *awsProviderModel, getenv func(string) string) awsSettings {
	if m == nil {
		m = &awsProviderModel{}
	}
	s := awsSettings{
		Region:       stringOr(m.Region, firstEnv(getenv, "AWS_REGION", "AWS_DEFAULT_REGION")),
		Profile:      stringOr(m.Profile, getenv("AWS_PROFILE")),
		AccessKey:    stringOr(m.AccessKey, getenv("AWS_ACCESS_KEY_ID")),
		SecretKey:    stringOr(m.SecretKey, getenv("AWS_SECRET_ACCESS_KEY")),
		SessionToken: stringOr(m.SessionToken, getenv("AWS_SESSION_TOKEN")),
	}
	generic := getenv("AWS_ENDPOINT_URL")
	s.EC2Endpoint = firstEnv(getenv, "AWS_ENDPOINT_URL_EC2")
	s.EBSEndpoint = firstEnv(getenv, "AWS_ENDPOINT_URL_EBS")
	s.S3Endpoint = firstEnv(getenv, "AWS_ENDPOINT_URL_S3")
	s.STSEndpoint = firstEnv(getenv, "AWS_ENDPOINT_URL_STS")
	if e := m.Endpoints; e != nil {
		s.EC2Endpoint = stringOr(e.EC2, s.EC2Endpoint)
		s.EBSEndpoint = stringOr(e.EBS, s.EBSEndpoint)
		s.S3Endpoint = stringOr(e.S3, s.S3Endpoint)
		s.STSEndpoint = stringOr(e.STS, s.STSEndpoint)
	}
	for _, p := range []*string{&s.EC2Endpoint, &s.EBSEndpoint, &s.S3Endpoint, &s.STSEndpoint} {
		if *p == "" {
			*p = generic
		}
	}
	return s
}

func gcpFromModel(m *gcpProviderModel, getenv func(string) string) gcpSettings {
	if m == nil {
		m = &gcpProviderModel{}
	}
	s := gcpSettings{
		Project:                   stringOr(m.Project, firstEnv(getenv, "GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")),
		Credentials:               stringOr(m.Credentials, firstEnv(getenv, "GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS")),
		ImpersonateServiceAccount: stringOr(m.ImpersonateServiceAccount, getenv("GOOGLE_IMPERSONATE_SERVICE_ACCOUNT")),
		ComputeEndpoint:           getenv("GOOGLE_COMPUTE_CUSTOM_ENDPOINT"),
		StorageEndpoint:           getenv("GOOGLE_STORAGE_CUSTOM_ENDPOINT"),
		WithoutAuthentication:     boolOr(m.WithoutAuthentication, ""),
	}
	if e := m.Endpoints; e != nil {
		s.ComputeEndpoint = stringOr(e.Compute, s.ComputeEndpoint)
		s.StorageEndpoint = stringOr(e.Storage, s.StorageEndpoint)
	}
	return s
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func awsProviderBlock() schema.SingleNestedBlock {
	str := func(desc string, sensitive bool) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Sensitive: sensitive, MarkdownDescription: desc}
	}
	return schema.SingleNestedBlock{
		MarkdownDescription: "AWS settings for `elemental_image` blocks `aws {}`. Unset values follow the " +
			"standard AWS credential chain (environment, shared config and credentials files, SSO, IMDS).",
		Attributes: map[string]schema.Attribute{
			"region":        str("Default region (the first region to publish in). Env: `AWS_REGION`, `AWS_DEFAULT_REGION`.", false),
			"profile":       str("Shared config profile. Env: `AWS_PROFILE`.", false),
			"access_key":    str("Access key ID. Env: `AWS_ACCESS_KEY_ID`.", true),
			"secret_key":    str("Secret access key. Env: `AWS_SECRET_ACCESS_KEY`.", true),
			"session_token": str("Session token. Env: `AWS_SESSION_TOKEN`.", true),
		},
		Blocks: map[string]schema.Block{
			"endpoints": schema.SingleNestedBlock{
				MarkdownDescription: "Endpoint overrides (emulators, VPC endpoints). Env: `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`.",
				Attributes: map[string]schema.Attribute{
					"ec2": str("EC2 endpoint URL.", false),
					"ebs": str("EBS direct APIs endpoint URL.", false),
					"s3":  str("S3 endpoint URL.", false),
					"sts": str("STS endpoint URL.", false),
				},
			},
		},
	}
}

func gcpProviderBlock() schema.SingleNestedBlock {
	str := func(desc string, sensitive bool) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Sensitive: sensitive, MarkdownDescription: desc}
	}
	return schema.SingleNestedBlock{
		MarkdownDescription: "Google Cloud settings for `elemental_image` blocks `gcp {}`. Unset credentials " +
			"mean Application Default Credentials.",
		Attributes: map[string]schema.Attribute{
			"project":                     str("Default project. Env: `GOOGLE_PROJECT`, `GOOGLE_CLOUD_PROJECT`, `CLOUDSDK_CORE_PROJECT`.", false),
			"credentials":                 str("Service account key JSON, or a path to it. Env: `GOOGLE_CREDENTIALS`, `GOOGLE_APPLICATION_CREDENTIALS`.", true),
			"impersonate_service_account": str("Service account to impersonate. Env: `GOOGLE_IMPERSONATE_SERVICE_ACCOUNT`.", false),
			"without_authentication": schema.BoolAttribute{Optional: true,
				MarkdownDescription: "Send no credentials (for emulators behind `endpoints`)."},
		},
		Blocks: map[string]schema.Block{
			"endpoints": schema.SingleNestedBlock{
				MarkdownDescription: "Endpoint overrides. Env: `GOOGLE_COMPUTE_CUSTOM_ENDPOINT`, `GOOGLE_STORAGE_CUSTOM_ENDPOINT`.",
				Attributes: map[string]schema.Attribute{
					"compute": str("Compute Engine API base URL.", false),
					"storage": str("Cloud Storage API base URL.", false),
				},
			},
		},
	}
}
