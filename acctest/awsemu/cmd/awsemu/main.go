// Command awsemu serves the AWS emulator (EC2 images and snapshots, EBS
// direct APIs, S3) on a loopback address, so Packer, Terraform and a person
// at a shell can point real binaries at it. It prints the environment to
// export and runs until interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "awsemu:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:4566", "listen address (loopback)")
	delay := flag.Duration("delay", 500*time.Millisecond, "pending → available/completed delay")
	buckets := flag.String("buckets", "elemental-import", "comma-separated S3 buckets to create")
	rate := flag.Float64("fault-rate", 0, "share of requests (0-1) that fail")
	ops := flag.String("fault-ops", "*", "comma-separated operations the faults apply to (e.g. PutSnapshotBlock,RegisterImage); * is every one")
	kinds := flag.String("fault-kinds", "", "comma-separated fault kinds: 500,503,throttle,reset,slow,fatal,lost (default 500,503,throttle,reset)")
	seed := flag.Uint64("seed", 1, "seed of the fault decisions")
	flag.Parse()

	faults, err := parseFaults(*rate, *ops, *kinds, *seed)
	if err != nil {
		return err
	}
	emu := awsemu.New(awsemu.Options{Delay: *delay, Faults: faults})
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			emu.CreateBucket(b)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Println("# AWS emulator listening; export these:")
	for _, kv := range awsemu.Env(url) {
		fmt.Println("export " + kv)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	// Let requests in flight finish, then close what is left. Shutdown
	// waits for connections a client opened but never used for up to 5 s
	// (net/http counts them idle only after that), which is no reason to
	// fail: the emulator keeps nothing that needs flushing.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutting down: %w", err)
	}
	_ = srv.Close()
	return nil
}

// parseFaults turns the fault flags into awsemu.Faults.
func parseFaults(rate float64, ops, kinds string, seed uint64) (awsemu.Faults, error) {
	f := awsemu.Faults{Seed: seed}
	if rate < 0 || rate > 1 {
		return f, fmt.Errorf("-fault-rate %v is not between 0 and 1", rate)
	}
	if rate == 0 {
		return f, nil
	}
	f.Rate = map[string]float64{}
	for _, op := range strings.Split(ops, ",") {
		if op = strings.TrimSpace(op); op != "" {
			f.Rate[op] = rate
		}
	}
	for _, name := range strings.Split(kinds, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		kind := awsemu.FaultUnknown
		for k := awsemu.Fault500; k <= awsemu.FaultLost; k++ {
			if k.String() == name {
				kind = k
			}
		}
		if kind == awsemu.FaultUnknown {
			return f, fmt.Errorf("-fault-kinds: unknown fault kind %q", name)
		}
		f.Kinds = append(f.Kinds, kind)
	}
	return f, nil
}
