package gcpemu

import (
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// FaultKind is one way a request can fail.
type FaultKind int

// Fault kinds. FaultForbidden is not retryable: it makes a client fail.
const (
	FaultUnknown FaultKind = iota
	FaultInternal
	FaultUnavailable
	FaultThrottle
	FaultReset
	FaultSlow
	FaultForbidden
	// FaultLost lets the request take effect, then resets the connection
	// instead of answering: the client cannot know that it succeeded.
	FaultLost
)

var faultNames = map[FaultKind]string{
	FaultUnknown: "unknown", FaultInternal: "500", FaultUnavailable: "503",
	FaultThrottle: "429", FaultReset: "reset", FaultSlow: "slow", FaultForbidden: "403", FaultLost: "lost",
}

// String returns the kind's short name ("500", "reset", ...).
func (k FaultKind) String() string {
	if s, ok := faultNames[k]; ok {
		return s
	}
	return "unknown"
}

// ParseFaultKind is the inverse of FaultKind.String.
func ParseFaultKind(s string) (FaultKind, bool) {
	for k, n := range faultNames {
		if n == s && k != FaultUnknown {
			return k, true
		}
	}
	return FaultUnknown, false
}

// TransientFaults are the kinds a well-behaved client retries through.
var TransientFaults = []FaultKind{FaultInternal, FaultUnavailable, FaultThrottle, FaultReset, FaultSlow, FaultLost}

// Fault injects failures into a share of one operation's requests.
type Fault struct {
	// Rate is the share of requests that fail, 0 to 1.
	Rate float64
	// Kinds are picked from uniformly; empty means TransientFaults.
	Kinds []FaultKind
	// Delay is how long a slow reply waits; 0 means 200ms.
	Delay time.Duration
}

// Operation names used as keys of Options.Faults; "*" matches every
// operation without its own entry.
const (
	OpAny              = "*"
	OpUploadStart      = "storage.upload.start"
	OpUploadChunk      = "storage.upload.chunk"
	OpObjectsGet       = "storage.objects.get"
	OpObjectsDelete    = "storage.objects.delete"
	OpObjectsList      = "storage.objects.list"
	OpStorageOther     = "storage.other"
	OpImagesInsert     = "compute.images.insert"
	OpImagesGet        = "compute.images.get"
	OpImagesList       = "compute.images.list"
	OpImagesDelete     = "compute.images.delete"
	OpImagesDeprecate  = "compute.images.deprecate"
	OpImagesFamily     = "compute.images.getFromFamily"
	OpOperationsGet    = "compute.globalOperations.get"
	OpOperationsWait   = "compute.globalOperations.wait"
	OpComputeOther     = "compute.other"
	defaultSlowDelay   = 200 * time.Millisecond
	resumableUploadArg = "upload_id"
)

// injector decides, deterministically for a seed and request order, which
// requests fail.
type injector struct {
	mu       sync.Mutex
	rng      *rand.Rand
	faults   map[string]Fault
	counts   map[string]int
	requests map[string]int
}

func newInjector(seed uint64, faults map[string]Fault) *injector {
	return &injector{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), faults: faults, counts: map[string]int{}, requests: map[string]int{}}
}

func (in *injector) set(faults map[string]Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = faults
}

// pick returns the fault to inject for op, if any.
func (in *injector) pick(op string) (FaultKind, time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.requests[op]++
	f, ok := in.faults[op]
	if !ok {
		f, ok = in.faults[OpAny]
	}
	if !ok || f.Rate <= 0 || in.rng.Float64() >= f.Rate {
		return FaultUnknown, 0
	}
	kinds := f.Kinds
	if len(kinds) == 0 {
		kinds = TransientFaults
	}
	k := kinds[in.rng.IntN(len(kinds))]
	in.counts[op+"/"+k.String()]++
	d := f.Delay
	if d == 0 {
		d = defaultSlowDelay
	}
	return k, d
}

func (in *injector) snapshot(m map[string]int) map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// middleware injects faults before next sees the request.
func (in *injector) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, delay := in.pick(operationOf(r))
		if kind != FaultUnknown && kind != FaultSlow && kind != FaultLost {
			// Read the body before failing: Go's HTTP client may still be
			// sending it after an early answer, while the storage client
			// already refills the same chunk buffer for the retry (a data
			// race inside the client libraries, seen with -race).
			_, _ = io.Copy(io.Discard, r.Body)
		}
		switch kind {
		case FaultUnknown:
		case FaultSlow:
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		case FaultReset:
			resetConn(w)
			return
		case FaultLost:
			next.ServeHTTP(&discardWriter{header: http.Header{}}, r)
			resetConn(w)
			return
		case FaultInternal:
			writeError(w, http.StatusInternalServerError, "backendError", "injected fault: internal error")
			return
		case FaultUnavailable:
			writeError(w, http.StatusServiceUnavailable, "backendError", "injected fault: service unavailable")
			return
		case FaultThrottle:
			writeError(w, http.StatusTooManyRequests, "rateLimitExceeded", "injected fault: rate limit exceeded")
			return
		case FaultForbidden:
			writeError(w, http.StatusForbidden, "forbidden", "injected fault: permission denied")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resetConn closes the connection with a TCP reset, without a response.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "backendError", "injected fault: reset unavailable")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// discardWriter is a ResponseWriter whose answer goes nowhere.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
