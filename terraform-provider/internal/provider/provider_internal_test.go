package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		bad  bool
	}{
		{name: "bytes", in: "4096", want: 4096},
		{name: "GiB", in: "8GiB", want: 8 << 30},
		{name: "G is binary", in: "2G", want: 2 << 30},
		{name: "GB is decimal", in: "1GB", want: 1e9},
		{name: "fraction", in: "1.5MiB", want: 3 << 19},
		{name: "spaces and case", in: " 512 mib ", want: 512 << 20},
		{name: "unknown unit", in: "3 parsecs", bad: true},
		{name: "no number", in: "GiB", bad: true},
		{name: "negative", in: "-1GiB", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("parseSize(%q) = %d, want an error", tt.in, got)
				}
				resp := &validator.StringResponse{}
				sizeString().ValidateString(context.Background(), validator.StringRequest{
					Path: path.Root("disk_size"), ConfigValue: types.StringValue(tt.in)}, resp)
				if !resp.Diagnostics.HasError() {
					t.Error("validator accepted it")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPlanDigest(t *testing.T) {
	resolve := func(_ context.Context, source, platform string) (string, error) {
		if source == "broken" {
			return "", errors.New("manifest unknown")
		}
		return "sha256:" + source + "-" + platform, nil
	}
	tests := []struct {
		name        string
		source      types.String
		prior       types.String
		want        types.String
		wantReplace bool
		wantErr     bool
	}{
		{name: "create", source: types.StringValue("a"), prior: types.StringNull(), want: types.StringValue("sha256:a-linux/amd64")},
		{name: "same digest", source: types.StringValue("a"), prior: types.StringValue("sha256:a-linux/amd64"), want: types.StringValue("sha256:a-linux/amd64")},
		{name: "tag moved", source: types.StringValue("a"), prior: types.StringValue("sha256:old"), want: types.StringValue("sha256:a-linux/amd64"), wantReplace: true},
		{name: "source unknown", source: types.StringUnknown(), prior: types.StringValue("sha256:old"), want: types.StringUnknown()},
		{name: "unresolvable", source: types.StringValue("broken"), prior: types.StringNull(), want: types.StringUnknown(), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, replace, err := planDigest(context.Background(), resolve, tt.source, types.StringNull(), tt.prior)
			if (err != nil) != tt.wantErr || replace != tt.wantReplace || !got.Equal(tt.want) {
				t.Errorf("got %v replace=%v err=%v; want %v replace=%v", got, replace, err, tt.want, tt.wantReplace)
			}
		})
	}
}

type fakePrivate map[string][]byte

func (f fakePrivate) GetKey(_ context.Context, k string) ([]byte, diag.Diagnostics) { return f[k], nil }

func TestAdopting(t *testing.T) {
	imported := fakePrivate{importedKey: []byte("true")}
	tests := []struct {
		name      string
		private   keyGetter
		stateNull bool
		want      bool
	}{
		{name: "imported, input not yet in state", private: imported, stateNull: true, want: true},
		{name: "imported, input in state", private: imported, stateNull: false, want: false},
		{name: "not imported", private: fakePrivate{}, stateNull: true, want: false},
		{name: "no private state", private: nil, stateNull: true, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := adopting(context.Background(), tt.private, tt.stateNull); got != tt.want {
				t.Errorf("adopting = %v, want %v", got, tt.want)
			}
		})
	}
}

func baseImage() imageModel {
	return imageModel{Digest: types.StringValue("sha256:aaa"), Platform: types.StringValue("linux/amd64"),
		Generation: types.StringUnknown(), CloudConfig: types.ListNull(types.StringType), DiskSize: types.StringNull(),
		RecoveryFS: types.StringNull(), GrubEntryName: types.StringNull(), NoGrow: types.BoolNull(),
		SourceDateEpoch: types.Int64Null(), RetainOnDestroy: types.BoolValue(false),
		Disk: &diskModel{Directory: types.StringValue("/d"), Name: types.StringNull(), Formats: types.ListNull(types.StringType)}}
}

func TestBuildID(t *testing.T) {
	base := buildID(baseImage())
	if !buildIDPattern.MatchString(base) {
		t.Fatalf("build ID %q is not 12 hex digits", base)
	}
	same := []func(*imageModel){
		func(m *imageModel) { m.RetainOnDestroy = types.BoolValue(true) },
		func(m *imageModel) { m.Generation = types.StringNull() },
		func(m *imageModel) { m.Source = types.StringValue("other:tag") }, // same digest, same build
	}
	for i, f := range same {
		m := baseImage()
		f(&m)
		if got := buildID(m); got != base {
			t.Errorf("change %d altered the build ID (%s → %s)", i, base, got)
		}
	}
	different := []func(*imageModel){
		func(m *imageModel) { m.Digest = types.StringValue("sha256:bbb") },
		func(m *imageModel) { m.Generation = types.StringValue("v1") },
		func(m *imageModel) { m.GrubEntryName = types.StringValue("X") },
		func(m *imageModel) { m.Disk.Name = types.StringValue("other") },
		func(m *imageModel) { m.AWS = &awsImageModel{Name: types.StringValue("x")} },
	}
	for i, f := range different {
		m := baseImage()
		f(&m)
		if got := buildID(m); got == base {
			t.Errorf("change %d kept the build ID %s", i, base)
		}
	}
}

func TestPinnedAndRepository(t *testing.T) {
	const d = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	tests := []struct{ name, source, pinned, repo string }{
		{name: "tag", source: "registry.example:5000/os/base:v2", pinned: "registry.example:5000/os/base@" + d, repo: "registry.example:5000/os/base"},
		{name: "digest", source: "registry.example/os@" + d, pinned: "registry.example/os@" + d, repo: "registry.example/os"},
		{name: "docker hub", source: "os:v1", pinned: "index.docker.io/library/os@" + d, repo: "index.docker.io/library/os"},
		{name: "oci layout stays", source: "oci-layout:/tmp/x:v1", pinned: "oci-layout:/tmp/x:v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pinned(tt.source, d, false); got != tt.pinned {
				t.Errorf("pinned = %s, want %s", got, tt.pinned)
			}
			if tt.repo != "" && repository(tt.source) != tt.repo {
				t.Errorf("repository = %s, want %s", repository(tt.source), tt.repo)
			}
		})
	}
}

func TestParseSelfLink(t *testing.T) {
	p, i, ok := parseSelfLink("https://www.googleapis.com/compute/v1/projects/my-proj/global/images/elemental-abc")
	if !ok || p != "my-proj" || i != "elemental-abc" {
		t.Errorf("got %q %q %v", p, i, ok)
	}
	if _, _, ok := parseSelfLink(""); ok {
		t.Error("empty self link parsed")
	}
}

func TestProviderDataEnv(t *testing.T) {
	env := map[string]string{
		"ELEMENTAL_REGISTRY_USERNAME": "envuser", "ELEMENTAL_REGISTRY_PASSWORD": "envpw", "ELEMENTAL_REGISTRY_INSECURE": "true",
		"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://emu", "AWS_ENDPOINT_URL_EBS": "http://ebs",
		"GOOGLE_CLOUD_PROJECT": "proj", "GOOGLE_APPLICATION_CREDENTIALS": "/creds.json",
		"ELEMENTAL_SSH_USER": "admin", "ELEMENTAL_SSH_PORT": "2222",
	}
	m := providerModel{Registry: &registryModel{Username: types.StringValue("cfguser"), Password: types.StringNull(), Insecure: types.BoolNull()}}
	d := newProviderData(m, func(k string) string { return env[k] })
	if d.Registry != (registryCreds{Username: "cfguser", Password: "envpw", Insecure: true}) {
		t.Errorf("registry %+v: configuration wins, environment fills the rest", d.Registry)
	}
	wantAWS := awsSettings{Region: "eu-west-1", EC2Endpoint: "http://emu", EBSEndpoint: "http://ebs", S3Endpoint: "http://emu", STSEndpoint: "http://emu"}
	if diff := cmp.Diff(wantAWS, d.AWS, cmp.AllowUnexported(awsSettings{})); diff != "" {
		t.Errorf("aws (-want +got):\n%s", diff)
	}
	if d.GCP.Project != "proj" || d.GCP.Credentials != "/creds.json" {
		t.Errorf("gcp %+v", d.GCP)
	}
	if d.SSH.User != "admin" || d.SSH.Port != 2222 {
		t.Errorf("ssh %+v", d.SSH)
	}
	if diags := d.validate(); diags.HasError() {
		t.Errorf("validate: %v", diags)
	}
	bad := newProviderData(providerModel{}, func(k string) string {
		return map[string]string{"ELEMENTAL_REGISTRY_PASSWORD": "pw"}[k]
	})
	if !bad.validate().HasError() {
		t.Error("a password without a user name was accepted")
	}
}

// TestNodeSecretsWriteOnly checks that node credentials are write-only
// (never in state) and that host key checking is not turned off by
// default.
func TestNodeSecretsWriteOnly(t *testing.T) {
	resp := &resource.SchemaResponse{}
	(&nodeResource{}).Schema(context.Background(), resource.SchemaRequest{}, resp)
	if diags := resp.Schema.ValidateImplementation(context.Background()); diags.HasError() {
		t.Fatalf("schema: %v", diags)
	}
	ssh := resp.Schema.Blocks["ssh"].(schema.SingleNestedBlock)
	bastion := ssh.Blocks["bastion"].(schema.SingleNestedBlock)
	for _, attrs := range []map[string]schema.Attribute{ssh.Attributes, bastion.Attributes} {
		for _, name := range []string{"private_key_wo", "password_wo"} {
			a := attrs[name].(schema.StringAttribute)
			if !a.WriteOnly || !a.Sensitive || a.Computed {
				t.Errorf("%s: write-only %v sensitive %v computed %v", name, a.WriteOnly, a.Sensitive, a.Computed)
			}
		}
		if ins := attrs["insecure_ignore_host_key"].(schema.BoolAttribute); ins.Default != nil || ins.Computed {
			t.Error("insecure_ignore_host_key must default to false (null)")
		}
	}
	for name, a := range resp.Schema.Attributes {
		if strings.Contains(name, "password") || strings.Contains(name, "private_key") {
			t.Errorf("top-level secret attribute %s", name)
		}
		_ = a
	}
}

func TestImageSchemaValid(t *testing.T) {
	resp := &resource.SchemaResponse{}
	(&imageResource{}).Schema(context.Background(), resource.SchemaRequest{}, resp)
	if diags := resp.Schema.ValidateImplementation(context.Background()); diags.HasError() {
		t.Fatalf("schema: %v", diags)
	}
	// Every input must force a new image, except those that change no
	// artifact: retain_on_destroy, timeouts, and cosign_public_key (it
	// only gates the build; rotating the key must not rebuild images).
	for name, a := range resp.Schema.Attributes {
		if !a.IsOptional() && !a.IsRequired() || name == "retain_on_destroy" || name == "timeouts" || name == "cosign_public_key" {
			continue
		}
		if !hasPlanModifiers(a) {
			t.Errorf("input %s has no plan modifier (RequiresReplace)", name)
		}
	}
}

func hasPlanModifiers(a schema.Attribute) bool {
	switch v := a.(type) {
	case schema.StringAttribute:
		return len(v.PlanModifiers) > 0
	case schema.BoolAttribute:
		return len(v.PlanModifiers) > 0
	case schema.Int64Attribute:
		return len(v.PlanModifiers) > 0
	case schema.ListAttribute:
		return len(v.PlanModifiers) > 0
	}
	return false
}

func TestNodeSSHConfig(t *testing.T) {
	r := &nodeResource{data: &providerData{SSH: sshDefaults{User: "admin", PrivateKey: "provider-key"}}}
	ctx := context.Background()
	hostKey := types.StringValue("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1FJWsyMZYfnGDn0sSbqUD+AHPyP2o5XBK2jPg+TTA")
	tests := []struct {
		name    string
		ssh     *nodeSSHModel
		wantErr error
		check   func(node.Config) string
	}{
		{name: "no host key refused", ssh: &nodeSSHModel{}, wantErr: node.ErrNoHostKey},
		{name: "provider defaults", ssh: &nodeSSHModel{sshEndpointModel: sshEndpointModel{HostKey: hostKey}},
			check: func(c node.Config) string {
				if c.User != "admin" || string(c.PrivateKey) != "provider-key" {
					return "provider defaults not used"
				}
				return ""
			}},
		{name: "write-only key wins", ssh: &nodeSSHModel{sshEndpointModel: sshEndpointModel{HostKey: hostKey,
			PrivateKeyWO: types.StringValue("wo-key"), User: types.StringValue("root")}},
			check: func(c node.Config) string {
				if string(c.PrivateKey) != "wo-key" || c.User != "root" {
					return "write-only key or user not used"
				}
				return ""
			}},
		{name: "bastion inherits credentials", ssh: &nodeSSHModel{sshEndpointModel: sshEndpointModel{HostKey: hostKey},
			Bastion: &bastionModel{Host: types.StringValue("jump"), sshEndpointModel: sshEndpointModel{HostKey: hostKey}}},
			check: func(c node.Config) string {
				if c.Bastion == nil || c.Bastion.Host != "jump" || string(c.Bastion.PrivateKey) != "provider-key" {
					return "bastion not set up"
				}
				return ""
			}},
		{name: "bad timeout", ssh: &nodeSSHModel{sshEndpointModel: sshEndpointModel{HostKey: hostKey}, ConnectTimeout: types.StringValue("soon")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := r.node(ctx, "10.0.0.1", tt.ssh)
			switch {
			case tt.check == nil && tt.wantErr == nil:
				if err == nil {
					t.Fatal("accepted")
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if msg := tt.check(n.Config); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestImageNeedsATarget(t *testing.T) {
	vs := (&imageResource{}).ConfigValidators(context.Background())
	if len(vs) != 1 || !strings.Contains(vs[0].Description(context.Background()), "disk") {
		t.Fatalf("validators %v", vs)
	}
}
