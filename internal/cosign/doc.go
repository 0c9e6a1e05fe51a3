// Package cosign checks that a derivative carries a valid cosign signature
// made with a given public key, before the installer reads anything but its
// manifest.
//
// It exists because the suite turns images built by others into bootable
// disks: when the user gives a key, an unsigned image, an image signed by
// another key or a signature that names another image must stop the build.
//
// Only cosign's key-based, tag-discovered signatures are handled, as laid
// down in cosign's specs/SIGNATURE_SPEC.md: the signatures of the manifest
// with digest sha256:X in repository R are the layers of the image tagged
// R:sha256-X.sig; each layer of media type
// application/vnd.dev.cosign.simplesigning.v1+json is a "simple signing"
// JSON payload and its annotation dev.cosignproject.cosign/signature holds
// the base64 signature of those payload bytes. A signature is accepted when
// it verifies with the key (ECDSA, RSA PKCS#1 v1.5 with SHA-256, or
// Ed25519, through sigstore's signature package, as `cosign verify --key`
// does), its payload is of type "cosign container image signature" and its
// critical.image.docker-manifest-digest is the digest being built (or the
// digest of the index the platform manifest was picked from, which names
// the manifest by digest). The docker-reference of the payload is ignored,
// as the spec says, so that signed images can be mirrored.
//
// Signatures are looked up beside the image: in the same registry
// repository (with the build's credentials), or in the same OCI layout,
// either tagged sha256-X.sig (org.opencontainers.image.ref.name) or stored
// the way `cosign save` does (annotation kind=dev.cosignproject.cosign/sigs).
// Docker archives keep no manifest digest a signature could name and are
// refused. Keyless (Fulcio certificate) signatures, transparency-log checks
// and COSIGN_REPOSITORY are not supported.
package cosign
