package derivative_test

import (
	"errors"
	"testing"

	"github.com/elemental-suite/elemental/internal/cosign"
	"github.com/elemental-suite/elemental/internal/cosign/cosigntest"
	"github.com/elemental-suite/elemental/packer-plugin/datasource/derivative"
)

// TestCosignPublicKeyFile: with cosign_public_key_file an unsigned
// derivative fails and the same one signed by the key is read.
func TestCosignPublicKeyFile(t *testing.T) {
	key := cosigntest.NewKey(t)
	pub, dir, digest := cosigntest.UnsignedLayout(t, key)
	var d derivative.Datasource
	if err := d.Configure(map[string]any{"source_image": "oci-layout:" + dir + ":v1", "cosign_public_key_file": pub}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Execute(); !errors.Is(err, cosign.ErrNoSignature) {
		t.Fatalf("unsigned: %v, want ErrNoSignature", err)
	}
	cosigntest.AddToLayout(t, dir, digest, key.SignDigest(t, "x", digest))
	v, err := d.Execute()
	if err != nil {
		t.Fatalf("signed: %v", err)
	}
	if got := v.GetAttr("digest").AsString(); got != digest.String() {
		t.Errorf("digest %s, want %s", got, digest)
	}
}
