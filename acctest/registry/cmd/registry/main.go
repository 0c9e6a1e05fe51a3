// Command registry serves a local OCI registry for manual testing of the
// Elemental image suite: push a derivative to it and let a QEMU guest
// (acctest/qemu, user-mode networking) pull it from 10.0.2.2:<port>.
//
//	go run ./acctest/registry/cmd/registry -addr 127.0.0.1:5000 [-dir /tmp/blobs] [-v]
//
// It is a test tool: plain HTTP, no auth, loopback only.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/elemental-suite/elemental/acctest/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "loopback host:port to listen on")
	dir := flag.String("dir", "", "keep blobs in this directory instead of memory")
	verbose := flag.Bool("v", false, "log every request to stderr")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var opts []registry.Option
	if *verbose {
		opts = append(opts, registry.WithLogger(log.New(os.Stderr, "registry: ", log.LstdFlags)))
	}
	if *dir != "" {
		opts = append(opts, registry.WithBlobDir(*dir))
	}
	r, err := registry.Start(ctx, *addr, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("registry listening on %s (guests: %s); push with e.g. crane push img.tar %s/derivative:test\n",
		r.Host(), r.GuestHost(), r.Host())
	<-ctx.Done()
	if err := r.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
