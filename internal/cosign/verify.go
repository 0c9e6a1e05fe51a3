package cosign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Media type, annotation and payload type of cosign's simple signing
// signatures (cosign specs/SIGNATURE_SPEC.md).
const (
	PayloadMediaType    = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	PayloadType         = payload.CosignSignatureType
)

// Limits on what a signature image may make Verify read.
const (
	maxLayers      = 256
	maxPayloadSize = 1 << 20
)

// Errors callers can test with errors.Is.
var (
	ErrBadKey            = errors.New("unusable public key")
	ErrUnsupportedSource = errors.New("source kind cannot be verified")
	ErrNoSignature       = errors.New("no signature")
	ErrBadSignature      = errors.New("signature does not verify with the key")
	ErrBadPayload        = errors.New("signed payload is not a cosign image signature")
	ErrDigestMismatch    = errors.New("signature is for another image")
)

// Subject is the image whose signature is checked.
type Subject struct {
	// Ref is the source reference as given to oci.Open: a registry
	// reference or "oci-layout:DIR[:TAG|@DIGEST]".
	Ref string
	// Digests are the manifest digests a signature may name, in order of
	// preference: the index the platform manifest was picked from (what
	// `cosign sign` signs for a multi-platform tag) and the platform
	// manifest itself.
	Digests []v1.Hash
}

// Options configures registry access; it matches the build's oci.Options.
type Options struct {
	Username, Password string
	Insecure           bool
	// Attempts is how many times a transiently failing request is tried;
	// zero means 3.
	Attempts int
}

// Verified describes the signature that was accepted.
type Verified struct {
	// SignatureRef is where it was found: "registry/repo:sha256-….sig" or
	// "oci-layout:DIR:sha256-….sig".
	SignatureRef string
	// Digest is the manifest digest it signs.
	Digest v1.Hash
	// DockerReference is the payload's critical.identity.docker-reference,
	// for information only.
	DockerReference string
}

// TagError says why the signatures at one location were not accepted.
type TagError struct {
	SignatureRef string
	Err          error
}

func (e *TagError) Error() string { return e.SignatureRef + ": " + e.Err.Error() }
func (e *TagError) Unwrap() error { return e.Err }

// Error is Verify's refusal: it names the source, the key and every
// signature location searched, with the reason for each.
type Error struct {
	Ref, KeyOrigin string
	Tags           []*TagError
	// Err is set instead of Tags when no signature could be searched for.
	Err error
}

func (e *Error) Error() string {
	msg := e.errText()
	return fmt.Sprintf("verifying cosign signature of %s with key %s: %s", e.Ref, e.KeyOrigin, msg)
}

func (e *Error) errText() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	parts := make([]string, len(e.Tags))
	for i, t := range e.Tags {
		parts[i] = t.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap gives the reasons, so errors.Is finds the sentinels.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Err}
	}
	out := make([]error, len(e.Tags))
	for i, t := range e.Tags {
		out[i] = t
	}
	return out
}

// SignatureTag is the tag cosign stores the signatures of digest under:
// "sha256-<hex>.sig".
func SignatureTag(digest v1.Hash) string {
	return digest.Algorithm + "-" + digest.Hex + ".sig"
}

// Verify looks for the signatures of subj and returns the first that
// verifies with key and names one of subj.Digests. Anything else is an
// *Error wrapping ErrNoSignature, ErrBadSignature, ErrBadPayload,
// ErrDigestMismatch or ErrUnsupportedSource (or a registry error).
func Verify(ctx context.Context, subj Subject, key *PublicKey, opts Options) (*Verified, error) {
	fail := &Error{Ref: subj.Ref, KeyOrigin: "(none)"}
	if key == nil {
		fail.Err = ErrBadKey
		return nil, fail
	}
	fail.KeyOrigin = key.Origin
	st, err := newStore(subj.Ref, opts)
	if err != nil {
		fail.Err = err
		return nil, fail
	}
	var digests []v1.Hash
	for _, d := range subj.Digests {
		if d.Hex != "" {
			digests = append(digests, d)
		}
	}
	if len(digests) == 0 {
		fail.Err = errors.New("no digest to verify")
		return nil, fail
	}
	for _, d := range digests {
		where := st.location(SignatureTag(d))
		sigs, err := st.signatures(ctx, SignatureTag(d))
		if err == nil {
			var v *Verified
			if v, err = check(sigs, d, key); err == nil {
				v.SignatureRef = where
				return v, nil
			}
		}
		fail.Tags = append(fail.Tags, &TagError{SignatureRef: where, Err: err})
	}
	return nil, fail
}

// sigLayer is one signature layer: its payload and base64 signature.
type sigLayer struct {
	payload   []byte
	signature string
}

// check accepts the first layer whose signature verifies and whose payload
// names want. When none does, the reason given is the most telling one:
// a verified payload for another digest, then a verified payload of the
// wrong kind, then bad signatures.
func check(sigs []sigLayer, want v1.Hash, key *PublicKey) (*Verified, error) {
	var mismatch, badPayload, badSig error
	for i, s := range sigs {
		raw, err := base64.StdEncoding.DecodeString(s.signature)
		if err == nil {
			err = key.verify(raw, s.payload)
		}
		if err != nil {
			badSig = errors.Join(badSig, fmt.Errorf("layer %d: %w", i, err))
			continue
		}
		p, err := parsePayload(s.payload)
		if err != nil {
			badPayload = fmt.Errorf("layer %d: %w: %w", i, ErrBadPayload, err)
			continue
		}
		if p.Critical.Image.DockerManifestDigest != want.String() {
			mismatch = fmt.Errorf("layer %d signs %q, not %s: %w", i, p.Critical.Image.DockerManifestDigest, want, ErrDigestMismatch)
			continue
		}
		return &Verified{Digest: want, DockerReference: p.Critical.Identity.DockerReference}, nil
	}
	switch {
	case mismatch != nil:
		return nil, mismatch
	case badPayload != nil:
		return nil, badPayload
	}
	return nil, fmt.Errorf("%w (%d signature(s) tried): %s", ErrBadSignature, len(sigs), oneLine(badSig))
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func parsePayload(b []byte) (*payload.SimpleContainerImage, error) {
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decoding payload: %w", err)
	}
	if p.Critical.Type != PayloadType {
		return nil, fmt.Errorf("critical.type is %q, want %q", p.Critical.Type, PayloadType)
	}
	return &p, nil
}

// readPayload reads a layer blob of at most maxPayloadSize bytes.
func readPayload(rc io.ReadCloser, size int64) ([]byte, error) {
	defer rc.Close()
	if size > maxPayloadSize {
		return nil, fmt.Errorf("payload of %d bytes exceeds %d", size, maxPayloadSize)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxPayloadSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPayloadSize {
		return nil, fmt.Errorf("payload exceeds %d bytes", maxPayloadSize)
	}
	return b, nil
}
