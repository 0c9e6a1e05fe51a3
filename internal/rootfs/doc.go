// Package rootfs holds the vocabulary shared by everything that turns a
// flattened container root filesystem into on-disk filesystems: an Entry
// (one file, directory, link or device node, already validated), the Sink
// interface that filesystem writers implement, and helpers that fan one
// stream of entries out to several sinks.
//
// The stream model is why this package exists: the installer reads the
// image's layers once and every filesystem image (snapshot, recovery,
// passive copy) is written from that single pass, so writers never see a
// directory tree on disk and never hold file data in memory.
package rootfs
