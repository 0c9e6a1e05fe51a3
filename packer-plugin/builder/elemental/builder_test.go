package elemental_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/packer-plugin/builder/elemental"
)

// derivative writes a synthetic v2 derivative and returns its reference.
func derivative(t *testing.T) string {
	t.Helper()
	return imagetest.WriteLayoutRef(t, imagetest.Derivative(2, "1.2.3")...)
}

func raw(kv ...any) map[string]any {
	m := map[string]any{"packer_build_name": "disk"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestPrepareDefaults(t *testing.T) {
	var b elemental.Builder
	gen, warns, err := b.Prepare(raw("source_image", "registry.example.com/os:1"))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings = %q, want none", warns)
	}
	want := []string{"SourceImageDigest", "Generation", "KernelVersion", "OSVersion"}
	if diff := cmp.Diff(want, gen); diff != "" {
		t.Errorf("generated data keys (-want +got):\n%s", diff)
	}
	spec := b.Spec()
	if spec.OutputDir != "output-disk" || spec.Name != "elemental" || len(spec.Formats) != 1 || spec.Formats[0].String() != "raw" {
		t.Errorf("defaults: output dir %q, name %q, formats %v; want output-disk, elemental, [raw]", spec.OutputDir, spec.Name, spec.Formats)
	}
	if spec.Overwrite {
		t.Error("Overwrite set without -force")
	}
}

func TestPrepareMapping(t *testing.T) {
	var b elemental.Builder
	_, _, err := b.Prepare(raw(
		"source_image", "registry.example.com/os:1", "platform", "linux/arm64", "generation", "v1",
		"registry_username", "u", "registry_password", "p", "registry_insecure", true,
		"disk_size", "8G", "partition_sizes", map[string]any{"efi": "64M", "oem": "128", "state": "4G"},
		"recovery", map[string]any{"filesystem": "ext2"}, "cloud_config", "users: {}\n",
		"grub_entry_name", "My OS", "no_grow", true, "source_date_epoch", 42,
		"formats", []string{"qcow2", "gce"}, "output_directory", "out", "output_name", "os",
		"packer_force", true,
	))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	s := b.Spec()
	got := []any{s.Platform, s.Generation.String(), s.Username, s.Password, s.Insecure, s.DiskSize,
		s.Sizes.EFI, s.Sizes.OEM, s.Sizes.State, s.RecoveryFS, len(s.CloudConfigs), s.GrubEntryName, s.NoGrow,
		s.SourceDateEpoch, s.Formats[0].String(), s.Formats[1].String(), s.OutputDir, s.Name, s.Overwrite}
	want := []any{"linux/arm64", "v1", "u", "p", true, int64(8 << 30), int64(64 << 20), int64(128 << 20), int64(4 << 30),
		"ext2", 1, "My OS", true, int64(42), "qcow2", "gce", "out", "os", true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
}

func TestPrepareErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "list.yaml")
	if err := os.WriteFile(bad, []byte("- a\n- b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		raw  map[string]any
		want []string // each must start one error line
	}{
		{name: "source_image missing", raw: raw(), want: []string{"source_image: required"}},
		{name: "everything wrong at once", raw: raw(
			"platform", "linux/s390x", "generation", "v3", "disk_size", "8X",
			"partition_sizes", map[string]any{"efi": "big", "persistent": "1.5G"},
			"recovery", map[string]any{"filesystem": "btrfs", "squashfs_compression": "zstd"},
			"cloud_config", "- not a map", "cloud_config_files", []string{bad, "/nonexistent/x.yaml"},
			"formats", []string{"raw", "iso", "raw"}, "output_name", "a/b",
		), want: []string{
			"source_image: required",
			`platform "linux/s390x": want linux/amd64 or linux/arm64`,
			`generation "v3": want auto, v1 or v2`,
			`disk_size: size "8X"`,
			`partition_sizes.efi: size "big"`,
			`partition_sizes.persistent: size "1.5G"`,
			`recovery.filesystem "btrfs": want squashfs or ext2`,
			`recovery.squashfs_compression "zstd": want gzip or xz`,
			"cloud_config: want a YAML mapping",
			"cloud_config_files[0] " + bad + ": want a YAML mapping",
			"cloud_config_files[1]: open /nonexistent/x.yaml",
			`formats[1]: "iso" is not a format (allowed: raw, qcow2, vhd, vmdk, gce)`,
			"formats: raw listed twice",
			`output_name "a/b": must be a plain file name`,
		}},
		{name: "negative epoch", raw: raw("source_image", "x", "source_date_epoch", -1),
			want: []string{"source_date_epoch: -1 is negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b elemental.Builder
			_, _, err := b.Prepare(tc.raw)
			if err == nil {
				t.Fatal("Prepare succeeded, want errors")
			}
			m, ok := err.(*packersdk.MultiError)
			if !ok {
				t.Fatalf("error is %T, want *packer.MultiError: %v", err, err)
			}
			var got []string
			for _, e := range m.Errors {
				got = append(got, e.Error())
			}
			for _, w := range tc.want {
				if !hasPrefix(got, w) {
					t.Errorf("no error starts with %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
		})
	}
}

func hasPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func TestPrepareWarnings(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want []string
	}{
		{name: "password without user", raw: raw("source_image", "x", "registry_password", "s3cret"),
			want: []string{"registry_password is ignored without registry_username (the Docker config is used)"}},
		{name: "user without password", raw: raw("source_image", "x", "registry_username", "u"),
			want: []string{"registry_username without registry_password: an empty password is sent"}},
		{name: "no_grow without disk_size", raw: raw("source_image", "x", "no_grow", true),
			want: []string{"no_grow without disk_size: the disk is only as large as its partitions and the persistent partition never grows"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b elemental.Builder
			_, warns, err := b.Prepare(tc.raw)
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if diff := cmp.Diff(tc.want, warns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareFiltersSecrets(t *testing.T) {
	var b elemental.Builder
	const secret = "hunter2-registry-token"
	if _, _, err := b.Prepare(raw("source_image", "x", "registry_username", "u", "registry_password", secret)); err != nil {
		t.Fatal(err)
	}
	if got := packersdk.LogSecretFilter.FilterString("token is " + secret); strings.Contains(got, secret) {
		t.Errorf("log filter let the registry password through: %q", got)
	}
}

func TestRunBuildsDisk(t *testing.T) {
	src := derivative(t)
	out := filepath.Join(t.TempDir(), "out")
	var b elemental.Builder
	if _, _, err := b.Prepare(raw("source_image", src, "output_directory", out, "formats", []string{"raw", "qcow2"}, "disk_size", "2G")); err != nil {
		t.Fatal(err)
	}
	ui := packersdk.TestUi(t)
	art, err := b.Run(context.Background(), ui, &packersdk.MockHook{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantFiles := []string{filepath.Join(out, "elemental.raw"), filepath.Join(out, "elemental.qcow2")}
	if diff := cmp.Diff(wantFiles, art.Files()); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(wantFiles[0])
	if err != nil || fi.Size() != 2<<30 {
		t.Errorf("raw disk: %v, size %d, want 2 GiB", err, sizeOf(fi))
	}
	if !strings.HasPrefix(art.Id(), "sha256:") {
		t.Errorf("Id = %q, want the source digest", art.Id())
	}
	gd, _ := art.State("generated_data").(map[string]any)
	if gd["SourceImageDigest"] != art.Id() || gd["Generation"] != "v2" || gd["KernelVersion"] != imagetest.KernelVersion || gd["OSVersion"] != "1.2.3" {
		t.Errorf("generated data = %v", gd)
	}
	img, ok := art.State(registryimage.ArtifactStateURI).(*registryimage.Image)
	if !ok || img.ImageID != art.Id() || img.ProviderName != "elemental" || img.SourceImageID != src || img.Labels["os_version"] != "1.2.3" {
		t.Errorf("HCP metadata = %+v", img)
	}
	if err := art.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory still there after Destroy: %v", err)
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func TestRunRefusesExistingOutputWithoutForce(t *testing.T) {
	src := derivative(t)
	out := t.TempDir()
	old := filepath.Join(out, "elemental.raw")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		var b elemental.Builder
		if _, _, err := b.Prepare(raw("source_image", src, "output_directory", out, "packer_force", force, "disk_size", "2G")); err != nil {
			t.Fatal(err)
		}
		_, err := b.Run(context.Background(), packersdk.TestUi(t), &packersdk.MockHook{})
		fi, _ := os.Stat(old)
		switch {
		case !force && (err == nil || !strings.Contains(err.Error(), "-force")):
			t.Errorf("without -force: err = %v, want an error mentioning -force", err)
		case !force && sizeOf(fi) != 3:
			t.Errorf("without -force the old file changed (size %d)", sizeOf(fi))
		case force && err != nil:
			t.Errorf("with -force: %v", err)
		case force && sizeOf(fi) != 2<<30:
			t.Errorf("with -force the old file was not replaced (size %d)", sizeOf(fi))
		}
	}
}

func TestRunCancelledLeavesNothing(t *testing.T) {
	src := derivative(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	var b elemental.Builder
	if _, _, err := b.Prepare(raw("source_image", src, "output_directory", out)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Run(ctx, packersdk.TestUi(t), &packersdk.MockHook{}); err == nil {
		t.Fatal("cancelled Run succeeded")
	}
	entries, _ := os.ReadDir(parent)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) != 0 {
		t.Errorf("cancelled build left %v", names)
	}
}
