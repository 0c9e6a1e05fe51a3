package cosign

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PublicKey verifies signatures made with one key.
type PublicKey struct {
	// Origin names the key in errors: a file name or a configuration field.
	Origin   string
	verifier signature.Verifier
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX), as `cosign
// generate-key-pair` writes cosign.pub: ECDSA, RSA or Ed25519. origin names
// the key in errors.
func ParsePublicKey(pemData []byte, origin string) (*PublicKey, error) {
	if origin == "" {
		origin = "(inline)"
	}
	fail := func(format string, a ...any) (*PublicKey, error) {
		return nil, fmt.Errorf("public key %s: %s: %w", origin, fmt.Sprintf(format, a...), ErrBadKey)
	}
	block, _ := pem.Decode(bytes.TrimSpace(pemData))
	switch {
	case len(bytes.TrimSpace(pemData)) == 0:
		return fail("empty")
	case block == nil:
		return fail("no PEM block")
	case block.Type == "ENCRYPTED COSIGN PRIVATE KEY" || block.Type == "ENCRYPTED SIGSTORE PRIVATE KEY":
		return fail("this is a private key; give the public key (cosign.pub)")
	case block.Type != "PUBLIC KEY":
		return fail("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemData)
	if err != nil {
		return fail("%v", err)
	}
	if err := cryptoutils.ValidatePubKey(pub); err != nil {
		return fail("%v", err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return fail("%v", err)
	}
	return &PublicKey{Origin: origin, verifier: v}, nil
}

// ReadPublicKey reads the PEM public key in file path (see ParsePublicKey).
func ReadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w: %w", path, ErrBadKey, err)
	}
	return ParsePublicKey(b, path)
}

// verify checks sig (raw, not base64) over payload.
func (k *PublicKey) verify(sig, payload []byte) error {
	return k.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload))
}
