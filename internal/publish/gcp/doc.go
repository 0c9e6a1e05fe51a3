// Package gcp publishes a raw disk as a Compute Engine image: it streams
// the disk as disk.raw in a gzipped oldgnu sparse tar (internal/diskformat)
// straight into a Cloud Storage resumable upload, creates the image from
// that object with images.insert, waits for the operation, optionally
// records a deprecation schedule, and deletes the object.
//
// Why it exists: the Packer post-processor and the Terraform provider
// publish GCE images the same way, and both must leave nothing behind on
// failure. No temporary tar.gz is written: the tar.gz is produced while it
// is uploaded, so publishing costs one read of the disk's data and memory
// for one upload chunk plus the compressor's buffers.
//
// Deprecation: GCE never changes an image's deprecation state by itself;
// the deprecated/obsolete/deleted times of a DeprecationStatus are
// informational. Publish therefore sends the times with state ACTIVE
// ("operations which communicate the end of life date for an image can
// use ACTIVE") and sets DEPRECATED, OBSOLETE or DELETED only when that
// time has already come (the mistake of googlecompute#297 was to set
// DEPRECATED at once). Moving the state later is a cleanup job's work.
//
// Checksums: the storage client computes the CRC32C of the stream while
// it uploads and sends it with the final chunk (X-Goog-Hash), where GCS
// checks it; Publish computes its own CRC32C of the bytes it produced and
// compares it with the object's. Writer.SendCRC32C is not used because it
// needs the checksum before the first byte is written.
//
// Leaks: every failure or cancellation deletes the object and any image
// this call created (an image counts as ours only when its rawDisk source
// is our object), under context.WithoutCancel with a timeout. Every
// object and image carries the provenance labels so that a later sweep
// can find them.
//
// References: Compute Engine API v1 (images.insert, images.deprecate,
// globalOperations.wait, DeprecationStatus), "Import a custom image"
// (disk.raw, whole GiB, oldgnu), Cloud Storage resumable uploads, GCP
// label requirements.
package gcp
