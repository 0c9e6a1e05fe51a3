package faultproxy_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/faultproxy"
)

const body = "0123456789abcdef0123456789abcdef"

func start(t *testing.T, cfg faultproxy.Config) *faultproxy.Proxy {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "32")
		io.WriteString(w, body)
	}))
	t.Cleanup(backend.Close)
	p, err := faultproxy.New(strings.TrimPrefix(backend.URL, "http://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func get(p *faultproxy.Proxy) (int, string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + p.Addr() + "/v2/x/blobs/sha256:00")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestFaults checks what each fault does to a client, at rate 1.
func TestFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault faultproxy.Fault
		check func(t *testing.T, code int, got string, err error, took time.Duration)
	}{
		{"slow", faultproxy.Slow, func(t *testing.T, code int, got string, err error, took time.Duration) {
			if err != nil || code != 200 || got != body || took < 50*time.Millisecond {
				t.Errorf("got %d %q %v after %v, want the intact body after 50ms", code, got, err, took)
			}
		}},
		{"5xx", faultproxy.ServerError, func(t *testing.T, code int, got string, err error, _ time.Duration) {
			if err != nil || code < 500 || !strings.Contains(got, "faultproxy: injected") {
				t.Errorf("got %d %q %v, want a 5xx registry error", code, got, err)
			}
		}},
		{"truncate", faultproxy.Truncate, func(t *testing.T, code int, got string, err error, _ time.Duration) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || got != body[:16] {
				t.Errorf("got %d %q %v, want half the body and an unexpected EOF", code, got, err)
			}
		}},
		{"short", faultproxy.Short, func(t *testing.T, code int, got string, err error, _ time.Duration) {
			if err != nil || code != 200 || got != body[:16] {
				t.Errorf("got %d %q %v, want half the body and no error", code, got, err)
			}
		}},
		{"reset", faultproxy.Reset, func(t *testing.T, code int, got string, err error, _ time.Duration) {
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
				t.Errorf("got %d %q %v, want a reset connection", code, got, err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, faultproxy.Config{Rate: 1, Faults: []faultproxy.Fault{c.fault}, Delay: 50 * time.Millisecond})
			t0 := time.Now()
			code, got, err := get(p)
			c.check(t, code, got, err, time.Since(t0))
			if s := p.Stats(); s.Requests != 1 || s.Faults[c.fault] != 1 {
				t.Errorf("stats %+v, want 1 request with 1 %s", s, c.fault)
			}
		})
	}
}

// TestRateAndSeed checks that the rate is honoured and a seed repeats.
func TestRateAndSeed(t *testing.T) {
	p := start(t, faultproxy.Config{Rate: 0.3, Seed: 7, Faults: []faultproxy.Fault{faultproxy.ServerError}})
	pattern := func() string {
		var b strings.Builder
		for range 200 {
			code, _, err := get(p)
			if err != nil {
				t.Fatal(err)
			}
			if code >= 500 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	first := pattern()
	n := strings.Count(first, "x")
	if n < 35 || n > 85 {
		t.Errorf("%d of 200 requests faulted at rate 0.3", n)
	}
	p.Configure(faultproxy.Config{Rate: 0.3, Seed: 7, Faults: []faultproxy.Fault{faultproxy.ServerError}})
	if again := pattern(); again != first {
		t.Errorf("same seed, different faults:\n%s\n%s", first, again)
	}
	p.Configure(faultproxy.Config{Rate: 0})
	if again := pattern(); strings.Contains(again, "x") {
		t.Errorf("faults at rate 0: %s", again)
	}
}
