package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/gpt"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/layout"
)

// finishPartitions writes the small files of every partition and closes
// the filesystems.
func (b *build) finishPartitions(d *disk) error {
	r := b.insp.Report
	arch, _ := archNames(b.spec.Platform)
	state, err := b.stateYAML()
	if err != nil {
		return err
	}

	// Recovery: state.yaml, and in v2 the boot set beside recovery.img.
	rec := []file{{path: "state.yaml", data: state, mode: 0o644}}
	if r.Generation == inspect.V2 {
		kernel, initrd := path.Base(r.Kernel), path.Base(r.Initrd)
		for _, l := range []struct{ name, target string }{{"vmlinuz", kernel}, {"linux", kernel}, {"initrd", initrd}} {
			if l.name != l.target {
				rec = append(rec, file{path: "boot/" + l.name, link: l.target})
			}
		}
		// Only the v2 bootargs are copied; the legacy /etc/cos one is not (§2.1).
		if r.Bootargs.Path == "etc/elemental/bootargs.cfg" {
			rec = append(rec, file{path: "boot/bootargs.cfg", data: r.Bootargs.Data, mode: 0o644})
		}
	}
	if err := b.addFiles(d.rec, layout.Recovery, rec); err != nil {
		return err
	}

	// State: state.yaml; v1 also carries GRUB's config, modules and env.
	st := []file{{path: "state.yaml", data: state, mode: 0o644}}
	if r.Generation == inspect.V1 {
		st = append(st, file{path: "grub2/grub.cfg", data: r.GrubCfg.Data, mode: 0o644},
			file{path: "grub_oem_env", data: b.oemEnv, mode: 0o644})
		for _, m := range r.Modules {
			st = append(st, file{path: "grub2/" + arch + "-efi/" + m.Name(), data: m.Data, mode: 0o644})
		}
	}
	if err := b.addFiles(d.state, layout.State, st); err != nil {
		return err
	}

	env, err := emptyEnv()
	if err != nil {
		return err
	}
	oem := []file{{path: "grubenv", data: env, mode: 0o644}}
	if !b.spec.NoGrow {
		oem = append(oem, file{path: growConfigName, data: growConfig(r.Generation), mode: 0o644})
	}
	for i, c := range b.spec.CloudConfigs {
		oem = append(oem, file{path: fmt.Sprintf("%d_custom.yaml", 90+i), data: c.Data, mode: 0o600})
	}
	if err := b.addFiles(d.oem, layout.OEM, oem); err != nil {
		return err
	}
	if err := b.addFiles(d.esp, layout.EFI, espFiles(r, b.spec.Platform, b.oemEnv)); err != nil {
		return err
	}

	var errs []error
	for _, c := range []struct {
		name  string
		close func() error
	}{{layout.EFI, d.esp.Close}, {layout.OEM, d.oem.Close}, {layout.Recovery, d.rec.Close}, {layout.State, d.state.Close}, {layout.Persistent, d.per.Close}} {
		if err := c.close(); err != nil {
			errs = append(errs, fmt.Errorf("finishing partition %s: %w", c.name, err))
			continue
		}
		p := b.part(c.name)
		b.o.progress(Event{Phase: PhasePartition, Message: fmt.Sprintf("%s (%s) %d MiB", c.name, p.Label, p.Size/layout.MiB)})
	}
	return errors.Join(errs...)
}

func (b *build) writeGPT(f io.WriterAt) error {
	t := &gpt.Table{DiskGUID: b.seed.uuid("disk"), SectorSize: 512}
	for _, p := range b.plan.Partitions {
		typ := gpt.TypeLinux
		if p.FS == layout.FSVFAT {
			typ = gpt.TypeESP
		}
		t.Partitions = append(t.Partitions, gpt.Partition{
			Name: p.Name, Type: typ, GUID: b.seed.uuid("part:" + p.Name),
			First: gpt.LBA(p.Offset / 512), Last: gpt.LBA(p.End()/512 - 1),
		})
	}
	if err := t.Validate(b.plan.DiskSize); err != nil {
		return fmt.Errorf("partition table: %w", err)
	}
	if err := t.Write(f, b.plan.DiskSize); err != nil {
		return fmt.Errorf("writing the partition table: %w", err)
	}
	return nil
}

// emit turns the temporary raw disk into the requested outputs. Every
// output is written under a temporary name and renamed; on failure the
// outputs of this run and the raw disk are removed.
func (b *build) emit(ctx context.Context) (outs []Output, err error) {
	var made []string
	defer func() {
		if err != nil {
			for _, p := range made {
				os.Remove(p)
			}
		}
		os.Remove(b.rawPath) // a no-op once renamed
	}()
	final := func(f diskformat.Format) string {
		return filepath.Join(b.spec.OutputDir, b.spec.Name+f.Ext())
	}
	for _, f := range b.spec.Formats {
		if _, err := os.Lstat(final(f)); err == nil && !b.spec.Overwrite {
			return nil, fmt.Errorf("output %s already exists (set overwrite to replace it)", final(f))
		}
	}
	wantRaw := false
	for _, f := range b.spec.Formats {
		if f == diskformat.Raw {
			wantRaw = true
			continue
		}
		start := time.Now()
		if err := diskformat.ConvertFile(ctx, b.rawPath, f, final(f), diskformat.Options{Time: b.time, Seed: string(b.seed)}); err != nil {
			return nil, fmt.Errorf("writing %s: %w", final(f), err)
		}
		made = append(made, final(f))
		b.o.progress(Event{Phase: PhaseConvert, Message: final(f), Elapsed: time.Since(start)})
	}
	// A cancel that arrived while the last partition or format was being
	// written must not end in a published disk.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if wantRaw {
		if err := os.Rename(b.rawPath, final(diskformat.Raw)); err != nil {
			return nil, fmt.Errorf("renaming the disk to %s: %w", final(diskformat.Raw), err)
		}
		made = append(made, final(diskformat.Raw))
	}
	for _, f := range b.spec.Formats {
		fi, err := os.Stat(final(f))
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", final(f), err)
		}
		outs = append(outs, Output{Format: f, Path: final(f), Size: fi.Size()})
	}
	return outs, nil
}
