// Package gcpemu emulates the parts of Google Cloud that publishing a
// GCE image touches: Cloud Storage (fake-gcs-server, in-process, with a
// stricter resumable-upload check in front of it) and the Compute Engine
// images API (images insert, get, list, getFromFamily, delete, deprecate
// and global operations get and wait), written for this project.
//
// Why it exists: no reachable emulator covers the compute images API, and
// the publisher must be tested end to end with the real Go clients
// (cloud.google.com/go/storage and google.golang.org/api/compute/v1:
// serialisation, resumable uploads, CRC32C, retries) without a Google
// Cloud project. One loopback HTTP server answers both services; the
// clients reach it through the standard overrides: STORAGE_EMULATOR_HOST
// (or a storage endpoint option) and a compute endpoint option.
//
// images.insert reads the archive from the storage emulator, as GCE does,
// and fails the operation (DONE with an error, image FAILED) when it is
// not a gzip, has no disk.raw first member, is not in the GNU "oldgnu"
// tar format, or disk.raw is not a whole number of GiB
// (https://cloud.google.com/compute/docs/import/import-existing-image).
// Operations go PENDING → RUNNING → DONE after Options.OpDelay.
//
// Faults (500, 503, 429, 403, connection resets, slow replies) are
// injected per operation with a seeded decision, before the request
// reaches a handler; a "lost" fault lets the request take effect and then
// resets the connection, so the client cannot tell it succeeded. The
// resumable-upload checker drops bytes a session already holds and
// replays the answer to a finished upload, as GCS does, so clients can
// retry through all of them.
//
// Start it in-process with Start, or standalone with
// `go run ./acctest/gcpemu/cmd/gcpemu -addr 127.0.0.1:4443`, which prints
// the environment to export.
//
// References: Compute Engine API v1 reference (images, globalOperations,
// DeprecationStatus), Cloud Storage JSON API (resumable uploads,
// X-Goog-Hash), GNU tar manual (oldgnu sparse format).
package gcpemu
