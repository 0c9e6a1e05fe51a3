package awsemu

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"time"
)

// FaultKind is one way a request can fail.
type FaultKind int

// Fault kinds.
const (
	FaultUnknown  FaultKind = iota
	Fault500                // HTTP 500 with the service's internal error code
	Fault503                // HTTP 503, service unavailable
	FaultThrottle           // throttling: RequestLimitExceeded (EC2), RequestThrottledException (EBS), SlowDown (S3)
	FaultReset              // the connection is closed without a reply
	FaultSlow               // the reply is delayed by Faults.SlowDelay, then served
	FaultFatal              // HTTP 400 with a non-retryable error (e.g. UnauthorizedOperation)
	FaultLost               // the request is carried out, then the connection is closed without the reply
	faultKindsCount
)

var faultNames = [...]string{"unknown", "500", "503", "throttle", "reset", "slow", "fatal", "lost"}

func (k FaultKind) String() string {
	if k < 0 || k >= faultKindsCount {
		return "unknown"
	}
	return faultNames[k]
}

// Faults configure fault injection. Every request of an operation named
// in Rate (or of any operation, with the key "*") fails with probability
// Rate, with a kind picked from Kinds. The decision is a hash of Seed, the
// operation, the resource the request names and how many times that
// resource was asked for, so a run is reproducible whatever the order in
// which concurrent requests arrive. Faults are decided before the request
// is processed, so a failed request never changes the state, except
// FaultLost, which models a reply lost on the way back.
type Faults struct {
	Rate      map[string]float64 // operation name (e.g. "PutSnapshotBlock", "RegisterImage", "UploadPart") or "*" → share of requests that fail
	Kinds     []FaultKind        // kinds to pick from; empty means 500, 503, throttle and reset
	Seed      uint64
	SlowDelay time.Duration // for FaultSlow; 0 means 200ms
	// First makes the first First[op] requests of an operation fail
	// with Kinds[0], before Rate is consulted.
	First map[string]int
}

type fault struct {
	kind  FaultKind
	delay time.Duration
}

type faultInjector struct {
	cfg  Faults
	seen map[string]uint64
	ops  map[string]int // requests per operation, for First
}

func newFaultInjector(f Faults) *faultInjector {
	if len(f.Kinds) == 0 {
		f.Kinds = []FaultKind{Fault500, Fault503, FaultThrottle, FaultReset}
	}
	if f.SlowDelay <= 0 {
		f.SlowDelay = 200 * time.Millisecond
	}
	return &faultInjector{cfg: f, seen: map[string]uint64{}, ops: map[string]int{}}
}

// decide picks the fault for the n-th request of op on key. Callers hold
// the emulator lock.
func (fi *faultInjector) decide(op, key string) fault {
	if fi.ops[op]++; fi.ops[op] <= fi.cfg.First[op] {
		return fault{kind: fi.cfg.Kinds[0], delay: fi.cfg.SlowDelay}
	}
	rate, ok := fi.cfg.Rate[op]
	if !ok {
		rate = fi.cfg.Rate["*"]
	}
	if rate <= 0 {
		return fault{}
	}
	id := op + "\x00" + key
	n := fi.seen[id]
	fi.seen[id] = n + 1
	h := fnv.New64a()
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], fi.cfg.Seed)
	binary.LittleEndian.PutUint64(buf[8:], n)
	h.Write(buf[:])
	h.Write([]byte(id))
	v := mix(h.Sum64())
	if float64(v>>11)/float64(1<<53) >= rate {
		return fault{}
	}
	k := fi.cfg.Kinds[(v>>3)%uint64(len(fi.cfg.Kinds))]
	return fault{kind: k, delay: fi.cfg.SlowDelay}
}

// mix is the splitmix64 finaliser: FNV's high bits alone are poorly
// distributed for inputs that differ only at the end.
func mix(v uint64) uint64 {
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	return v ^ v>>31
}

// errorWriter writes a service-specific error reply.
type errorWriter func(w http.ResponseWriter, status int, code, msg string)

// apply carries out f on the request r. It reports whether the request
// was answered (the handler must stop) or should be served normally. A
// slow reply whose client gives up first is not served at all, as a
// server that noticed the closed connection would: the body is read
// first (and kept for the handler), since net/http only watches the
// connection, and cancels r's context, once the body is consumed.
func (f fault) apply(r *http.Request, w http.ResponseWriter, service string, writeErr errorWriter) bool {
	switch f.kind {
	case Fault500:
		code := map[string]string{"ec2": "InternalError", "ebs": "InternalServerException", "s3": "InternalError"}[service]
		writeErr(w, http.StatusInternalServerError, code, "injected fault: internal error")
	case Fault503:
		code := map[string]string{"ec2": "Unavailable", "ebs": "ServiceUnavailableException", "s3": "ServiceUnavailable"}[service]
		writeErr(w, http.StatusServiceUnavailable, code, "injected fault: service unavailable")
	case FaultThrottle:
		switch service {
		case "ec2":
			writeErr(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "injected fault: request limit exceeded")
		case "ebs":
			writeErr(w, http.StatusBadRequest, "RequestThrottledException", "injected fault: throttled")
		default:
			writeErr(w, http.StatusServiceUnavailable, "SlowDown", "injected fault: slow down")
		}
	case FaultFatal:
		code := map[string]string{"ec2": "UnauthorizedOperation", "ebs": "AccessDeniedException", "s3": "AccessDenied"}[service]
		writeErr(w, http.StatusForbidden, code, "injected fault: not authorized")
	case FaultReset:
		reset(w)
	case FaultSlow:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return true
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			return true
		}
	default: // FaultLost too: see intercept
		return false
	}
	return true
}

// intercept returns the writer the handler must use and a func to call
// once it is done. For FaultLost the handler's reply goes nowhere and the
// connection is then closed, so the request takes effect but the client
// never learns it.
func (f fault) intercept(w http.ResponseWriter) (http.ResponseWriter, func()) {
	if f.kind != FaultLost {
		return w, func() {}
	}
	return httptest.NewRecorder(), func() { reset(w) }
}

// reset closes the client connection without a reply.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
