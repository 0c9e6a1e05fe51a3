package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Registry is a running registry.
type Registry struct {
	l       net.Listener
	srv     *http.Server
	closed  chan struct{}
	once    sync.Once
	closeEr error
}

type config struct {
	logger *log.Logger
	dir    string
}

// Option configures Start.
type Option func(*config)

// WithLogger sends request logs to l (default: discarded).
func WithLogger(l *log.Logger) Option { return func(c *config) { c.logger = l } }

// WithBlobDir keeps blobs in dir instead of memory, for large images.
func WithBlobDir(dir string) Option { return func(c *config) { c.dir = dir } }

// Start listens on addr, which must be a loopback address such as
// "127.0.0.1:0" (any free port) or "127.0.0.1:5000", and serves until
// Close or until ctx ends.
func Start(ctx context.Context, addr string, opts ...Option) (*Registry, error) {
	cfg := config{logger: log.New(io.Discard, "", 0)}
	for _, o := range opts {
		o(&cfg)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("registry address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("registry address %q: host must be a loopback IP such as 127.0.0.1 (guests reach it as 10.0.2.2)", addr)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for registry on %s: %w", addr, err)
	}
	ropts := []ggcrregistry.Option{ggcrregistry.Logger(cfg.logger)}
	if cfg.dir != "" {
		ropts = append(ropts, ggcrregistry.WithBlobHandler(ggcrregistry.NewDiskBlobHandler(cfg.dir)))
	}
	r := &Registry{
		l:      l,
		srv:    &http.Server{Handler: ggcrregistry.New(ropts...), ReadHeaderTimeout: 30 * time.Second},
		closed: make(chan struct{}),
	}
	go func() { _ = r.srv.Serve(l) }()
	go func() {
		select {
		case <-ctx.Done():
			r.Close()
		case <-r.closed:
		}
	}()
	return r, nil
}

// Host is the address to use in image references, e.g. "127.0.0.1:41234".
func (r *Registry) Host() string { return r.l.Addr().String() }

// GuestHost is the address a QEMU guest on user-mode networking uses,
// e.g. "10.0.2.2:41234".
func (r *Registry) GuestHost() string {
	return net.JoinHostPort("10.0.2.2", fmt.Sprint(r.l.Addr().(*net.TCPAddr).Port))
}

// Close stops the server. It is safe to call more than once.
func (r *Registry) Close() error {
	r.once.Do(func() {
		defer close(r.closed)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			r.closeEr = fmt.Errorf("stopping registry on %s: %w", r.Host(), err)
		}
	})
	return r.closeEr
}
