package derivative_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/packer-plugin/datasource/derivative"
)

func TestExecute(t *testing.T) {
	img, err := imagetest.Image(imagetest.Derivative(1, "2.0.1")...)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := imagetest.WriteLayout(dir, img, "v2.0.1"); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var d derivative.Datasource
	if err := d.Configure(map[string]any{"source_image": "oci-layout:" + dir + ":v2.0.1"}); err != nil {
		t.Fatal(err)
	}
	v, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	got := map[string]string{}
	for _, k := range []string{"digest", "pinned_image", "platform", "generation", "kernel_version", "os_id", "os_version"} {
		got[k] = v.GetAttr(k).AsString()
	}
	want := map[string]string{
		"digest": digest.String(), "pinned_image": "oci-layout:" + dir + "@" + digest.String(), "platform": "linux/amd64",
		"generation": "v1", "kernel_version": imagetest.KernelVersion, "os_id": "elemental-test", "os_version": "2.0.1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if rel := v.GetAttr("os_release").AsValueMap(); rel["NAME"].AsString() != "Elemental Test" {
		t.Errorf("os_release = %v", rel)
	}
}

func TestConfigureErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want []string
	}{
		{name: "empty", raw: map[string]any{}, want: []string{"source_image: required"}},
		{name: "all wrong", raw: map[string]any{"generation": "v9", "platform": "windows/amd64"},
			want: []string{"source_image: required", `generation "v9": want auto, v1 or v2`, `platform "windows/amd64": want linux/amd64 or linux/arm64`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d derivative.Datasource
			err := d.Configure(tc.raw)
			if err == nil {
				t.Fatal("Configure succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestExecuteNotADerivative(t *testing.T) {
	img, err := imagetest.Image(imagetest.Layer{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := imagetest.WriteLayout(dir, img, "x"); err != nil {
		t.Fatal(err)
	}
	var d derivative.Datasource
	if err := d.Configure(map[string]any{"source_image": "oci-layout:" + dir + ":x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Execute(); err == nil || !strings.Contains(err.Error(), "inspecting oci-layout:") {
		t.Errorf("Execute of an empty image: %v, want an inspection error", err)
	}
}
