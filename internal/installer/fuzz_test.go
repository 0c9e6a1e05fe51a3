package installer_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// FuzzSpecValidate feeds Spec.Validate random field values: it must never
// panic, and a spec it accepts must hold the invariants Run relies on (a
// source, a plain output name, no negative size, known distinct formats,
// cloud-configs that are YAML mappings).
func FuzzSpecValidate(f *testing.F) {
	f.Add("oci-layout:/l:test", "linux/amd64", "elemental", "/out", []byte{1}, int64(0), int64(0), "squashfs", "gzip", []byte("users: {}\n"))
	f.Add(" ", "linux/arm64/v8", "../x", "", []byte{0, 1, 1}, int64(-1), int64(-5), "ext2", "xz", []byte("- a\n"))
	f.Add("r/x", "", ".", "o", []byte{200, 3, 6}, int64(1<<62), int64(1), "", "", []byte("a: [\n"))
	f.Add("r/x", "linux/amd64", "n", "o", []byte{6}, int64(0), int64(0), "squashfs", "gzip", []byte(""))
	f.Add("r/x", "windows/amd64", "a\\b", "o", []byte{}, int64(0), int64(0), "btrfs", "zstd", []byte("!!binary AAAA\n"))
	f.Fuzz(func(t *testing.T, source, platform, name, out string, formats []byte, disk, part int64, recFS, comp string, cc []byte) {
		s := installer.Spec{
			Source: source, Platform: platform, Name: name, OutputDir: out, DiskSize: disk,
			Sizes:      installer.Sizes{EFI: part, OEM: part / 2, Recovery: -part, State: part, Persistent: part},
			RecoveryFS: recFS, SquashfsCompression: comp, SourceDateEpoch: part,
			CloudConfigs: []installer.CloudConfig{{Origin: "fuzz.yaml", Data: cc}},
		}
		for _, b := range formats {
			s.Formats = append(s.Formats, diskformat.Format(b%8))
		}
		err := s.Validate()
		if err == nil {
			checkAccepted(t, s)
			return
		}
		if strings.TrimSpace(err.Error()) == "" {
			t.Fatal("empty error message")
		}
	})
}

func checkAccepted(t *testing.T, s installer.Spec) {
	t.Helper()
	if strings.TrimSpace(s.Source) == "" {
		t.Fatalf("accepted without source: %+v", s)
	}
	if strings.ContainsAny(s.Name, "/\\") || s.Name == "." || s.Name == ".." {
		t.Fatalf("accepted name %q", s.Name)
	}
	for _, v := range []int64{s.DiskSize, s.Sizes.EFI, s.Sizes.OEM, s.Sizes.Recovery, s.Sizes.State, s.Sizes.Persistent, s.SourceDateEpoch} {
		if v < 0 {
			t.Fatalf("accepted negative size %d", v)
		}
	}
	seen := map[diskformat.Format]bool{}
	for _, f := range s.Formats {
		if f.Ext() == "" || seen[f] {
			t.Fatalf("accepted formats %v", s.Formats)
		}
		seen[f] = true
	}
	var v any
	if err := yaml.Unmarshal(s.CloudConfigs[0].Data, &v); err != nil {
		t.Fatalf("accepted cloud-config that does not parse: %v", err)
	}
	if _, ok := v.(map[string]any); !ok && v != nil {
		t.Fatalf("accepted cloud-config %T", v)
	}
}
