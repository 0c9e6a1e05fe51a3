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
	flag.Parse()

	emu := awsemu.New(awsemu.Options{Delay: *delay})
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
