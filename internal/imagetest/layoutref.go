package imagetest

import (
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LayoutTag is the tag LayoutRef and WriteLayoutRef give the image.
const LayoutTag = "test"

// WriteLayoutRef builds an image of layers (see Image), writes it as an
// OCI layout in a fresh directory under t.TempDir and returns the source
// reference "oci-layout:DIR:test" that oci.Open and installer.Spec take.
// It fails t on any error.
func WriteLayoutRef(t testing.TB, layers ...Layer) string {
	t.Helper()
	img, err := Image(layers...)
	if err != nil {
		t.Fatalf("building test image: %v", err)
	}
	return LayoutRef(t, img)
}

// LayoutRef writes img as an OCI layout in a fresh directory under
// t.TempDir, tagged LayoutTag, and returns its source reference.
func LayoutRef(t testing.TB, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if err := WriteLayout(dir, img, LayoutTag); err != nil {
		t.Fatal(err)
	}
	return "oci-layout:" + dir + ":" + LayoutTag
}
