package gce

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/elemental-suite/elemental/internal/installer"
	publishgcp "github.com/elemental-suite/elemental/internal/publish/gcp"
)

func raw(kv ...any) map[string]any {
	m := map[string]any{"packer_build_name": "gce", "source_image": "registry.example.com/os:1",
		"project_id": "p", "bucket": "b", "image_name": "elemental-os"}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestPrepareMapsGoogleNames(t *testing.T) {
	pk := filepath.Join(t.TempDir(), "pk.der")
	if err := os.WriteFile(pk, []byte("pk"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b Builder
	_, _, err := b.Prepare(raw("platform", "linux/arm64", "gcs_object_name", "o.tar.gz", "image_family", "fam",
		"image_labels", map[string]string{"team": "os"}, "image_guest_os_features", []string{"GVNIC"},
		"image_storage_locations", []string{"eu"}, "image_licenses", []string{"l"}, "skip_clean", true,
		"image_platform_key", pk, "deprecate_at", "2030-01-01T00:00:00Z", "credentials_json", `{"type":"x"}`,
		"compute_endpoint", "http://127.0.0.1:1/", "skip_authentication", true))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	s := b.specs.image
	if s.ProjectID != "p" || s.Bucket != "b" || s.ObjectName != "o.tar.gz" || s.Family != "fam" || s.Labels["team"] != "os" ||
		s.GuestOSFeatures[0] != "GVNIC" || s.StorageLocations[0] != "eu" || s.Licenses[0] != "l" || !s.SkipClean ||
		s.Architecture != publishgcp.ArchARM64 || string(s.ShieldedInitialState.PK) != "pk" || s.DeprecateAt.Year() != 2030 {
		t.Errorf("image spec = %+v", s)
	}
	c := b.specs.clients
	if string(c.CredentialsJSON) != `{"type":"x"}` || c.ComputeEndpoint != "http://127.0.0.1:1/" || !c.WithoutAuthentication {
		t.Errorf("client options = %+v", c)
	}
	if got := packersdk.LogSecretFilter.FilterString(`{"type":"x"}`); strings.Contains(got, `"type"`) {
		t.Errorf("credentials_json not filtered: %q", got)
	}
}

func TestPrepareErrorsAtOnce(t *testing.T) {
	var b Builder
	_, _, err := b.Prepare(raw("project_id", nil, "bucket", nil, "image_name", "Bad_Name", "image_family", "UPPER",
		"image_architecture", "mips", "deprecate_at", "soon", "credentials_file", "/nonexistent/key.json",
		"account_file", "/other.json", "image_platform_key", "/nonexistent/pk", "platform", "linux/ppc64le",
		"image_labels", map[string]string{"Bad Key": "V!"}, "credentials_json", `{"private_key": "s3cret`))
	var m *packersdk.MultiError
	if !errors.As(err, &m) {
		t.Fatalf("err = %v, want a MultiError", err)
	}
	var got []string
	for _, e := range m.Errors {
		got = append(got, e.Error())
	}
	want := []string{"project_id is empty", "bucket is empty", `image_name "Bad_Name"`, `image_family "UPPER"`,
		`image_architecture "mips"`, `deprecate_at "soon"`, "credentials_file: stat /nonexistent/key.json",
		"account_file: set credentials_file or account_file, not both", "image_platform_key: open /nonexistent/pk",
		`platform "linux/ppc64le"`, `image_labels: label key "Bad Key"`, `image_labels: label "Bad Key" value "V!"`,
		"credentials_json: set credentials_file or credentials_json, not both", "credentials_json: not valid JSON"}
	for _, want := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("no error starts with %q; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d errors, want %d (one per problem):\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if all := strings.Join(got, "\n"); strings.Contains(all, "s3cret") {
		t.Errorf("errors show credentials_json:\n%s", all)
	}
}

func TestPrepareToleratesUnknownNames(t *testing.T) {
	var b Builder
	if _, _, err := b.Prepare(raw("image_name", "elemental-<unknown>")); err != nil {
		t.Errorf("packer validate's unknown value rejected: %v", err)
	}
}

func TestArtifact(t *testing.T) {
	a := newArtifact(&publishgcp.Result{ImageName: "img", SelfLink: "https://x/img"}, "p", publishgcp.Clients{},
		&installer.Result{Digest: "sha256:abc", Source: "reg/os:1"}, map[string]any{"SourceImageDigest": "sha256:abc"})
	if a.Id() != "img" || a.Files() != nil || a.BuilderId() != BuilderID {
		t.Errorf("Id %q Files %v BuilderId %q", a.Id(), a.Files(), a.BuilderId())
	}
	img, ok := a.State(registryimage.ArtifactStateURI).(*registryimage.Image)
	if !ok || img.ImageID != "img" || img.ProviderName != "gce" || img.SourceImageID != "sha256:abc" || img.Labels["project_id"] != "p" {
		t.Errorf("HCP metadata = %+v", img)
	}
	if gd, _ := a.State("generated_data").(map[string]any); gd["SourceImageDigest"] != "sha256:abc" {
		t.Errorf("generated data = %v", gd)
	}
}
