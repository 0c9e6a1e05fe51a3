package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature"
)

// FuzzCheck feeds arbitrary payloads and signatures to the layer check:
// it must never panic, never accept a payload the key did not sign, and
// always accept the one payload it did sign for the wanted digest.
func FuzzCheck(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	signer, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		f.Fatal(err)
	}
	key := &PublicKey{Origin: "fuzz", verifier: signer}
	want := v1.Hash{Algorithm: "sha256", Hex: "5e1f0000000000000000000000000000000000000000000000000000000000ab"}
	good := []byte(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` +
		want.String() + `"},"type":"cosign container image signature"},"optional":null}`)
	sig, err := signer.SignMessage(bytes.NewReader(good))
	if err != nil {
		f.Fatal(err)
	}
	goodSig := base64.StdEncoding.EncodeToString(sig)
	f.Add(good, goodSig)
	f.Add(good[:len(good)-1], goodSig)
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{"critical":{"type":"cosign container image signature"}}`), "MEUCIQ==")
	f.Fuzz(func(t *testing.T, payload []byte, sig string) {
		v, err := check([]sigLayer{{payload: payload, signature: sig}}, want, key)
		signed := bytes.Equal(payload, good)
		switch {
		case err == nil && !signed:
			t.Fatalf("accepted an unsigned payload %q (%+v)", payload, v)
		case err == nil:
			if v.Digest != want {
				t.Fatalf("accepted for %s", v.Digest)
			}
		case signed && sig == goodSig:
			t.Fatalf("refused the signed payload: %v", err)
		case !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrBadPayload) && !errors.Is(err, ErrDigestMismatch):
			t.Fatalf("error without a sentinel: %v", err)
		}
	})
}
