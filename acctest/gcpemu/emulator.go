package gcpemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	compute "google.golang.org/api/compute/v1"
)

// EnvComputeEndpoint is the variable the standalone emulator prints for
// the compute endpoint. The Go compute client reads no variable of its
// own; this is the one terraform-provider-google reads, and so do the
// provider and the Packer builders here, so exporting what the emulator
// prints points them at it.
const EnvComputeEndpoint = "GOOGLE_COMPUTE_CUSTOM_ENDPOINT"

// Options configures an emulator. The zero value is valid.
type Options struct {
	// Addr is the loopback address to listen on; "" means 127.0.0.1:0.
	Addr string
	// Buckets are created at start.
	Buckets []string
	// OpDelay is how long an operation stays PENDING/RUNNING before it
	// runs; 0 means 20ms.
	OpDelay time.Duration
	// WaitTimeout bounds globalOperations.wait; 0 means 2 minutes, as GCE.
	WaitTimeout time.Duration
	// Faults maps operation names (Op* constants, or OpAny) to faults.
	Faults map[string]Fault
	// Seed makes fault decisions reproducible.
	Seed uint64
}

// Emulator is a running GCS + compute images emulator on loopback.
type Emulator struct {
	ln       net.Listener
	srv      *http.Server
	gcs      *fakestorage.Server
	compute  *computeState
	faults   *injector
	uploads  *uploadChecker
	url      string
	stopOnce sync.Once
}

// Start listens on opts.Addr and serves both APIs until Close.
func Start(opts Options) (*Emulator, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	base := "http://" + ln.Addr().String()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener: true, Scheme: "http", ExternalURL: base, PublicHost: ln.Addr().String(), Writer: io.Discard,
	})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("starting fake-gcs-server: %w", err)
	}
	e := &Emulator{ln: ln, gcs: gcs, url: base, faults: newInjector(opts.Seed, opts.Faults)}
	e.compute = &computeState{
		images: map[string]*imageRecord{}, ops: map[string]*opRecord{}, requests: map[string]string{},
		base: base + "/compute/v1/", opDelay: durationOr(opts.OpDelay, 20*time.Millisecond),
		waitTimeout: durationOr(opts.WaitTimeout, 2*time.Minute), gcs: gcs,
		stop: make(chan struct{}), now: time.Now,
	}
	e.uploads = newUploadChecker(gcs.HTTPHandler())
	for _, b := range opts.Buckets {
		gcs.CreateBucket(b)
	}
	mux := http.NewServeMux()
	mux.Handle("/compute/", e.compute)
	mux.Handle("/", e.uploads)
	e.srv = &http.Server{Handler: e.faults.middleware(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Close stops the server and pending operations.
func (e *Emulator) Close() error {
	var err error
	e.stopOnce.Do(func() {
		close(e.compute.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = e.srv.Shutdown(ctx)
		e.gcs.Stop()
	})
	return err
}

// URL is the server's base URL, http://127.0.0.1:port.
func (e *Emulator) URL() string { return e.url }

// Host is host:port, the value for STORAGE_EMULATOR_HOST.
func (e *Emulator) Host() string { return strings.TrimPrefix(e.url, "http://") }

// StorageEndpoint is the storage JSON API base for option.WithEndpoint.
func (e *Emulator) StorageEndpoint() string { return e.url + "/storage/v1/" }

// ComputeEndpoint is the compute API base for option.WithEndpoint.
func (e *Emulator) ComputeEndpoint() string { return e.url + "/compute/v1/" }

// Env lists the variables that point clients at the emulator.
func (e *Emulator) Env() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + e.Host(), EnvComputeEndpoint + "=" + e.ComputeEndpoint()}
}

// CreateBucket creates a bucket.
func (e *Emulator) CreateBucket(name string) { e.gcs.CreateBucket(name) }

// PutObject stores an object directly, bypassing the API and faults.
func (e *Emulator) PutObject(bucket, name string, data []byte) {
	e.gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: name}, Content: data})
}

// Object returns an object's contents, bypassing the API and faults.
func (e *Emulator) Object(bucket, name string) ([]byte, error) {
	obj, err := e.gcs.GetObject(bucket, name)
	if err != nil {
		return nil, fmt.Errorf("reading gs://%s/%s: %w", bucket, name, err)
	}
	return obj.Content, nil
}

// Objects lists the object names in a bucket, sorted.
func (e *Emulator) Objects(bucket string) ([]string, error) {
	attrs, _, err := e.gcs.ListObjects(bucket, "", "", false)
	if err != nil {
		return nil, fmt.Errorf("listing gs://%s: %w", bucket, err)
	}
	names := make([]string, 0, len(attrs))
	for _, a := range attrs {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	return names, nil
}

// SetFaults replaces the fault table (nil turns faults off).
func (e *Emulator) SetFaults(f map[string]Fault) { e.faults.set(f) }

// FaultCounts reports injected faults as "operation/kind" → count.
func (e *Emulator) FaultCounts() map[string]int { return e.faults.snapshot(e.faults.counts) }

// RequestCounts reports requests received per operation, faulted or not.
func (e *Emulator) RequestCounts() map[string]int { return e.faults.snapshot(e.faults.requests) }

// CRC32CChecked counts finished uploads whose CRC32C the emulator compared.
func (e *Emulator) CRC32CChecked() int {
	e.uploads.mu.Lock()
	defer e.uploads.mu.Unlock()
	return e.uploads.checked
}

// Images lists a project's images (any status), sorted by name.
func (e *Emulator) Images(project string) []compute.Image {
	e.compute.mu.Lock()
	defer e.compute.mu.Unlock()
	var out []compute.Image
	for key, rec := range e.compute.images {
		if strings.HasPrefix(key, project+"/") {
			out = append(out, rec.img)
		}
	}
	slices.SortFunc(out, func(a, b compute.Image) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ErrNoImage is returned by Image for an unknown image.
var ErrNoImage = errors.New("no such image")

// Image returns an image and what insert read from its archive.
func (e *Emulator) Image(project, name string) (compute.Image, ArchiveInfo, error) {
	e.compute.mu.Lock()
	defer e.compute.mu.Unlock()
	rec, ok := e.compute.images[project+"/"+name]
	if !ok {
		return compute.Image{}, ArchiveInfo{}, fmt.Errorf("image %s/%s: %w", project, name, ErrNoImage)
	}
	return rec.img, rec.archive, nil
}

// PendingOperations counts operations not yet DONE.
func (e *Emulator) PendingOperations() int {
	e.compute.mu.Lock()
	defer e.compute.mu.Unlock()
	n := 0
	for _, op := range e.compute.ops {
		if op.op.Status != "DONE" {
			n++
		}
	}
	return n
}
