// Package installertest builds reference disks for tests.
//
// Why it exists: the publisher, the Packer builder and its acceptance
// tests each check that what they upload is, byte for byte, the disk
// installer.Run writes from the same source and options. Building that
// reference disk and reading it back was repeated in each; this package
// holds the one version. It is a separate package (not part of
// internal/imagetest, which only depends on internal/rootfs) so that the
// packages installer depends on can keep using imagetest in their own
// tests without an import cycle.
package installertest
