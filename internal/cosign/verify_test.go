package cosign_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/elemental-suite/elemental/internal/cosign"
	"github.com/elemental-suite/elemental/internal/cosign/cosigntest"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// target is one image published two ways: pushed to a registry and
// written to an OCI layout.
type target struct {
	kind, ref, repo, dir string
	digest               v1.Hash
}

func newTarget(t *testing.T, kind string) *target {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{kind: kind, digest: d}
	switch kind {
	case "registry":
		tg.repo = imagetest.Registry(t) + "/derivative"
		tg.ref = tg.repo + ":v1"
		imagetest.Push(t, tg.ref, img)
	case "layout":
		tg.dir = filepath.Join(t.TempDir(), "layout")
		if err := imagetest.WriteLayout(tg.dir, img, "v1"); err != nil {
			t.Fatal(err)
		}
		tg.ref = "oci-layout:" + tg.dir + ":v1"
	}
	return tg
}

// attach stores sigs as the signatures of digest beside the target.
func (tg *target) attach(t *testing.T, digest v1.Hash, sigs ...cosigntest.Signature) {
	t.Helper()
	if tg.kind == "registry" {
		cosigntest.Push(t, tg.repo, digest, sigs...)
	} else {
		cosigntest.AddToLayout(t, tg.dir, digest, sigs...)
	}
}

func (tg *target) sigRef() string {
	if tg.kind == "registry" {
		return tg.repo + ":" + cosign.SignatureTag(tg.digest)
	}
	return "oci-layout:" + tg.dir + ":" + cosign.SignatureTag(tg.digest)
}

func TestVerify(t *testing.T) {
	key, other := cosigntest.NewKey(t), cosigntest.NewKey(t)
	otherDigest := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	cases := []struct {
		name string
		sign func(t *testing.T, tg *target)
		is   error
		want string
	}{
		{name: "valid", sign: func(t *testing.T, tg *target) { tg.attach(t, tg.digest, key.SignDigest(t, "example.org/x", tg.digest)) }},
		{name: "valid among others", sign: func(t *testing.T, tg *target) {
			tg.attach(t, tg.digest, other.SignDigest(t, "x", tg.digest), key.SignDigest(t, "x", otherDigest), key.SignDigest(t, "x", tg.digest))
		}},
		{name: "unsigned", is: cosign.ErrNoSignature, want: "no signature"},
		{name: "signed by another key", sign: func(t *testing.T, tg *target) { tg.attach(t, tg.digest, other.SignDigest(t, "x", tg.digest)) },
			is: cosign.ErrBadSignature, want: "signature does not verify with the key (1 signature(s) tried): layer 0: invalid signature"},
		{name: "signature of another digest", sign: func(t *testing.T, tg *target) { tg.attach(t, tg.digest, key.SignDigest(t, "x", otherDigest)) },
			is: cosign.ErrDigestMismatch, want: `layer 0 signs "sha256:abab`},
		{name: "tampered payload", sign: func(t *testing.T, tg *target) {
			s := key.SignDigest(t, "x", otherDigest)
			s.Payload = []byte(strings.Replace(string(s.Payload), otherDigest.String(), tg.digest.String(), 1))
			tg.attach(t, tg.digest, s)
		}, is: cosign.ErrBadSignature},
		{name: "signature not base64", sign: func(t *testing.T, tg *target) {
			s := key.SignDigest(t, "x", tg.digest)
			s.Signature = "%%%"
			tg.attach(t, tg.digest, s)
		}, is: cosign.ErrBadSignature, want: "illegal base64"},
		{name: "payload of another type", sign: func(t *testing.T, tg *target) {
			tg.attach(t, tg.digest, key.Sign(t, []byte(`{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"`+tg.digest.String()+`"}}}`)))
		}, is: cosign.ErrBadPayload, want: `critical.type is "atomic container signature"`},
		{name: "signature image without signature layers", sign: func(t *testing.T, tg *target) { tg.attach(t, tg.digest) },
			is: cosign.ErrNoSignature, want: "no application/vnd.dev.cosign.simplesigning.v1+json layer"},
	}
	for _, kind := range []string{"registry", "layout"} {
		for _, c := range cases {
			t.Run(kind+" "+c.name, func(t *testing.T) {
				tg := newTarget(t, kind)
				if c.sign != nil {
					c.sign(t, tg)
				}
				pk, err := cosign.ParsePublicKey(key.PublicPEM, "cosign.pub")
				if err != nil {
					t.Fatal(err)
				}
				v, err := cosign.Verify(context.Background(), cosign.Subject{Ref: tg.ref, Digests: []v1.Hash{tg.digest}}, pk, cosign.Options{})
				if c.is == nil {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if v.SignatureRef != tg.sigRef() || v.Digest != tg.digest {
						t.Errorf("verified %+v, want signature %s for %s", v, tg.sigRef(), tg.digest)
					}
					return
				}
				if err == nil {
					t.Fatalf("Verify accepted the image (%+v), want %v", v, c.is)
				}
				t.Logf("error: %v", err)
				prefix := "verifying cosign signature of " + tg.ref + " with key cosign.pub: " + tg.sigRef() + ": "
				if !errors.Is(err, c.is) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q\nwant errors.Is %v, prefix %q, containing %q", err, c.is, prefix, c.want)
				}
			})
		}
	}
}

// TestVerifyIndexDigest accepts a signature of the index when the
// manifest itself is unsigned, and names both tags when neither verifies.
func TestVerifyIndexDigest(t *testing.T) {
	key := cosigntest.NewKey(t)
	pk, err := cosign.ParsePublicKey(key.PublicPEM, "k.pub")
	if err != nil {
		t.Fatal(err)
	}
	tg := newTarget(t, "registry")
	index := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1f", 32)}
	subj := cosign.Subject{Ref: tg.ref, Digests: []v1.Hash{index, tg.digest}}
	_, err = cosign.Verify(context.Background(), subj, pk, cosign.Options{})
	want := "verifying cosign signature of " + tg.ref + " with key k.pub: " + tg.repo + ":" + cosign.SignatureTag(index) +
		": no signature (tag not found); " + tg.sigRef() + ": no signature (tag not found)"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	tg.attach(t, index, key.SignDigest(t, tg.repo, index))
	v, err := cosign.Verify(context.Background(), subj, pk, cosign.Options{})
	if err != nil || v.Digest != index || v.DockerReference != tg.repo {
		t.Fatalf("Verify = %+v, %v; want the index signature", v, err)
	}
}

// TestVerifyCosignSave finds signatures stored the way `cosign save`
// stores them: untagged, marked kind=dev.cosignproject.cosign/sigs.
func TestVerifyCosignSave(t *testing.T) {
	key := cosigntest.NewKey(t)
	pk, _ := cosign.ParsePublicKey(key.PublicPEM, "k.pub")
	tg := newTarget(t, "layout")
	cosigntest.SaveToLayout(t, tg.dir, key.SignDigest(t, "x", tg.digest))
	if _, err := cosign.Verify(context.Background(), cosign.Subject{Ref: "oci-layout:" + tg.dir + "@" + tg.digest.String(), Digests: []v1.Hash{tg.digest}}, pk, cosign.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDockerArchive(t *testing.T) {
	pk, _ := cosign.ParsePublicKey(cosigntest.NewKey(t).PublicPEM, "k.pub")
	_, err := cosign.Verify(context.Background(), cosign.Subject{Ref: "docker-archive:/x.tar", Digests: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}}, pk, cosign.Options{})
	if !errors.Is(err, cosign.ErrUnsupportedSource) || !strings.Contains(err.Error(), "docker-archive:/x.tar") {
		t.Fatalf("error %v, want ErrUnsupportedSource naming the source", err)
	}
}

// TestKeyKinds verifies signatures of each key type cosign can use.
func TestKeyKinds(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edSigner, _ := signature.LoadED25519SignerVerifier(edPriv)
	rsaSigner, _ := signature.LoadRSAPKCS1v15SignerVerifier(rsaPriv, 5) // crypto.SHA256
	cases := []struct {
		name string
		pub  any
		sv   signature.SignerVerifier
	}{
		{"ed25519", edPriv.Public(), edSigner},
		{"rsa", rsaPriv.Public(), rsaSigner},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pemData, err := cryptoutils.MarshalPublicKeyToPEM(c.pub)
			if err != nil {
				t.Fatal(err)
			}
			k := &cosigntest.Key{Signer: c.sv, PublicPEM: pemData}
			tg := newTarget(t, "layout")
			tg.attach(t, tg.digest, k.SignDigest(t, "x", tg.digest))
			pk, err := cosign.ParsePublicKey(pemData, c.name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cosign.Verify(context.Background(), cosign.Subject{Ref: tg.ref, Digests: []v1.Hash{tg.digest}}, pk, cosign.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	cases := []struct{ name, pem, want string }{
		{"empty", "", "public key k: empty: unusable public key"},
		{"not PEM", "hello", "public key k: no PEM block: unusable public key"},
		{"private key", "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n",
			"public key k: this is a private key; give the public key (cosign.pub): unusable public key"},
		{"certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", `public key k: PEM block is "CERTIFICATE", want "PUBLIC KEY": unusable public key`},
		{"garbage key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "public key k: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cosign.ParsePublicKey([]byte(c.pem), "k")
			if err == nil || !errors.Is(err, cosign.ErrBadKey) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := cosign.ReadPublicKey(filepath.Join(t.TempDir(), "none.pub")); !errors.Is(err, cosign.ErrBadKey) || !strings.Contains(err.Error(), "none.pub") {
		t.Errorf("missing file: %v", err)
	}
}

// TestVerifyAuthenticated fetches signatures with the build's registry
// credentials, and does not take a refused login for a missing signature.
func TestVerifyAuthenticated(t *testing.T) {
	const user, pass = "builder", "s3cret-Pa55"
	reg := imagetest.RegistryHandler()
	host := imagetest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	key := cosigntest.NewKey(t)
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	repo := host + "/private"
	login := remote.WithAuth(&authn.Basic{Username: user, Password: pass})
	imagetest.Push(t, repo+":v1", img, login)
	tag, _ := name.NewTag(repo + ":" + cosign.SignatureTag(d))
	if err := remote.Write(tag, cosigntest.Image(t, key.SignDigest(t, repo, d)), login); err != nil {
		t.Fatal(err)
	}
	pk, _ := cosign.ParsePublicKey(key.PublicPEM, "k.pub")
	subj := cosign.Subject{Ref: repo + ":v1", Digests: []v1.Hash{d}}
	if _, err := cosign.Verify(context.Background(), subj, pk, cosign.Options{Username: user, Password: pass}); err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	_, err = cosign.Verify(context.Background(), subj, pk, cosign.Options{Username: user, Password: "wrong", Attempts: 1})
	if err == nil || errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), pass) {
		t.Fatalf("with a wrong password: %v; want a 401 that is not ErrNoSignature and no password", err)
	}
}
