// Command gcpemu runs the GCS + compute images emulator on loopback so
// that real binaries (Packer, Terraform, gcloud-free scripts) can be
// pointed at it. It prints the environment to export and serves until
// interrupted.
//
//	go run ./acctest/gcpemu/cmd/gcpemu -addr 127.0.0.1:4443 -bucket images
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gcpemu:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:4443", "loopback address to listen on")
	buckets := flag.String("bucket", "elemental-images", "comma-separated buckets to create")
	opDelay := flag.Duration("op-delay", 500*time.Millisecond, "how long operations take")
	rate := flag.Float64("fault-rate", 0, "share of requests (0-1) that fail, for every operation")
	kinds := flag.String("fault-kinds", "", "comma-separated fault kinds: 500,503,429,reset,slow,lost,403 (default transient ones)")
	seed := flag.Uint64("seed", 1, "seed of the fault decisions")
	flag.Parse()

	opts := gcpemu.Options{Addr: *addr, OpDelay: *opDelay, Seed: *seed}
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			opts.Buckets = append(opts.Buckets, b)
		}
	}
	if *rate > 0 {
		f := gcpemu.Fault{Rate: *rate}
		for _, k := range strings.Split(*kinds, ",") {
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			kind, ok := gcpemu.ParseFaultKind(k)
			if !ok {
				return fmt.Errorf("unknown fault kind %q", k)
			}
			f.Kinds = append(f.Kinds, kind)
		}
		opts.Faults = map[string]gcpemu.Fault{gcpemu.OpAny: f}
	}
	emu, err := gcpemu.Start(opts)
	if err != nil {
		return err
	}
	defer emu.Close()
	for _, kv := range emu.Env() {
		fmt.Printf("export %s\n", kv)
	}
	fmt.Printf("# buckets: %s; stop with Ctrl-C\n", strings.Join(opts.Buckets, ", "))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
