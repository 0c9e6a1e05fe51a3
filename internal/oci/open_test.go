package oci_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// wantV2 is the flattened view of imagetest.Derivative(2, …): the top
// layer's whiteout removed etc/obsolete.conf and its opaque directory hid
// var/lib/cache/{a,b}.
var wantV2 = []string{
	". (directory)",
	"boot (directory)",
	"boot/initrd (symlink) -> initrd-6.1.0-test",
	"boot/initrd-6.1.0-test (regular file)",
	"boot/vmlinuz (symlink) -> vmlinuz-6.1.0-test",
	"boot/vmlinuz-6.1.0-test (regular file)",
	"etc (directory)",
	"etc/elemental (directory)",
	"etc/elemental/bootargs.cfg (regular file)",
	"etc/elemental/grub.cfg (regular file)",
	"etc/os-release (regular file)",
	"lib (symlink) -> usr/lib",
	"usr (directory)",
	"usr/bin (directory)",
	"usr/bin/elemental (regular file)",
	"usr/lib (directory)",
	"usr/lib/elemental (directory)",
	"usr/lib/elemental/bootloader (directory)",
	"usr/lib/elemental/bootloader/grubx64.efi (regular file)",
	"usr/lib/elemental/bootloader/mmx64.efi (regular file)",
	"usr/lib/elemental/bootloader/shimx64.efi (regular file)",
	"usr/lib/grub (directory)",
	"usr/lib/grub/x86_64-efi (directory)",
	"usr/lib/grub/x86_64-efi/loopback.mod (regular file)",
	"usr/lib/grub/x86_64-efi/squash4.mod (regular file)",
	"usr/lib/grub/x86_64-efi/xzio.mod (regular file)",
	"usr/lib/modules (directory)",
	"usr/lib/modules/6.1.0-test (directory)",
	"usr/lib/modules/6.1.0-test/kernel (directory)",
	"usr/lib/modules/6.1.0-test/kernel/x.ko (regular file)",
	"var (directory)",
	"var/lib (directory)",
	"var/lib/cache (directory)",
	"var/lib/cache/c (regular file)",
}

// isolateKeychain points authn.DefaultKeychain at an empty docker config.
func isolateKeychain(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "none.json"))
	return dir
}

// basicAuth wraps h so that every request needs user:pass.
func basicAuth(h http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestOpenRefForms(t *testing.T) {
	cfgDir := isolateKeychain(t)
	img := mustImage(t, imagetest.Derivative(2, "1.0")...)
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()

	plain := imagetest.Registry(t)
	imagetest.Push(t, plain+"/elemental/os:v1", img)
	authed := imagetest.Serve(t, basicAuth(imagetest.RegistryHandler(), "user", "secret"))
	imagetest.Push(t, authed+"/elemental/os:v1", img, remote.WithAuth(basicAuthn("user", "secret")))
	// A second authenticated registry whose credentials come from the
	// docker config file, i.e. through authn.DefaultKeychain.
	keyed := imagetest.Serve(t, basicAuth(imagetest.RegistryHandler(), "kc", "kcpass"))
	imagetest.Push(t, keyed+"/elemental/os:v1", img, remote.WithAuth(basicAuthn("kc", "kcpass")))
	writeDockerConfig(t, cfgDir, keyed, "kc", "kcpass")

	layoutDir := filepath.Join(tmp, "layout")
	if err := imagetest.WriteLayout(layoutDir, img, "v1"); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(tmp, "image.tar")
	if err := imagetest.WriteDockerArchive(archive, img, "elemental/os:v1"); err != nil {
		t.Fatal(err)
	}
	cfgName, _ := img.ConfigName()

	tests := []struct {
		name       string
		ref        string
		opts       oci.Options
		wantDigest v1.Hash
		headRef    string // when set, the digest must equal remote.Head of it
	}{
		{name: "remote tag", ref: plain + "/elemental/os:v1", headRef: plain + "/elemental/os:v1"},
		{name: "remote digest", ref: plain + "/elemental/os@" + imgDigest.String(), wantDigest: imgDigest},
		{name: "remote insecure flag", ref: plain + "/elemental/os:v1", opts: oci.Options{Insecure: true}, wantDigest: imgDigest},
		{name: "remote basic auth", ref: authed + "/elemental/os:v1", opts: oci.Options{Username: "user", Password: "secret"}, wantDigest: imgDigest},
		{name: "remote keychain auth", ref: keyed + "/elemental/os:v1", headRef: keyed + "/elemental/os:v1"},
		{name: "layout only manifest", ref: oci.LayoutPrefix + layoutDir, wantDigest: imgDigest},
		{name: "layout tag", ref: oci.LayoutPrefix + layoutDir + ":v1", wantDigest: imgDigest},
		{name: "layout digest", ref: oci.LayoutPrefix + layoutDir + "@" + imgDigest.String(), wantDigest: imgDigest},
		{name: "archive", ref: oci.ArchivePrefix + archive, wantDigest: cfgName},
		{name: "archive tag", ref: oci.ArchivePrefix + archive + ":elemental/os:v1", wantDigest: cfgName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.wantDigest
			if tc.headRef != "" {
				want = headDigest(t, tc.headRef, remote.WithAuthFromKeychain(authn.DefaultKeychain))
				if want != imgDigest {
					t.Errorf("remote.Head = %s, image digest %s", want, imgDigest)
				}
			}
			src, rec, err := walk(t, tc.ref, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if src.Digest != want {
				t.Errorf("Digest = %s, want %s", src.Digest, want)
			}
			if src.Ref != tc.ref || src.Platform != "linux/amd64" || !src.Created.Equal(imagetest.EpochTime()) {
				t.Errorf("Ref %q Platform %q Created %v", src.Ref, src.Platform, src.Created)
			}
			if n := len(src.Layers()); n != 3 {
				t.Errorf("%d layers, want 3", n)
			}
			if diff := cmp.Diff(wantV2, rec.summary()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			checkV2Content(t, rec)
		})
	}
}

func checkV2Content(t *testing.T, rec *recorder) {
	t.Helper()
	if g := rec.byPath["etc/os-release"]; g == nil || !strings.Contains(g.Data, `VERSION="1.0"`) {
		t.Errorf("etc/os-release = %+v", g)
	}
	if g := rec.byPath["var/lib/cache"]; g == nil || g.Mode != 0o750 {
		t.Errorf("var/lib/cache must keep the top layer's mode 0750: %+v", g)
	}
	if g := rec.byPath["usr/bin/elemental"]; g == nil || g.Mode != 0o755 || g.Data != "#!/bin/sh\necho elemental test\n" {
		t.Errorf("usr/bin/elemental = %+v", g)
	}
}

func basicAuthn(u, p string) *authnBasic { return &authnBasic{u, p} }

func headDigest(t *testing.T, ref string, opts ...remote.Option) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r, opts...)
	if err != nil {
		t.Fatalf("remote.Head(%s): %v", ref, err)
	}
	return d.Digest
}

func writeDockerConfig(t *testing.T, dir, host, user, pass string) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPlatform(t *testing.T) {
	isolateKeychain(t)
	amd := mustImage(t, imagetest.Derivative(2, "amd")...)
	arm := mustImage(t, imagetest.Derivative(1, "arm")...)
	idx, err := imagetest.Index(map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm})
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		digests[d.Platform.String()] = d.Digest
	}
	idxDigest, _ := idx.Digest()
	host := imagetest.Registry(t)
	imagetest.PushIndex(t, host+"/multi:v1", idx)
	imagetest.Push(t, host+"/single-amd:v1", amd)
	layoutDir := filepath.Join(t.TempDir(), "layout")
	if err := imagetest.WriteLayoutIndex(layoutDir, idx, "v1"); err != nil {
		t.Fatal(err)
	}
	if head := headDigest(t, host+"/multi:v1"); head != idxDigest {
		t.Fatalf("remote.Head = %s, index digest %s", head, idxDigest)
	}

	tests := []struct {
		name, ref, platform string
		wantOSRelease       string // substring of etc/os-release
		wantErr             string
	}{
		{name: "remote default amd64", ref: host + "/multi:v1", wantOSRelease: `VERSION="amd"`},
		{name: "remote arm64", ref: host + "/multi:v1", platform: "linux/arm64", wantOSRelease: `VERSION="arm"`},
		{name: "layout arm64", ref: oci.LayoutPrefix + layoutDir + ":v1", platform: "linux/arm64", wantOSRelease: `VERSION="arm"`},
		{name: "remote missing", ref: host + "/multi:v1", platform: "linux/s390x",
			wantErr: "no image for platform linux/s390x in index (available: linux/amd64, linux/arm64)"},
		{name: "layout missing", ref: oci.LayoutPrefix + layoutDir, platform: "linux/riscv64",
			wantErr: "no image for platform linux/riscv64 in index (available: linux/amd64, linux/arm64)"},
		{name: "single manifest wrong arch", ref: host + "/single-amd:v1", platform: "linux/arm64",
			wantErr: "image is for linux/amd64, not linux/arm64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, rec, err := walk(t, tc.ref, oci.Options{Platform: tc.platform})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, oci.ErrPlatformNotFound) {
					t.Fatalf("err = %v, want %q (ErrPlatformNotFound)", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.ref) {
					t.Errorf("error %q does not name the ref", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			plat := tc.platform
			if plat == "" {
				plat = "linux/amd64"
			}
			if src.Digest != digests[plat] || src.IndexDigest != idxDigest || src.Platform != plat {
				t.Errorf("Digest %s IndexDigest %s Platform %s, want %s %s %s",
					src.Digest, src.IndexDigest, src.Platform, digests[plat], idxDigest, plat)
			}
			if g := rec.byPath["etc/os-release"]; g == nil || !strings.Contains(g.Data, tc.wantOSRelease) {
				t.Errorf("etc/os-release = %+v, want %q", g, tc.wantOSRelease)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	isolateKeychain(t)
	empty, err := imagetest.ImageFromBlobs()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	multi := filepath.Join(dir, "multi")
	for _, tag := range []string{"a", "b"} {
		if err := imagetest.WriteLayout(multi, mustImage(t, imagetest.Derivative(2, tag)...), tag); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, ref string
		wantErr   string
		wantIs    error
	}{
		{name: "no layers", ref: layoutRef(t, empty), wantErr: "image has no layers", wantIs: oci.ErrNoLayers},
		{name: "layout missing dir", ref: oci.LayoutPrefix + filepath.Join(dir, "nope"), wantErr: "reading layout"},
		{name: "layout ambiguous", ref: oci.LayoutPrefix + multi, wantErr: "layout holds 2 manifests, name one with :tag or @digest (tags: a, b)"},
		{name: "layout unknown tag", ref: oci.LayoutPrefix + multi + ":c", wantErr: `no manifest tagged "c" in layout (tags: a, b)`},
		{name: "archive missing", ref: oci.ArchivePrefix + filepath.Join(dir, "nope.tar"), wantErr: "reading docker archive"},
		{name: "bad platform", ref: "example.invalid/x:y", wantErr: "parsing platform"},
		{name: "bad reference", ref: "Not A Ref", wantErr: "parsing reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := oci.Options{}
			if tc.name == "bad platform" {
				opts.Platform = "linux/"
			}
			_, err := oci.Open(context.Background(), tc.ref, opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
		})
	}
}
