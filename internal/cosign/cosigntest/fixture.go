package cosigntest

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/elemental-suite/elemental/internal/imagetest"
)

// UnsignedLayout writes k's public key to a file and version A of the v2
// test derivative, unsigned, to an OCI layout under the tag v1: what the
// front ends' cosign tests start from before signing it with AddToLayout.
func UnsignedLayout(t testing.TB, k *Key) (pubFile, dir string, digest v1.Hash) {
	t.Helper()
	pubFile = filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pubFile, k.PublicPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := imagetest.Image(imagetest.Derivative(2, "A")...)
	if err != nil {
		t.Fatal(err)
	}
	if digest, err = img.Digest(); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "layout")
	if err := imagetest.WriteLayout(dir, img, "v1"); err != nil {
		t.Fatal(err)
	}
	return pubFile, dir, digest
}
