package installer

import (
	"fmt"
	"time"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

// build carries one disk build from planning to output.
type build struct {
	spec      Spec
	insp      *Inspection
	o         *options
	time      time.Time
	seed      seed
	plan      *layout.Plan
	sysImg    int64 // size of the system image (v2 snapshot, v1 active/passive)
	sysInodes int64 // inode count of the system images
	recImg    int64 // space reserved for the recovery image
	oemEnv    []byte

	rawPath string // the assembled raw disk (temporary name until emit)
}

const (
	// smallFiles sizes a partition's own small files (state.yaml, grubenv,
	// cloud-configs, bootargs.cfg, GRUB files) generously.
	smallFiles = 16 << 20
	// headroom is the spare room every auto-sized partition gets on top of
	// what upgrades need.
	headroom = 64 << 20
	// toolkitImgOverhead is what the toolkit adds to a tree's size when it
	// makes a filesystem image of it (ImgOverhead, contract §2.1).
	toolkitImgOverhead = 256 << 20
)

func newBuild(spec Spec, insp *Inspection, o *options) (*build, error) {
	r := insp.Report
	b := &build{spec: spec, insp: insp, o: o, seed: seed(insp.Digest)}
	b.time = buildTime(spec.SourceDateEpoch, insp.Created)
	env, err := oemEnv(r, spec.GrubEntryName)
	if err != nil {
		return nil, err
	}
	b.oemEnv = env
	if r.Generation == inspect.V1 && spec.RecoveryFS == "squashfs" && b.compression() == "gzip" {
		r.Warnings = append(r.Warnings, "v1 GRUB loop-mounts recovery.img, and GRUB 2.06 cannot inflate some gzip blocks Go's deflate writes: prefer xz (the v1 default) or ext2 for the recovery image")
	}

	// System images are read-only: give them the inodes the tree needs
	// plus a margin, not mke2fs's one-per-16-KiB ratio, which inflates
	// trees of many small files.
	b.sysInodes = insp.Stats.Entries - insp.Stats.Hardlinks + insp.Stats.Entries/20 + 64
	b.sysImg = roundMiB(ext4.MinSize(insp.Stats, b.systemOptions("")))
	if spec.RecoveryFS == "squashfs" {
		b.recImg = roundMiB(squashfs.MaxSize(insp.Stats, b.squashOptions()))
	} else {
		b.recImg = b.sysImg
	}
	kernelBytes := int64(0)
	if r.Generation == inspect.V2 {
		kernelBytes = r.KernelSize + r.InitrdSize
	}
	part := ext4.Options{Kind: ext4.KindExt4, Journal: true}
	need := func(files int64, data int64) int64 {
		return ext4.MinSize(rootfs.Stats{Entries: files + 8, Dirs: 8, Files: files, DataBytes: data + smallFiles,
			DataBlocks: (data+smallFiles)/4096 + files + 8, NameBytes: 64 * (files + 8)}, part)
	}
	req := layout.Request{
		Need: map[string]int64{
			layout.EFI: layout.DefaultEFISize, layout.OEM: layout.DefaultOEMSize,
			layout.Persistent: layout.DefaultPersistentSize,
		},
		Headroom: map[string]int64{},
		Fixed: map[string]int64{
			layout.EFI: spec.Sizes.EFI, layout.OEM: spec.Sizes.OEM, layout.Recovery: spec.Sizes.Recovery,
			layout.State: spec.Sizes.State, layout.Persistent: spec.Sizes.Persistent,
		},
		DiskSize: spec.DiskSize,
	}
	// An upgrade unpacks the new tree on state and makes its image there
	// (tree size + the toolkit's 256 MiB image overhead) while the older
	// images stay. v2 keeps max-snaps 2, so at the peak of any later
	// upgrade state holds two upgraded snapshots, the new one and the tree;
	// v1 holds active, passive, transition.img and the tree.
	upgraded := b.sysImg + toolkitImgOverhead
	if r.Generation == inspect.V2 {
		req.Need[layout.State] = need(1, b.sysImg)
		req.Headroom[layout.State] = 3*upgraded + headroom
	} else {
		req.Need[layout.State] = need(2, 2*b.sysImg)
		req.Headroom[layout.State] = 2*toolkitImgOverhead + b.sysImg + upgraded + headroom
	}
	req.Need[layout.Recovery] = need(4, b.recImg+kernelBytes)
	req.Headroom[layout.Recovery] = b.recImg + kernelBytes + headroom
	b.plan, err = layout.Compute(req)
	if err != nil {
		return nil, fmt.Errorf("planning the disk for %s: %w", spec.Source, err)
	}
	return b, nil
}

func roundMiB(n int64) int64 { return (n + layout.MiB - 1) / layout.MiB * layout.MiB }

// systemOptions are the options of a system image (v2 snapshot ext2
// EL_SNAP1, v1 ext2 COS_ACTIVE/COS_PASSIVE, or an ext2 COS_SYSTEM recovery).
func (b *build) systemOptions(label string) ext4.Options {
	return ext4.Options{Kind: ext4.KindExt2, Label: label, UUID: b.seed.uuid("fs:" + label),
		HashSeed: b.seed.uuid("hash:" + label), Time: b.time, Inodes: b.sysInodes}
}

func (b *build) partOptions(label string) ext4.Options {
	return ext4.Options{Kind: ext4.KindExt4, Journal: true, Label: label, UUID: b.seed.uuid("fs:" + label),
		HashSeed: b.seed.uuid("hash:" + label), Time: b.time}
}

func (b *build) squashOptions() squashfs.Options {
	c := squashfs.Gzip
	if b.compression() == "xz" {
		c = squashfs.XZ
	}
	return squashfs.Options{Compression: c, Time: b.time}
}

// compression resolves the squashfs compression for the detected generation.
func (b *build) compression() string {
	if c := b.spec.SquashfsCompression; c != "" {
		return c
	}
	if b.insp.Report.Generation == inspect.V1 {
		return "xz"
	}
	return "gzip"
}
