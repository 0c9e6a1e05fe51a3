package oci_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/go-cmp/cmp"
)

// statusHandler answers every registry request with code.
func statusHandler(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		}
		http.Error(w, http.StatusText(code), code)
	})
}

func TestOpenRegistryErrors(t *testing.T) {
	isolateKeychain(t)
	img := mustImage(t, imagetest.Derivative(2, "1.0")...)
	authed := imagetest.Serve(t, basicAuth(imagetest.RegistryHandler(), "user", "secret"))
	imagetest.Push(t, authed+"/os:v1", img, withAuth("user", "secret"))
	plain := imagetest.Registry(t)
	imagetest.Push(t, plain+"/os:v1", img)

	tests := []struct {
		name    string
		ref     string
		opts    oci.Options
		wantErr string
	}{
		{name: "401", ref: imagetest.Serve(t, statusHandler(401)) + "/os:v1", wantErr: "401 Unauthorized"},
		{name: "403", ref: imagetest.Serve(t, statusHandler(403)) + "/os:v1", wantErr: "403 Forbidden"},
		{name: "404", ref: imagetest.Serve(t, statusHandler(404)) + "/os:v1", wantErr: "404 Not Found"},
		{name: "500", ref: imagetest.Serve(t, statusHandler(500)) + "/os:v1", opts: oci.Options{Attempts: 1}, wantErr: "500 Internal Server Error"},
		{name: "unknown tag", ref: plain + "/os:nope", wantErr: "MANIFEST_UNKNOWN"},
		{name: "unknown repo", ref: plain + "/other:v1", wantErr: "NAME_UNKNOWN"},
		{name: "auth without credentials", ref: authed + "/os:v1", wantErr: "401 Unauthorized"},
		{name: "auth wrong password", ref: authed + "/os:v1", opts: oci.Options{Username: "user", Password: "wrong"}, wantErr: "401 Unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oci.Open(context.Background(), tc.ref, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "opening image "+tc.ref+": ") {
				t.Fatalf("err = %v, want %q naming %s", err, tc.wantErr, tc.ref)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

// blobCounter counts GET requests per blob digest.
type blobCounter struct {
	h    http.Handler
	mu   sync.Mutex
	gets map[string]int
}

func (c *blobCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
		c.mu.Lock()
		c.gets[r.URL.Path[i+len("/blobs/"):]]++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

func (c *blobCounter) count(digest string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[digest]
}

func TestWalkRemoteCache(t *testing.T) {
	isolateKeychain(t)
	counter := &blobCounter{h: imagetest.RegistryHandler(), gets: map[string]int{}}
	host := imagetest.Serve(t, counter)
	ref := host + "/os:v1"
	imagetest.Push(t, ref, mustImage(t, append(imagetest.Derivative(2, "1.0"), imagetest.Torture("usr/bin/elemental"))...))
	cache := filepath.Join(t.TempDir(), "cache")
	var first []string
	for pass := range 3 {
		// The third pass opens a new Source: the cache outlives it.
		src, rec, err := walk(t, ref, oci.Options{CacheDir: cache})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if pass == 0 {
			first = rec.summary()
		} else if diff := cmp.Diff(first, rec.summary()); diff != "" {
			t.Errorf("pass %d differs (-first +this):\n%s", pass, diff)
		}
		for _, l := range src.Layers() {
			if n := counter.count(l.Digest.String()); n != 1 {
				t.Errorf("pass %d: layer %s fetched %d times, want 1", pass, l.Digest, n)
			}
			if _, err := os.Stat(filepath.Join(cache, l.Digest.String())); err != nil {
				t.Errorf("pass %d: %v", pass, err)
			}
		}
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tmp-") {
			t.Errorf("temporary cache file %s left behind", e.Name())
		}
	}
}

func TestWalkRemoteCacheFailure(t *testing.T) {
	isolateKeychain(t)
	boom := errors.New("boom")
	failing := rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) { return nil, boom })
	tests := []struct {
		name        string
		corrupt     func([]byte)
		sink        rootfs.Sink
		wantIs      error
		wantRemoved bool
	}{
		{name: "digest mismatch", corrupt: func(b []byte) { b[4] ^= 0xff }, wantIs: oci.ErrDigestMismatch, wantRemoved: true},
		{name: "corrupt deflate data", corrupt: func(b []byte) { b[len(b)/2] ^= 0xff }, wantRemoved: true},
		{name: "sink error keeps a good blob", sink: failing, wantIs: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counter := &blobCounter{h: imagetest.RegistryHandler(), gets: map[string]int{}}
			ref := imagetest.Serve(t, counter) + "/os:v1"
			imagetest.Push(t, ref, mustImage(t, imagetest.Derivative(2, "1.0")...))
			cache := filepath.Join(t.TempDir(), "cache")
			src, _, err := walk(t, ref, oci.Options{CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			l := src.Layers()[2] // the top layer, read first
			cached := filepath.Join(cache, l.Digest.String())
			if tc.corrupt != nil {
				b, _ := os.ReadFile(cached)
				tc.corrupt(b)
				os.WriteFile(cached, b, 0o600)
			}
			sink := tc.sink
			if sink == nil {
				sink = newRecorder(t)
			}
			err = src.Walk(context.Background(), sink)
			if err == nil || !strings.Contains(err.Error(), "layer "+l.Digest.String()) {
				t.Fatalf("err = %v, want an error naming the layer", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
			if _, err := os.Stat(cached); os.IsNotExist(err) != tc.wantRemoved {
				t.Errorf("cache file removed = %v, want %v", os.IsNotExist(err), tc.wantRemoved)
			}
			if err := src.Walk(context.Background(), newRecorder(t)); err != nil {
				t.Fatal(err)
			}
			want := 1
			if tc.wantRemoved {
				want = 2
			}
			if n := counter.count(l.Digest.String()); n != want {
				t.Errorf("layer fetched %d times, want %d", n, want)
			}
		})
	}
}

// corruptBlobs serves a flipped byte in the body of every layer blob.
type corruptBlobs struct {
	h      http.Handler
	digest string
}

func (c corruptBlobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+c.digest) {
		rec := &bufferedResponse{header: http.Header{}}
		c.h.ServeHTTP(rec, r)
		rec.body[4] ^= 0xff
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.code)
		w.Write(rec.body)
		return
	}
	c.h.ServeHTTP(w, r)
}

type bufferedResponse struct {
	header http.Header
	code   int
	body   []byte
}

func (b *bufferedResponse) Header() http.Header  { return b.header }
func (b *bufferedResponse) WriteHeader(code int) { b.code = code }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

func TestWalkRemoteCorruptBlob(t *testing.T) {
	isolateKeychain(t)
	img := mustImage(t, imagetest.Derivative(2, "1.0")...)
	layers, _ := img.Layers()
	d, _ := layers[2].Digest()
	host := imagetest.Serve(t, corruptBlobs{h: imagetest.RegistryHandler(), digest: d.String()})
	ref := host + "/os:v1"
	imagetest.Push(t, ref, img)
	cache := filepath.Join(t.TempDir(), "cache")
	_, _, err := walk(t, ref, oci.Options{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "layer "+d.String()+": ") {
		t.Fatalf("err = %v, want an error naming layer %s", err, d)
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if e.Name() == d.String() || strings.HasPrefix(e.Name(), "tmp-") {
			t.Errorf("corrupt blob left in the cache as %s", e.Name())
		}
	}
}

func TestWalkRemoteCancel(t *testing.T) {
	isolateKeychain(t)
	host := imagetest.Registry(t)
	ref := host + "/os:v1"
	imagetest.Push(t, ref, mustImage(t, append(imagetest.Derivative(2, "1.0"), imagetest.Torture("usr/bin/elemental"))...))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := oci.Open(ctx, ref, oci.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Walk(ctx, &cancelSink{n: 5, cancel: cancel})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := oci.Open(ctx, ref, oci.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled ctx: %v, want context.Canceled", err)
	}
}
