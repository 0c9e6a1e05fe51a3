// Package oci opens an Elemental derivative image (from a registry, an OCI
// image layout directory or a "docker save" archive) and streams its
// flattened root filesystem as validated rootfs entries.
//
// The installer builds every filesystem of a disk from one pass over the
// image, and image content is untrusted input, so this package owns the
// two things that must not be left to chance: which manifest is used
// (platform selection, digest recorded for reproducibility) and what the
// layers are allowed to say (no path escapes, no dangling hardlinks, no
// duplicates, verified blob digests). Layers are flattened top layer first,
// the way mutate.Extract does it, so each path is delivered once and lower
// versions are skipped without being read; file data flows chunk by chunk
// from the decompressor to the sink and is never held whole. What the walk
// must remember per path (which layer delivered it, whether it is a
// directory) lives in an interned path tree of about 40 bytes a path, not
// in string-keyed maps, because it grows with the image's entry count.
//
// Whiteouts follow the OCI image-spec layer rules:
// https://github.com/opencontainers/image-spec/blob/main/layer.md
package oci
