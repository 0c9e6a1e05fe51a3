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
// Credentials and endpoints come from the aws.Config the caller passes
// (LoadConfig builds one the standard way, with an optional assumed role),
// so AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EC2/_EBS/_S3, profiles, SSO and
// IMDS work as in every other AWS SDK program.
//
// References: Amazon EBS direct APIs (User Guide, "Use EBS direct APIs to
// write data to a snapshot"), Amazon EC2 API Reference (RegisterImage,
// CopyImage, ImportSnapshot, EnableImageDeprecation,
// EnableImageDeregistrationProtection).
package aws
