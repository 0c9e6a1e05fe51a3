package gce

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var b Builder
	_, _, err := b.Prepare(raw("platform", "linux/arm64", "gcs_object_name", "o.tar.gz", "image_family", "fam",
		"image_description", "desc", "image_labels", map[string]string{"team": "os"}, "image_guest_os_features", []string{"GVNIC"},
		"image_storage_locations", []string{"eu"}, "image_licenses", []string{"projects/p/global/licenses/l"}, "skip_clean", true,
		"compression_level", 1, "upload_chunk_size", "8MiB", "image_platform_key", file("pk", "pk"), "image_key_exchange_key", []string{file("kek", "kek")},
		"image_signatures_db", []string{file("db1", "db1"), file("db2", "db2")}, "image_forbidden_signatures_db", []string{file("dbx", "dbx")},
		"deprecate_at", "2030-01-01T00:00:00Z", "obsolete_at", "2030-02-01T00:00:00Z", "delete_at", "2030-03-01T00:00:00Z",
		"credentials_json", `{"type":"x"}`, "impersonate_service_account", "sa@p.iam.gserviceaccount.com",
		"compute_endpoint", "http://127.0.0.1:1/", "storage_endpoint", "http://127.0.0.1:2/", "skip_authentication", true))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := publishgcp.Spec{ProjectID: "p", Bucket: "b", ObjectName: "o.tar.gz", ImageName: "elemental-os", Family: "fam",
		Description: "desc", Labels: map[string]string{"team": "os"}, GuestOSFeatures: []string{"GVNIC"},
		StorageLocations: []string{"eu"}, Architecture: publishgcp.ArchARM64, Licenses: []string{"projects/p/global/licenses/l"},
		ShieldedInitialState: &publishgcp.ShieldedState{PK: []byte("pk"), KEKs: [][]byte{[]byte("kek")},
			DBs: [][]byte{[]byte("db1"), []byte("db2")}, DBXs: [][]byte{[]byte("dbx")}},
		DeprecateAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), ObsoleteAt: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC),
		DeleteAt: time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC), SkipClean: true, GzipLevel: 1, ChunkSize: 8 << 20}
	if diff := cmp.Diff(want, b.specs.image); diff != "" {
		t.Errorf("image spec (-want +got):\n%s", diff)
	}
	wantClients := publishgcp.ClientOptions{CredentialsJSON: []byte(`{"type":"x"}`),
		ImpersonateServiceAccount: "sa@p.iam.gserviceaccount.com", ComputeEndpoint: "http://127.0.0.1:1/",
		StorageEndpoint: "http://127.0.0.1:2/", WithoutAuthentication: true}
	if diff := cmp.Diff(wantClients, b.specs.clients); diff != "" {
		t.Errorf("client options (-want +got):\n%s", diff)
	}
	if got := packersdk.LogSecretFilter.FilterString(`{"type":"x"}`); strings.Contains(got, `"type"`) {
		t.Errorf("credentials_json not filtered: %q", got)
	}
}

// compute_endpoint defaults to GOOGLE_COMPUTE_CUSTOM_ENDPOINT (what
// terraform-provider-google and `make gcpemu` use); the field wins.
func TestPrepareComputeEndpointFromEnv(t *testing.T) {
	t.Setenv(EnvComputeEndpoint, "http://127.0.0.1:9/compute/v1/")
	var b Builder
	if _, _, err := b.Prepare(raw()); err != nil {
		t.Fatal(err)
	}
	if got := b.specs.clients.ComputeEndpoint; got != "http://127.0.0.1:9/compute/v1/" {
		t.Errorf("without compute_endpoint: ComputeEndpoint = %q, want the variable's value", got)
	}
	b = Builder{}
	if _, _, err := b.Prepare(raw("compute_endpoint", "http://127.0.0.1:1/")); err != nil {
		t.Fatal(err)
	}
	if got := b.specs.clients.ComputeEndpoint; got != "http://127.0.0.1:1/" {
		t.Errorf("with compute_endpoint: ComputeEndpoint = %q, want the field's value", got)
	}
}

// credentials_file and its older name account_file both reach the client
// options.
func TestPrepareCredentialsFile(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(key, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"credentials_file", "account_file"} {
		var b Builder
		if _, _, err := b.Prepare(raw(field, key)); err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		if got := b.specs.clients.CredentialsFile; got != key {
			t.Errorf("%s: CredentialsFile = %q, want %q", field, got, key)
		}
	}
}

func TestPrepareErrorsAtOnce(t *testing.T) {
	var b Builder
	_, _, err := b.Prepare(raw("project_id", nil, "bucket", nil, "image_name", "Bad_Name", "image_family", "UPPER",
		"image_architecture", "mips", "deprecate_at", "soon", "credentials_file", "/nonexistent/key.json",
		"account_file", "/other.json", "image_platform_key", "/nonexistent/pk", "platform", "linux/ppc64le",
		"image_labels", map[string]string{"Bad Key": "V!"}, "credentials_json", `{"private_key": "s3cret`,
		"image_guest_os_features", []string{"UEFI_COMPATIBLE", "gvnic"}, "image_licenses", []string{"my-license"},
		"image_storage_locations", []string{"EU"}, "obsolete_at", "2020-01-01T00:00:00Z", "delete_at", "later",
		"compression_level", 10, "upload_chunk_size", "100KiB"))
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
		"credentials_json: set credentials_file or credentials_json, not both", "credentials_json: not valid JSON",
		`image_guest_os_features[1] "gvnic": want a feature type`, `image_licenses[0] "my-license": want projects/`,
		`image_storage_locations[0] "EU": want a lower-case`, `delete_at "later"`,
		"compression_level: 10 is not between 1 and 9", `upload_chunk_size "100KiB": want a multiple of 256KiB`}
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
