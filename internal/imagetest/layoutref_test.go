package imagetest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
)

// TestWriteLayoutRef opens the reference WriteLayoutRef returns with the
// product's OCI source: it names a layout tagged "test" whose image is the
// one Image builds from the same layers (same digest), and whose tree
// holds the derivative's files.
func TestWriteLayoutRef(t *testing.T) {
	layers := imagetest.Derivative(2, "1.2.3")
	ref := imagetest.WriteLayoutRef(t, layers...)
	if !strings.HasPrefix(ref, "oci-layout:") || !strings.HasSuffix(ref, ":"+imagetest.LayoutTag) {
		t.Fatalf("reference %q is not oci-layout:DIR:%s", ref, imagetest.LayoutTag)
	}
	img, err := imagetest.Image(layers...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	src, err := oci.Open(context.Background(), ref, oci.Options{})
	if err != nil {
		t.Fatalf("opening %s: %v", ref, err)
	}
	if got := src.Digest; got != want {
		t.Errorf("layout holds image %s, want %s", got, want)
	}
	got := paths(t, ref)
	if _, ok := got["etc/os-release"]; !ok {
		t.Errorf("the layout's tree lacks etc/os-release: %d entries", len(got))
	}
}
