package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/fat"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
	"github.com/elemental-suite/elemental/internal/statefile"
)

// disk holds the open writers of one build's second pass.
type disk struct {
	esp                  *fat.Writer
	oem, rec, state, per *ext4.Writer
}

// write runs the second pass into a sparse raw disk file created under a
// temporary name in the output directory.
func (b *build) write(ctx context.Context, src *oci.Source) (err error) {
	f, err := os.CreateTemp(b.spec.OutputDir, "."+b.spec.Name+".raw.partial-")
	if err != nil {
		return fmt.Errorf("creating the disk in %s: %w", b.spec.OutputDir, err)
	}
	b.rawPath = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(b.rawPath)
		}
	}()
	if err := f.Truncate(b.plan.DiskSize); err != nil {
		return fmt.Errorf("sizing %s: %w", b.rawPath, err)
	}
	if err := b.writeDisk(ctx, src, f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", b.rawPath, err)
	}
	return f.Close()
}

// writeDisk writes every partition and the partition table to w, a
// device of the plan's disk size: a file, or a block stream. Every byte
// is written at most once, file data as the layers stream through and
// each file system's tables at its close.
func (b *build) writeDisk(ctx context.Context, src *oci.Source, w io.WriterAt) error {
	d, err := b.openPartitions(w)
	if err != nil {
		return err
	}
	if err := b.writeSystem(ctx, src, d); err != nil {
		return err
	}
	if err := b.finishPartitions(d); err != nil {
		return err
	}
	return b.writeGPT(w)
}

func (b *build) part(name string) layout.Partition {
	p, _ := b.plan.Partition(name)
	return p
}

func (b *build) openPartitions(f io.WriterAt) (*disk, error) {
	d := &disk{}
	region := func(name string) (io.WriterAt, int64) {
		p := b.part(name)
		return io.NewOffsetWriter(f, p.Offset), p.Size / 4096 * 4096
	}
	var err error
	w, size := region(layout.EFI)
	if d.esp, err = fat.New(w, size, fat.Options{Label: layout.Labels[layout.EFI], VolumeID: b.seed.u32("esp"), Time: b.time}); err != nil {
		return nil, fmt.Errorf("formatting partition efi: %w", err)
	}
	for _, p := range []struct {
		name string
		dst  **ext4.Writer
	}{{layout.OEM, &d.oem}, {layout.Recovery, &d.rec}, {layout.State, &d.state}, {layout.Persistent, &d.per}} {
		w, size := region(p.name)
		if *p.dst, err = ext4.New(w, size, b.partOptions(layout.Labels[p.name])); err != nil {
			return nil, fmt.Errorf("formatting partition %s: %w", p.name, err)
		}
	}
	return d, nil
}

// finisher completes one image written from the stream.
type finisher func() error

// writeSystem streams the image once into every system image.
func (b *build) writeSystem(ctx context.Context, src *oci.Source, d *disk) (err error) {
	r := b.insp.Report
	var sinks []rootfs.Sink
	var finish []finisher
	// aborts stop the writers that run goroutines (squashfs) when the
	// walk fails before the finishers have run.
	var aborts []func()
	finishing := false
	defer func() {
		if err != nil && !finishing {
			for _, a := range aborts {
				a()
			}
		}
	}()
	addImage := func(part *ext4.Writer, partName, p string, max int64, mk func(io.WriterAt) (rootfs.Sink, func() (int64, error), error)) error {
		res, err := part.Reserve(b.fileEntry(p, max, 0o644), max)
		if err != nil {
			return fmt.Errorf("reserving /%s on %s: %w", p, partName, err)
		}
		sink, closeImg, err := mk(res)
		if err != nil {
			return fmt.Errorf("creating /%s on %s: %w", p, partName, err)
		}
		sinks = append(sinks, sink)
		finish = append(finish, func() error {
			size, err := closeImg()
			if err != nil {
				return fmt.Errorf("writing /%s on %s: %w", p, partName, err)
			}
			return res.Finish(size)
		})
		return nil
	}
	extImage := func(label string, size int64) func(io.WriterAt) (rootfs.Sink, func() (int64, error), error) {
		return func(w io.WriterAt) (rootfs.Sink, func() (int64, error), error) {
			x, err := ext4.New(w, size, b.systemOptions(label))
			if err != nil {
				return nil, nil, err
			}
			return x, func() (int64, error) { return size, x.Close() }, nil
		}
	}
	var recPath string
	if r.Generation == inspect.V2 {
		for _, dir := range []string{".snapshots", ".snapshots/1", "boot"} {
			w := d.state
			if dir == "boot" {
				w = d.rec
			}
			if _, err := w.Add(b.dirEntry(dir)); err != nil {
				return err
			}
		}
		if err := addImage(d.state, layout.State, ".snapshots/1/snapshot.img", b.sysImg, extImage("EL_SNAP1", b.sysImg)); err != nil {
			return err
		}
		if _, err := d.state.Add(b.linkEntry(".snapshots/active", "1/snapshot.img")); err != nil {
			return err
		}
		recPath = "boot/recovery.img"
	} else {
		for _, w := range []*ext4.Writer{d.state, d.rec} {
			if _, err := w.Add(b.dirEntry("cOS")); err != nil {
				return err
			}
		}
		if err := addImage(d.state, layout.State, "cOS/active.img", b.sysImg, extImage("COS_ACTIVE", b.sysImg)); err != nil {
			return err
		}
		if err := addImage(d.state, layout.State, "cOS/passive.img", b.sysImg, extImage("COS_PASSIVE", b.sysImg)); err != nil {
			return err
		}
		recPath = "cOS/recovery.img"
	}
	mkRec := extImage("COS_SYSTEM", b.recImg)
	if b.spec.RecoveryFS == "squashfs" {
		mkRec = func(w io.WriterAt) (rootfs.Sink, func() (int64, error), error) {
			sq, err := squashfs.New(w, b.squashOptions())
			if err != nil {
				return nil, nil, err
			}
			aborts = append(aborts, func() { sq.Close() })
			return sq, sq.Close, nil
		}
	}
	if err := addImage(d.rec, layout.Recovery, recPath, b.recImg, mkRec); err != nil {
		return err
	}

	tree := newSystemTree(rootfs.Tee(sinks...), r.Generation, b.time)
	t := &tap{picks: map[string]func(*rootfs.Entry) (io.WriteCloser, error){}}
	if r.Generation == inspect.V2 {
		// The v2 recovery partition boots its kernel and initrd from
		// /boot beside recovery.img (contract §2.1).
		for _, p := range []string{r.Kernel, r.Initrd} {
			name := "boot/" + path.Base(p)
			t.picks[p] = func(e *rootfs.Entry) (io.WriteCloser, error) {
				return d.rec.Add(&rootfs.Entry{Path: name, Type: rootfs.TypeReg, Mode: e.Mode & 0o7777, Size: e.Size, ModTime: e.ModTime})
			}
		}
	}
	start := time.Now()
	b.o.progress(Event{Phase: PhaseWrite, Message: "writing system images"})
	if err := src.Walk(ctx, rootfs.Tee(&progressSink{o: b.o, start: start}, tree, t)); err != nil {
		return fmt.Errorf("writing %s: %w", b.spec.Source, err)
	}
	if err := tree.finish(); err != nil {
		return fmt.Errorf("adding mountpoints: %w", err)
	}
	var errs []error
	finishing = true
	for _, f := range finish {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// progressSink reports the number of entries written every few thousand.
type progressSink struct {
	o     *options
	start time.Time
	n     int64
}

func (p *progressSink) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	p.n++
	if p.n%5000 == 0 {
		p.o.progress(Event{Phase: PhaseWrite, Files: p.n, Elapsed: time.Since(p.start)})
	}
	if e.Type == rootfs.TypeReg {
		return rootfs.Discard(), nil
	}
	return nil, nil
}

func (b *build) dirEntry(p string) *rootfs.Entry {
	return &rootfs.Entry{Path: p, Type: rootfs.TypeDir, Mode: 0o755, ModTime: b.time}
}

func (b *build) fileEntry(p string, size int64, mode uint32) *rootfs.Entry {
	return &rootfs.Entry{Path: p, Type: rootfs.TypeReg, Mode: mode, Size: size, ModTime: b.time}
}

func (b *build) linkEntry(p, target string) *rootfs.Entry {
	return &rootfs.Entry{Path: p, Type: rootfs.TypeSymlink, Mode: 0o777, Linkname: target, ModTime: b.time}
}

// addFiles writes small files (and the directories they need) to a sink.
func (b *build) addFiles(s rootfs.Sink, where string, files []file) error {
	for _, f := range files {
		var e *rootfs.Entry
		if f.link != "" {
			e = b.linkEntry(f.path, f.link)
		} else {
			e = b.fileEntry(f.path, int64(len(f.data)), f.mode)
		}
		w, err := s.Add(e)
		if err != nil {
			return fmt.Errorf("writing /%s on %s: %w", f.path, where, err)
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(f.data); err != nil {
			w.Close()
			return fmt.Errorf("writing /%s on %s: %w", f.path, where, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("writing /%s on %s: %w", f.path, where, err)
		}
	}
	return nil
}

// sourceURI is how state.yaml names the image (contract §2.3).
func sourceURI(ref string) string {
	if strings.Contains(ref, ":/") && (strings.HasPrefix(ref, "oci-layout:") || strings.HasPrefix(ref, "docker-archive:")) {
		return ref
	}
	return "oci://" + ref
}

func (b *build) stateYAML() ([]byte, error) {
	r := b.insp.Report
	recFS := b.spec.RecoveryFS
	recLabel := ""
	if recFS == "ext2" {
		recLabel = "COS_SYSTEM"
	}
	d := statefile.Disk{
		Date:     b.time,
		System:   statefile.Image{Source: sourceURI(b.spec.Source), Digest: b.insp.Digest, FS: "ext2"},
		Recovery: statefile.Image{Source: sourceURI(b.spec.Source), Digest: b.insp.Digest, FS: recFS, Label: recLabel},
	}
	if r.Generation == inspect.V1 {
		return statefile.V1(d)
	}
	return statefile.V2(d)
}
