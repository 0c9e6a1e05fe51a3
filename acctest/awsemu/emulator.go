package awsemu

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// AccountID is the account that owns every resource of the emulator.
const AccountID = "123456789012"

// DefaultRegions are the regions DescribeRegions lists when
// Options.Regions is empty.
var DefaultRegions = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"}

// Options configure an Emulator.
type Options struct {
	// Delay is how long snapshots, images and import tasks stay pending
	// before they become completed/available. 0 means 100ms.
	Delay time.Duration
	// Regions answered by DescribeRegions; requests for other regions
	// are still served. Empty means DefaultRegions.
	Regions []string
	// Faults to inject; see Faults.
	Faults Faults
	// BlockConcurrency, when > 0, is how many PutSnapshotBlock (and,
	// separately, GetSnapshotBlock) requests the emulator serves at once;
	// one more is refused with ConcurrentLimitExceededException, as the
	// EBS direct APIs refuse requests past an account's concurrency limit.
	BlockConcurrency int
}

// Emulator holds the shared state of the EC2, EBS and S3 emulation and
// serves all three over HTTP.
type Emulator struct {
	delay      time.Duration
	regions    []string
	blockLimit int

	mu      sync.Mutex
	seq     int
	snaps   map[string]*snapshot // by id
	images  map[string]*image    // by id
	tasks   map[string]*importTask
	tags    map[string]map[string]string  // resource id → key → value
	buckets map[string]map[string]*object // bucket → key → data
	uploads map[string]*multipart
	faults  *faultInjector
	counts  map[string]int // operation → requests seen
	active  map[string]int // operation → requests being served now
	peak    map[string]int // operation → most requests served at once
}

// New returns an empty emulator.
func New(opts Options) *Emulator {
	if opts.Delay <= 0 {
		opts.Delay = 100 * time.Millisecond
	}
	if len(opts.Regions) == 0 {
		opts.Regions = DefaultRegions
	}
	return &Emulator{
		delay:      opts.Delay,
		regions:    append([]string(nil), opts.Regions...),
		blockLimit: opts.BlockConcurrency,
		snaps:      map[string]*snapshot{},
		images:     map[string]*image{},
		tasks:      map[string]*importTask{},
		tags:       map[string]map[string]string{},
		buckets:    map[string]map[string]*object{},
		uploads:    map[string]*multipart{},
		faults:     newFaultInjector(opts.Faults),
		counts:     map[string]int{},
		active:     map[string]int{},
		peak:       map[string]int{},
	}
}

// SetFaults replaces the fault configuration (and restarts its
// deterministic sequence).
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = newFaultInjector(f)
}

// NewServer starts an httptest server for e; the caller closes it.
func NewServer(e *Emulator) *httptest.Server {
	return httptest.NewServer(e)
}

// Env returns the environment variables that point the AWS SDKs and CLI
// at an emulator served at url, in a stable order.
func Env(url string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + url,
		"AWS_ENDPOINT_URL_EC2=" + url,
		"AWS_ENDPOINT_URL_EBS=" + url,
		"AWS_ENDPOINT_URL_S3=" + url,
		"AWS_ACCESS_KEY_ID=AKIAEMULATOR",
		"AWS_SECRET_ACCESS_KEY=emulator",
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

var credScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

// scope returns the region and service of a SigV4-signed request, falling
// back to the request's shape when it is not signed.
func scope(r *http.Request) (region, service string) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		auth = "Credential=" + r.URL.Query().Get("X-Amz-Credential")
	}
	if m := credScope.FindStringSubmatch(auth); m != nil {
		return m[1], m[2]
	}
	region = "us-east-1"
	switch {
	case strings.HasPrefix(r.URL.Path, "/snapshots"):
		return region, "ebs"
	case r.Method == http.MethodPost && r.URL.Path == "/" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		return region, "ec2"
	}
	return region, "s3"
}

// ServeHTTP routes a request to the EC2, EBS or S3 emulation.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region, service := scope(r)
	switch service {
	case "ec2":
		e.serveEC2(w, r, region)
	case "ebs":
		e.serveEBS(w, r, region)
	case "s3":
		e.serveS3(w, r, region)
	default:
		http.Error(w, fmt.Sprintf("service %q is not emulated", service), http.StatusNotImplemented)
	}
}

// Resources counts what the emulator holds, for leak checks.
type Resources struct {
	Snapshots   []string // every snapshot, pending or completed
	Images      []string // every registered image
	Objects     []string // bucket/key of every S3 object
	Uploads     []string // unfinished multipart uploads
	ImportTasks []string // import tasks still active
}

// Empty reports whether nothing is left.
func (r Resources) Empty() bool {
	return len(r.Snapshots)+len(r.Images)+len(r.Objects)+len(r.Uploads)+len(r.ImportTasks) == 0
}

// Resources lists what the emulator holds, sorted.
func (e *Emulator) Resources() Resources {
	e.mu.Lock()
	defer e.mu.Unlock()
	var res Resources
	for id := range e.snaps {
		res.Snapshots = append(res.Snapshots, id)
	}
	for id := range e.images {
		res.Images = append(res.Images, id)
	}
	for b, objs := range e.buckets {
		for k := range objs {
			res.Objects = append(res.Objects, b+"/"+k)
		}
	}
	for id := range e.uploads {
		res.Uploads = append(res.Uploads, id)
	}
	now := time.Now()
	for id, t := range e.tasks {
		if t.status(now) == "active" {
			res.ImportTasks = append(res.ImportTasks, id)
		}
	}
	for _, s := range [][]string{res.Snapshots, res.Images, res.Objects, res.Uploads, res.ImportTasks} {
		sort.Strings(s)
	}
	return res
}

// Calls returns how many requests each operation received (faulted ones
// included).
func (e *Emulator) Calls() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.counts))
	for k, v := range e.counts {
		out[k] = v
	}
	return out
}

// SnapshotBlocks returns a copy of the blocks a snapshot holds, by block
// index; all-zero blocks that were written are present with nil data.
func (e *Emulator) SnapshotBlocks(id string) (map[int32][]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.snaps[id]
	if !ok {
		return nil, false
	}
	out := make(map[int32][]byte, len(s.blocks))
	for i, b := range s.blocks {
		out[i] = append([]byte(nil), b...)
	}
	return out, true
}

// CreateBucket makes an S3 bucket (also reachable through the S3 API).
func (e *Emulator) CreateBucket(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.buckets[name] == nil {
		e.buckets[name] = map[string]*object{}
	}
}

// nextID returns a fresh id with the prefix, e.g. "snap-0000000000000001a".
// Callers hold e.mu.
func (e *Emulator) nextID(prefix string) string {
	e.seq++
	return fmt.Sprintf("%s-%017x", prefix, e.seq)
}

// count records a request for op, counts it as in flight until the
// returned leave is called, and decides its fault. Callers must not hold
// e.mu.
func (e *Emulator) count(op string, key string) (f fault, leave func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[op]++
	e.active[op]++
	e.peak[op] = max(e.peak[op], e.active[op])
	return e.faults.decide(op, key), func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.active[op]--
	}
}

// overLimit reports whether a block request of op, already counted in
// flight, is past Options.BlockConcurrency.
func (e *Emulator) overLimit(op string) bool {
	if e.blockLimit <= 0 || (op != "PutSnapshotBlock" && op != "GetSnapshotBlock") {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active[op] > e.blockLimit
}

// PeakInFlight returns the largest number of requests of op (e.g.
// "PutSnapshotBlock") the emulator was serving at the same time, from
// the moment they arrived until their reply was written (injected faults
// and slow replies included), so tests can check a client's concurrency
// bound.
func (e *Emulator) PeakInFlight(op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peak[op]
}
