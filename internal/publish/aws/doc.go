// Package aws publishes a raw disk as an Amazon Machine Image.
//
// Why it exists: the Packer builder and the Terraform provider both turn
// the installer's sparse raw disk into AMIs, and the fast way to do that is
// the EBS direct APIs: StartSnapshot, PutSnapshotBlock for every 512 KiB
// block that holds data, CompleteSnapshot, then RegisterImage. It needs no
// S3 bucket, no vmimport role, no helper instance and none of the 15–100
// minute ImportSnapshot wait, so an AMI is ready in about the time its data
// takes to upload. Accounts that forbid the EBS direct APIs use the
// fallback: a streamed multipart S3 upload, ImportSnapshot, and the same
// registration (packer-plugin-amazon#103 asked for import-as-snapshot for
// exactly this kind of OS).
//
// After registration the image is copied to other regions, shared (launch
// and create-volume permissions), tagged, deprecated and protected in the
// order packer-plugin-amazon's ebssurrogate builder uses, with its field
// names (see plugin-conventions §1.7). Nothing is left behind on failure
// or cancellation: every resource carries a run tag plus the caller's
// provenance tags, and Publish deletes what it created (found both from
// its own record and by the run tag) before returning the error.
//
// Incremental uploads: with Spec.ParentSnapshotID the snapshot is started
// as a child of an earlier one (typically the previous version's), which
// it inherits every block it does not write. So a block where the disk
// has no data but the parent has is written as zeros, and a block the
// disk needs is skipped when the parent's checksum (GetSnapshotBlock's
// x-amz-Checksum, fetched by the same bounded worker pool) equals the
// block's SHA256. A checksum that cannot be read only costs the saving:
// the block is written. Result.BlocksInherited/BytesSaved report the
// saving; ChangedBlocksCount and the aggregate checksum cover only the
// written blocks. Encryption follows the EBS direct encryption outcomes:
// Encrypted may not be sent with a parent, the child of an encrypted
// parent is encrypted (with KMSKeyID if given, else the parent's key),
// and the child of an unencrypted parent cannot be encrypted; Publish
// checks Spec.Encrypted against the parent before it creates anything.
//
// Lost replies: the S3 fallback records the object key (which holds the
// run id) before CreateMultipartUpload. When that call failed or was
// retried (the SDK's attempt metadata says so), an upload whose reply was
// lost may exist, so every upload of the key that ListMultipartUploads
// finds is aborted, after completing and on failure; otherwise the one
// known upload id is aborted on failure. Listing takes
// s3:ListBucketMultipartUploads on the bucket, needed only then.
//
// Sources: the EBS direct path reads a Source (size plus blocks, in any
// order, each at most once), so it does not need a file; FileSource is
// the one implementation today, and the S3 fallback (multipart parts read
// at their offsets) needs a source that is also an io.ReaderAt. The
// installer still hands over a sparse raw file, and the file stays for
// now, because: the installer writes partitions through io.WriterAt at
// scattered offsets in one pass and writes metadata (file system tables,
// both GPT headers) at the end, so no block is known to be final while
// it runs; the same file feeds the local output formats, the GCE tar.gz
// (whose sparse map precedes the data, so it needs every extent first)
// and the S3 fallback; and the file's extents are what tells holes from
// data. Feeding EBS direct straight from the installer would need an
// io.WriterAt sink in internal/installer's output that buffers each
// partially written 512 KiB block in memory, hands a block to the
// uploader once all its bytes are written (or at Close, zero-padded), and
// fails over to the file if a byte is written twice (PutSnapshotBlock
// overwrites, but two in-flight writes of one block race). Memory is then
// bounded by the blocks the file systems leave partly written until their
// metadata is flushed.
//
// Provenance: every AMI, snapshot (copies included), S3 object and import
// task carries elemental:source, elemental:source-digest and
// elemental:suite-version (Spec.Source, SourceDigest, SuiteVersion; the
// version defaults to the suite module's version in the binary's build
// info, BuildVersion).
//
// Credentials and endpoints come from the aws.Config the caller passes
// (LoadConfig builds one the standard way, with an optional assumed role),
// so AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EC2/_EBS/_S3, profiles, SSO and
// IMDS work as in every other AWS SDK program.
//
// References: Amazon EBS direct APIs (User Guide, "Use EBS direct APIs to
// write data to a snapshot", "Encryption outcomes for EBS direct APIs";
// API Reference: StartSnapshot, PutSnapshotBlock, GetSnapshotBlock,
// CompleteSnapshot), Amazon S3 API Reference (ListMultipartUploads),
// Amazon EC2 API Reference (RegisterImage,
// CopyImage, ImportSnapshot, EnableImageDeprecation,
// EnableImageDeregistrationProtection).
package aws
