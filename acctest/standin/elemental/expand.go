package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/elemental-suite/elemental/internal/gpt"
)

// disk is the read/write/seek surface growTable needs: a block device or
// an image file.
type disk interface {
	io.ReaderAt
	io.WriterAt
	io.Seeker
}

// grown describes the grown partition.
type grown struct {
	changed       bool
	start, length int64 // bytes
}

// growTable grows partition number pno (1-based) of the GPT on d to the
// last usable sector, moving the backup GPT to the end of d. It fails if
// pno is not the last partition, and does nothing when it already ends
// at the last usable sector.
func growTable(d disk, pno int) (grown, error) {
	size, err := d.Seek(0, io.SeekEnd)
	if err != nil {
		return grown{}, fmt.Errorf("sizing disk: %w", err)
	}
	t, err := gpt.Read(d, size)
	if err != nil {
		return grown{}, err
	}
	if pno < 1 || pno > len(t.Partitions) {
		return grown{}, fmt.Errorf("partition %d not in the table (%d partitions)", pno, len(t.Partitions))
	}
	ss := t.SectorSize
	if ss == 0 {
		ss = gpt.DefaultSectorSize
	}
	p := t.Partitions[pno-1]
	for i, q := range t.Partitions {
		if i != pno-1 && q.Last > p.Last {
			return grown{}, fmt.Errorf("partition %d (%q) is not the last one: partition %d (%q) ends after it", pno, p.Name, i+1, q.Name)
		}
	}
	g := grown{start: p.First.Bytes(ss)}
	if p.Last == gpt.LastUsable(size, ss) {
		g.length = p.Size(ss)
		return g, nil
	}
	if err := t.ResizeLast(size); err != nil {
		return grown{}, err
	}
	if err := t.Write(d, size); err != nil {
		return grown{}, err
	}
	g.changed, g.length = true, t.Partitions[pno-1].Size(ss)
	return g, nil
}

// partitionOf maps a block device to its disk and partition number. A
// whole disk maps to its last partition (pno 0 is resolved by the
// caller from the table).
func partitionOf(dev string) (diskDev string, pno int, err error) {
	real, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return "", 0, fmt.Errorf("resolving %s: %w", dev, err)
	}
	name := filepath.Base(real)
	sys, err := filepath.EvalSymlinks("/sys/class/block/" + name)
	if err != nil {
		return "", 0, fmt.Errorf("finding %s in sysfs: %w", name, err)
	}
	b, err := os.ReadFile(filepath.Join(sys, "partition"))
	if os.IsNotExist(err) {
		return real, 0, nil // a whole disk
	}
	if err != nil {
		return "", 0, err
	}
	pno, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "", 0, fmt.Errorf("partition number of %s: %w", name, err)
	}
	return "/dev/" + filepath.Base(filepath.Dir(sys)), pno, nil
}

// partDevName finds /dev/<child> of diskDev with partition number pno.
func partDevName(diskDev string, pno int) (string, error) {
	name := filepath.Base(diskDev)
	kids, _ := filepath.Glob("/sys/class/block/" + name + "/" + name + "*/partition")
	for _, k := range kids {
		if b, err := os.ReadFile(k); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pno) {
			return "/dev/" + filepath.Base(filepath.Dir(k)), nil
		}
	}
	return "", fmt.Errorf("no device node for partition %d of %s", pno, diskDev)
}

// lastPartition is the number of the partition that ends last.
func lastPartition(d disk) (int, error) {
	size, err := d.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	t, err := gpt.Read(d, size)
	if err != nil {
		return 0, err
	}
	last := 0
	for i, p := range t.Partitions {
		if last == 0 || p.Last > t.Partitions[last-1].Last {
			last = i + 1
		}
	}
	return last, nil
}

// blkpgResize tells the kernel the partition's new size; unlike
// re-reading the table, this works while partitions of the disk are
// mounted.
func blkpgResize(f *os.File, pno int, start, length int64) error {
	part := unix.BlkpgPartition{Start: start, Length: length, Pno: int32(pno)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(part)), Data: (*byte)(unsafe.Pointer(&part))}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg))); errno != 0 {
		return fmt.Errorf("BLKPG resize of partition %d: %w", pno, errno)
	}
	return nil
}

// extSize returns an ext2/3/4 filesystem's size in bytes, or 0.
func extSize(dev string) int64 {
	f, err := os.Open(dev)
	if err != nil {
		return 0
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil || binary.LittleEndian.Uint16(sb[56:]) != 0xEF53 {
		return 0
	}
	blocks := uint64(binary.LittleEndian.Uint32(sb[4:]))
	if binary.LittleEndian.Uint32(sb[0x60:])&0x80 != 0 { // 64bit feature
		blocks |= uint64(binary.LittleEndian.Uint32(sb[0x150:])) << 32
	}
	return int64(blocks) << (10 + binary.LittleEndian.Uint32(sb[24:]))
}

// expandPartition grows the last partition of dev's disk (dev being that
// partition or the disk) and its ext filesystem to the end of the disk.
func expandPartition(ctx context.Context, e *env, dev string) error {
	diskDev, pno, err := partitionOf(dev)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(diskDev, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", diskDev, err)
	}
	defer f.Close()
	if pno == 0 {
		if pno, err = lastPartition(f); err != nil {
			return fmt.Errorf("reading GPT of %s: %w", diskDev, err)
		}
	}
	g, err := growTable(f, pno)
	if err != nil {
		return fmt.Errorf("growing partition %d of %s: %w", pno, diskDev, err)
	}
	if g.changed {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", diskDev, err)
		}
		if err := blkpgResize(f, pno, g.start, g.length); err != nil {
			return err
		}
		e.logf("Grew partition %d of %s to %d bytes", pno, diskDev, g.length)
	}
	partDev, err := partDevName(diskDev, pno)
	if err != nil {
		return err
	}
	return growFS(ctx, e, partDev, g.length)
}

// growFS resizes an ext filesystem that is smaller than its partition:
// e2fsck + resize2fs when unmounted, online resize2fs when mounted.
func growFS(ctx context.Context, e *env, partDev string, partLen int64) error {
	fsLen := extSize(partDev)
	if fsLen == 0 || fsLen+(1<<20) > partLen {
		return nil // not ext, or already full size
	}
	ms, _ := mountsOf(partDev)
	if len(ms) == 0 {
		out, err := exec.CommandContext(ctx, "e2fsck", "-fy", partDev).CombinedOutput()
		var exit *exec.ExitError
		if err != nil && (!asExit(err, &exit) || exit.ExitCode() >= 4) {
			return fmt.Errorf("e2fsck -fy %s: %w: %s", partDev, err, out)
		}
	}
	if err := sh(ctx, "resize2fs", partDev); err != nil {
		return err
	}
	e.logf("Resized filesystem on %s from %d to %d bytes", partDev, fsLen, extSize(partDev))
	return nil
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
