// Package awsemu is an in-memory emulator of the parts of AWS that
// publishing an AMI touches: the EBS direct APIs (StartSnapshot,
// PutSnapshotBlock, CompleteSnapshot, ListSnapshotBlocks,
// GetSnapshotBlock), the EC2 image and snapshot APIs (query protocol:
// RegisterImage, DescribeImages, CopyImage, ImportSnapshot and friends) and
// the S3 object subset used by multipart uploads (ListMultipartUploads
// included).
//
// Why it exists: no reachable emulator covers the EC2 image APIs, and the
// publisher must be tested end to end with the real aws-sdk-go-v2 clients
// (serialisation, signing, retries, waiters) without an AWS account. The
// emulator speaks the wire protocols the SDK expects, so the clients are
// pointed at it with the standard endpoint overrides (AWS_ENDPOINT_URL or
// a per-service BaseEndpoint). One server answers all three services and
// any number of regions: the service and region come from the SigV4
// credential scope in the Authorization header. The issue names kumo
// (github.com/sivchari/kumo) for the EBS direct and S3 side; v0.33.1
// does fetch and build with this Go (the package list's "all-failed" note
// did not reproduce on 2026-11-26), but its EBS service keeps its state in
// internal packages (so RegisterImage here could not see its snapshots),
// stores a block under the checksum the client sent without checking it,
// ignores ChangedBlocksCount and holds every block on the heap, so this
// package emulates those APIs itself.
//
// EC2 and EBS share one state: RegisterImage only accepts a completed
// snapshot that really holds blocks, and DeleteSnapshot refuses a snapshot
// an AMI still uses. A snapshot started with ParentSnapshotId begins with
// its parent's blocks (written blocks replace them; ChangedBlocksCount
// and the aggregate checksum count only written ones) and takes its
// encryption by the EBS direct encryption outcomes. Resources move
// pending → available/completed after Options.Delay. Faults (500, 503,
// throttling, connection resets, slow replies, and lost replies: carried
// out, then the connection is closed) are injected per operation with a
// seeded, deterministic decision, so retry and cleanup paths can be
// tested.
//
// Tests can also look at what happened: SnapshotStart is the
// StartSnapshot request that made a snapshot, PeakInFlight the most
// requests of an operation served at once, Options.BlockConcurrency
// refuses block requests past an account limit
// (ConcurrentLimitExceededException), and S3 objects keep their tags
// (GetObjectTagging, at most 10).
//
// For the tests that use it the package also reads a snapshot back with
// the real SDK and compares it with a disk byte for byte (ReadSnapshot,
// SnapshotData.Compare), points a client at an emulator (Config), and
// watches for raw disk files at every upload request (WatchPuts), so the
// publisher, Packer and Terraform tests share one careful version.
//
// References: the Amazon EC2 API Reference (query protocol, error codes),
// the Amazon EBS direct APIs reference, the Amazon S3 API Reference.
package awsemu
