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
// Block requests: at most Spec.UploadConcurrency PutSnapshotBlock (and
// parent GetSnapshotBlock) requests run at once, each attempt under its
// own Spec.RequestTimeout deadline, retried with jittered backoff on
// throttling (ConcurrentLimitExceededException included, a 400 the SDK
// does not retry), 5xx, timeouts and broken connections.
//
// Boot modes legacy-bios and uefi-preferred (which falls back to legacy
// BIOS on instance types without UEFI) are refused for a disk whose MBR
// holds no boot code (the core's UEFI-only disks), before anything is
// created when the source is a file and when block 0 goes by when it
// streams.
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
// order, each at most once), so it needs no file. The installer's
// *Prepared is one: its blocks come straight from the disk writers through
// internal/blockstream as each 512 KiB block is completed, so the Packer
// AMI builder and elemental_image upload a disk that never exists
// locally (the default derivative: at most 26 blocks, 13 MiB, buffered;
// exactly its non-zero blocks sent). Holes the core never wrote are never
// read or sent. FileSource (a sparse raw file, read extent by extent) is
// the other; the S3 fallback (multipart parts read at their offsets) and
// the GCE tar.gz (whose sparse map precedes the data) need a file.
//
// Provenance: every AMI, snapshot (copies included), S3 object and import
// task carries elemental:source, elemental:source-digest and
// elemental:suite-version (Spec.Source, SourceDigest, SuiteVersion; the
// version defaults to the suite module's version in the binary's build
// info, BuildVersion). The S3 object takes at most 10 tags, so it carries
// the run tag and the provenance only.
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
