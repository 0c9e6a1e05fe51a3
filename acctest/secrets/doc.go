// Package secrets holds one acceptance test of issue 8's "Secrets and
// access" promise: registry passwords, cloud keys, SSH keys and passwords
// never appear in logs, Packer output, Terraform plans or state.
//
// Why a separate package: the promise spans both front ends and the core,
// so the test drives the real binaries (packer with the plugin, terraform
// with the provider through dev_overrides) against loopback stand-ins that
// demand the credentials (a registry with basic auth, the AWS emulator
// behind a SigV4 key check, Debian's sshd), injects unique secret values,
// and then greps everything the runs left behind: stdout, stderr, the
// PACKER_LOG and TF_LOG=trace files, manifests, saved plans (inside the
// zip), `terraform show -json`, state files, output directories and disks
// (data extents only), temporary and home directories. Each secret is
// searched raw, JSON-escaped, URL-escaped, line by line for multi-line keys
// and base64-encoded at all three alignments, and compressed files (gzip,
// zip) are searched decompressed too; compressed file systems inside a
// disk (the squashfs recovery image) are not unpacked. Every run also fails
// on purpose (wrong registry password, AWS session token, SSH key) because
// error paths are where secrets tend to slip out. A unit test plants
// secrets in every form to prove the scan finds them.
//
// The acceptance tests run only with PACKER_ACC=1 (Packer) and TF_ACC=1
// (Terraform) and skip, naming the tool, when packer, terraform or sshd is
// missing:
//
//	PACKER_ACC=1 TF_ACC=1 go test -count 1 ./acctest/secrets -v
package secrets
