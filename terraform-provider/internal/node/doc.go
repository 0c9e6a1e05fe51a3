// Package node runs the Elemental toolkit on a running node over SSH:
// read which image is active, `elemental upgrade` to a pinned digest,
// reboot gracefully and wait for a new boot, and reset through the
// recovery system (elemental disk contract §4).
//
// It exists apart from the Terraform resource so the SSH, command-line and
// exit-code logic can be tested against a real sshd without Terraform.
// Host keys are always verified unless the caller opts out explicitly; a
// reboot is never requested with --reboot, which would kill the session
// (contract §4.5).
package node
