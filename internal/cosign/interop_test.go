package cosign_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/elemental-suite/elemental/internal/cosign"
	"github.com/elemental-suite/elemental/internal/cosign/cosigntest"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// cosignCLI runs the cosign binary in dir with an empty key password and
// no transparency log, failing the test on error.
func cosignCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("cosign", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "COSIGN_EXPERIMENTAL=0", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCosignInterop checks both directions against the real tool:
// signatures `cosign sign` pushes (and `cosign save` writes to a layout)
// verify here, and signatures made by cosigntest pass `cosign verify`.
func TestCosignInterop(t *testing.T) {
	if _, err := exec.LookPath("cosign"); err != nil {
		t.Skipf("interop test needs cosign (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.4.1): %v", err)
	}
	dir := t.TempDir()
	cosignCLI(t, dir, "generate-key-pair")
	pubPEM, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := cosign.ParsePublicKey(pubPEM, "cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	host := imagetest.Registry(t)
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	repo := host + "/interop"
	imagetest.Push(t, repo+":v1", img)
	http := []string{"--allow-http-registry", "--allow-insecure-registry"}

	cosignCLI(t, dir, append([]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", repo + "@" + digest.String()}, http...)...)
	subj := cosign.Subject{Ref: repo + ":v1", Digests: []v1.Hash{digest}}
	if _, err := cosign.Verify(context.Background(), subj, pk, cosign.Options{}); err != nil {
		t.Fatalf("signature made by cosign sign refused: %v", err)
	}
	other, _ := cosign.ParsePublicKey(cosigntest.NewKey(t).PublicPEM, "other.pub")
	if _, err := cosign.Verify(context.Background(), subj, other, cosign.Options{}); !errors.Is(err, cosign.ErrBadSignature) {
		t.Errorf("cosign's signature accepted with another key: %v", err)
	}

	saved := filepath.Join(dir, "saved")
	cosignCLI(t, dir, append([]string{"save", "--dir", saved, repo + "@" + digest.String()}, http...)...)
	lsubj := cosign.Subject{Ref: "oci-layout:" + saved + "@" + digest.String(), Digests: []v1.Hash{digest}}
	if _, err := cosign.Verify(context.Background(), lsubj, pk, cosign.Options{}); err != nil {
		t.Fatalf("signature in a cosign save layout refused: %v", err)
	}

	// A multi-platform index signed with --recursive: the platform
	// manifest, pinned by digest as the Terraform provider builds it,
	// carries its own signature.
	idx, err := imagetest.Index(map[string]v1.Image{"linux/amd64": img, "linux/arm64": img})
	if err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	imagetest.PushIndex(t, host+"/multi:v1", idx)
	cosignCLI(t, dir, append([]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--recursive", host + "/multi@" + idxDigest.String()}, http...)...)
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		psubj := cosign.Subject{Ref: host + "/multi@" + m.Digest.String(), Digests: []v1.Hash{m.Digest}}
		if _, err := cosign.Verify(context.Background(), psubj, pk, cosign.Options{}); err != nil {
			t.Errorf("platform %s of a --recursive signature: %v", m.Platform, err)
		}
	}

	// The other direction: cosigntest's signature image passes cosign verify.
	img2, _ := random.Image(128, 1)
	digest2, _ := img2.Digest()
	repo2 := host + "/ours"
	imagetest.Push(t, repo2+":v1", img2)
	key := cosigntest.NewKey(t)
	cosigntest.Push(t, repo2, digest2, key.SignDigest(t, repo2, digest2))
	if err := os.WriteFile(filepath.Join(dir, "ours.pub"), key.PublicPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cosignCLI(t, dir, append([]string{"verify", "--key", "ours.pub", "--insecure-ignore-tlog=true", repo2 + "@" + digest2.String()}, http...)...)
}
