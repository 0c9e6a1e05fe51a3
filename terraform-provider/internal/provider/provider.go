package provider

import (
	"context"
	"os"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Address is the provider's registry address.
const Address = "registry.terraform.io/elemental-suite/elemental"

var _ provider.Provider = (*elementalProvider)(nil)

type elementalProvider struct {
	version string
}

// New returns a function that creates the provider, as providerserver wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &elementalProvider{version: version} }
}

type providerModel struct {
	Registry *registryModel    `tfsdk:"registry"`
	AWS      *awsProviderModel `tfsdk:"aws"`
	GCP      *gcpProviderModel `tfsdk:"gcp"`
	SSH      *sshDefaultsModel `tfsdk:"ssh"`
	CacheDir types.String      `tfsdk:"cache_dir"`
}

type registryModel struct {
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
	Insecure types.Bool   `tfsdk:"insecure"`
}

type sshDefaultsModel struct {
	User           types.String `tfsdk:"user"`
	Port           types.Int64  `tfsdk:"port"`
	PrivateKey     types.String `tfsdk:"private_key"`
	Agent          types.Bool   `tfsdk:"agent"`
	KnownHostsFile types.String `tfsdk:"known_hosts_file"`
}

func (p *elementalProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "elemental"
	resp.Version = p.version
}

func (p *elementalProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Builds Elemental derivative images into bootable disks and cloud images, " +
			"and moves running Elemental nodes between image versions over SSH. Provider settings are " +
			"never written to state.",
		Attributes: map[string]schema.Attribute{
			"cache_dir": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Directory that keeps compressed image layers between builds " +
					"(default: a temporary directory per build). Env: `ELEMENTAL_CACHE_DIR`.",
			},
		},
		Blocks: map[string]schema.Block{
			"registry": schema.SingleNestedBlock{
				MarkdownDescription: "Credentials for the registry holding the derivatives. Without them the " +
					"Docker config keychain (`~/.docker/config.json`, credential helpers) is used.",
				Attributes: map[string]schema.Attribute{
					"username": schema.StringAttribute{Optional: true,
						MarkdownDescription: "Registry user name. Env: `ELEMENTAL_REGISTRY_USERNAME`."},
					"password": schema.StringAttribute{Optional: true, Sensitive: true,
						MarkdownDescription: "Registry password or token. Env: `ELEMENTAL_REGISTRY_PASSWORD`."},
					"insecure": schema.BoolAttribute{Optional: true,
						MarkdownDescription: "Use plain HTTP. Env: `ELEMENTAL_REGISTRY_INSECURE`."},
				},
			},
			"aws": awsProviderBlock(),
			"gcp": gcpProviderBlock(),
			"ssh": sshDefaultsBlock(),
		},
	}
}

func sshDefaultsBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Defaults for the `ssh` block of `elemental_node`.",
		Attributes: map[string]schema.Attribute{
			"user": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Default SSH user (default `root`). Env: `ELEMENTAL_SSH_USER`."},
			"port": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Default SSH port (default 22). Env: `ELEMENTAL_SSH_PORT`."},
			"private_key": schema.StringAttribute{Optional: true, Sensitive: true,
				MarkdownDescription: "Default private key (PEM or OpenSSH). Env: `ELEMENTAL_SSH_PRIVATE_KEY`."},
			"agent": schema.BoolAttribute{Optional: true,
				MarkdownDescription: "Use the SSH agent at `SSH_AUTH_SOCK` by default."},
			"known_hosts_file": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Default known_hosts file for host key verification. Env: `ELEMENTAL_SSH_KNOWN_HOSTS_FILE`."},
		},
	}
}

func (p *elementalProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	d := newProviderData(m, os.Getenv)
	d.Version = p.version
	resp.Diagnostics.Append(d.validate()...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.DataSourceData = d
	resp.ResourceData = d
}

func (p *elementalProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewImageResource, NewNodeResource}
}

func (p *elementalProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewDerivativeDataSource}
}

// stringOr returns v's value, or env's when v is null or unknown.
func stringOr(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return env
}

func boolOr(v types.Bool, env string) bool {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueBool()
	}
	b, _ := strconv.ParseBool(env)
	return b
}
