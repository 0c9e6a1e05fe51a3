// Command demo is the suite's main job on its embedded default: it builds
// (or reuses) the default test derivative from Debian packages, writes a disk
// from it through the installer core, boots the disk under QEMU/OVMF and
// prints what booted.
//
//	go run ./acctest/cmd/demo [-generation 2] [-version A] [-out out/demo] [-format raw]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/elemental-suite/elemental/acctest/derivative"
	"github.com/elemental-suite/elemental/acctest/qemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

func main() {
	gen := flag.Int("generation", 2, "toolkit generation of the test derivative (1 or 2)")
	version := flag.String("version", "A", "test derivative version (A or B)")
	out := flag.String("out", "out/demo", "output directory for the disk")
	format := flag.String("format", "qcow2", "disk format to write and boot (raw, qcow2, vhd, vmdk)")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, *gen, *version, *out, *format); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, a ...any) { fmt.Printf("==> "+format+"\n", a...) }

func run(ctx context.Context, gen int, version, out, format string) error {
	f, err := diskformat.ParseFormat(format)
	if err != nil {
		return err
	}
	start := time.Now()
	say("building test derivative v%d-%s from Debian packages (cached after the first run)", gen, version)
	built, err := derivative.Build(ctx, derivative.Variant{Generation: gen, Version: version}, derivative.Options{Log: os.Stdout})
	if err != nil {
		return fmt.Errorf("building the test derivative: %w", err)
	}
	say("derivative %s (%s) ready in %s", built.Tag, built.Digest, time.Since(start).Round(time.Second))

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	diskStart := time.Now()
	res, err := installer.Run(ctx, installer.Spec{
		Source:    "oci-layout:" + built.LayoutDir + ":" + built.Tag,
		OutputDir: out, Name: fmt.Sprintf("demo-v%d-%s", gen, version),
		Formats: []diskformat.Format{f}, Overwrite: true,
	}, installer.WithProgress(func(e installer.Event) {
		msg := e.Message
		if e.Files > 0 && msg == "" {
			msg = fmt.Sprintf("%d entries", e.Files)
		}
		if msg != "" {
			say("%-9s %s", e.Phase, msg)
		}
	}))
	if err != nil {
		return fmt.Errorf("writing the disk: %w", err)
	}
	disk := res.Outputs[0].Path
	say("disk %s written in %s (toolkit %s, kernel %s)", disk, time.Since(diskStart).Round(time.Millisecond), res.Generation, res.KernelVersion)
	for _, p := range res.Partitions {
		say("  %-10s %-14s %6d MiB at %d MiB", p.Name, p.Label, p.Size>>20, p.Offset>>20)
	}
	for _, w := range res.Warnings {
		say("warning: %s", w)
	}

	log, _ := filepath.Abs(filepath.Join(out, "serial.log"))
	say("booting %s under QEMU/OVMF (serial log %s)", filepath.Base(disk), log)
	bootStart := time.Now()
	key, err := os.ReadFile(built.SSHKey)
	if err != nil {
		return fmt.Errorf("reading the test SSH key: %w", err)
	}
	vm, err := qemu.Start(ctx, qemu.Options{Disk: disk, Log: log, SSHKey: key, HostKey: []byte(built.HostKey)})
	if err != nil {
		return fmt.Errorf("starting QEMU: %w", err)
	}
	defer vm.Close()
	say("accelerator: %s", vm.Accel())
	line, err := vm.WaitFor(ctx, regexp.MustCompile(`ELEMENTAL-TEST-BOOTED`), 10*time.Minute)
	if err != nil {
		return fmt.Errorf("waiting for the booted marker: %w", err)
	}
	booted := time.Since(bootStart).Round(100 * time.Millisecond)
	osr, err := vm.Run(ctx, ". /etc/os-release; echo \"$NAME|$VERSION\"; cat /proc/cmdline")
	if err != nil {
		return fmt.Errorf("asking the guest what booted: %w", err)
	}
	lines := strings.SplitN(strings.TrimSpace(osr), "\n", 2)
	name, ver, _ := strings.Cut(lines[0], "|")
	fmt.Println()
	fmt.Println("BOOTED")
	fmt.Printf("  os-release : %s %s\n", name, ver)
	fmt.Printf("  generation : %s\n", res.Generation)
	fmt.Printf("  digest     : %s\n", res.Digest)
	fmt.Printf("  marker     : %s\n", strings.TrimSpace(line))
	if len(lines) > 1 {
		fmt.Printf("  cmdline    : %s\n", strings.TrimSpace(lines[1]))
	}
	fmt.Printf("  boot time  : %s (firmware to marker, %s)\n", booted, vm.Accel())
	fmt.Printf("  total      : %s\n", time.Since(start).Round(time.Second))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	return nil
}
