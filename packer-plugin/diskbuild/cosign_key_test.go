package diskbuild_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/cosign"
	"github.com/elemental-suite/elemental/internal/cosign/cosigntest"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// TestCosignPublicKeyFile maps cosign_public_key_file onto the installer's
// source verification: an unsigned derivative is refused, the same one
// signed by the key is built, and an unreadable file names the field.
func TestCosignPublicKeyFile(t *testing.T) {
	key := cosigntest.NewKey(t)
	pub, dir, digest := cosigntest.UnsignedLayout(t, key)
	c := diskbuild.Config{SourceImage: "oci-layout:" + dir + ":v1", CosignPublicKeyFile: pub, SourceDateEpoch: imagetest.Epoch}
	spec, errs := c.Spec()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	spec.OutputDir = t.TempDir()
	_, err := installer.Run(context.Background(), spec)
	if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "with key cosign_public_key_file "+pub) {
		t.Fatalf("unsigned: %v, want ErrNoSignature naming the key file", err)
	}
	cosigntest.AddToLayout(t, dir, digest, key.SignDigest(t, "x", digest))
	if _, err := installer.Run(context.Background(), spec); err != nil {
		t.Fatalf("signed: %v", err)
	}

	c.CosignPublicKeyFile = filepath.Join(t.TempDir(), "missing.pub")
	if _, errs := c.Spec(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "cosign_public_key_file: open ") {
		t.Errorf("missing key file: %v", errs)
	}
}
