package faultproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is one kind of injected failure.
type Fault int

// The faults a Proxy injects.
const (
	// Slow delays the reply by Config.Delay, then serves it intact.
	Slow Fault = iota
	// ServerError answers 500, 502 or 503 with a registry error body.
	ServerError
	// Truncate announces the full Content-Length, sends half the body and
	// closes the connection (the client sees an unexpected EOF).
	Truncate
	// Short sends half the body chunked and ends it cleanly: only a
	// digest or size check notices.
	Short
	// Reset closes the connection with a TCP RST before answering.
	Reset
	numFaults
)

var faultNames = [...]string{"slow", "5xx", "truncate", "short", "reset"}

func (f Fault) String() string {
	if f < 0 || f >= numFaults {
		return "fault(" + strconv.Itoa(int(f)) + ")"
	}
	return faultNames[f]
}

// AllFaults lists every fault kind.
func AllFaults() []Fault { return []Fault{Slow, ServerError, Truncate, Short, Reset} }

// Config says how often and how a Proxy fails.
type Config struct {
	// Rate is the probability, 0 to 1, that a request is faulted.
	Rate float64
	// Seed seeds the generator that picks faulted requests and faults.
	Seed uint64
	// Faults are the kinds picked from, uniformly (default AllFaults).
	Faults []Fault
	// Delay is the delay of a Slow reply (default 300 ms).
	Delay time.Duration
}

// Stats counts requests and the faults injected.
type Stats struct {
	Requests int
	Faults   map[Fault]int
}

// Proxy forwards requests to a target host and injects faults.
type Proxy struct {
	target string
	client *http.Client
	srv    *http.Server
	l      net.Listener

	mu    sync.Mutex
	cfg   Config
	rng   *rand.Rand
	stats Stats
}

// New starts a proxy on 127.0.0.1 in front of target ("host:port", plain
// HTTP). Close stops it.
func New(target string, cfg Config) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	p := &Proxy{
		target: target, l: l,
		client: &http.Client{
			Transport:     &http.Transport{Proxy: nil, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	p.Configure(cfg)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(l)
	return p, nil
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// Configure replaces the configuration and reseeds the generator; the
// statistics are reset.
func (p *Proxy) Configure(cfg Config) {
	if len(cfg.Faults) == 0 {
		cfg.Faults = AllFaults()
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 300 * time.Millisecond
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg = cfg
	p.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	p.stats = Stats{Faults: map[Fault]int{}}
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Requests: p.stats.Requests, Faults: map[Fault]int{}}
	for k, v := range p.stats.Faults {
		s.Faults[k] = v
	}
	return s
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	p.client.CloseIdleConnections()
	return p.srv.Close()
}

// decision is what happens to one request.
type decision struct {
	fault  Fault
	faulty bool
	delay  time.Duration
	code   int // status of a ServerError
}

var errorCodes = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

// pick decides the fault of one request.
func (p *Proxy) pick() decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	if p.rng.Float64() >= p.cfg.Rate {
		return decision{}
	}
	d := decision{fault: p.cfg.Faults[p.rng.IntN(len(p.cfg.Faults))], faulty: true, delay: p.cfg.Delay,
		code: errorCodes[p.rng.IntN(len(errorCodes))]}
	p.stats.Faults[d.fault]++
	return d
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := p.pick()
	f, faulty := d.fault, d.faulty
	if faulty {
		switch f {
		case Slow:
			select {
			case <-time.After(d.delay):
			case <-r.Context().Done():
				return
			}
		case ServerError:
			serverError(w, d.code)
			return
		case Reset:
			reset(w)
			return
		}
	}
	resp, err := p.forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	cut := faulty && (f == Truncate || f == Short) && r.Method == http.MethodGet && resp.ContentLength > 1
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if !cut {
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	half := resp.ContentLength / 2
	if f == Short {
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		io.CopyN(w, resp.Body, half)
		return
	}
	truncate(w, resp, half)
}

func (p *Proxy) forward(r *http.Request) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.target+r.URL.RequestURI(), r.Body)
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	out.ContentLength = r.ContentLength
	return p.client.Do(out)
}

func serverError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":"faultproxy: injected %d"}]}`, code)
}

// hijack takes over the client connection.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	return hj.Hijack()
}

func reset(w http.ResponseWriter) {
	c, _, err := hijack(w)
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // close sends RST
	}
	c.Close()
}

// truncate writes the status line and headers with the full length, half
// the body, and closes the connection.
func truncate(w http.ResponseWriter, resp *http.Response, half int64) {
	c, bw, err := hijack(w)
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	h := resp.Header.Clone()
	h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	h.Set("Connection", "close")
	h.Write(bw)
	bw.WriteString("\r\n")
	io.CopyN(bw, resp.Body, half)
	bw.Flush()
}
