package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// got is what a test sink saw for one entry.
type got struct {
	Path, Type, Link string
	Mode             uint32
	Data             string // first 64 KiB of a regular file
	Size             int64
	NonZeroTail      bool // a byte past 64 KiB was not zero
}

// recorder is a Sink that remembers every entry, fails the test on a
// path delivered twice, and checks that each file gets exactly Size bytes.
type recorder struct {
	t       *testing.T
	mu      sync.Mutex
	entries []rootfs.Entry
	byPath  map[string]*got
	order   []string
}

func newRecorder(t *testing.T) *recorder { return &recorder{t: t, byPath: map[string]*got{}} }

func (r *recorder) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byPath[e.Path]; dup {
		r.t.Errorf("entry %q delivered twice", e.Path)
	}
	g := &got{Path: e.Path, Type: e.Type.String(), Link: e.Linkname, Mode: e.Mode, Size: e.Size}
	r.byPath[e.Path] = g
	r.order = append(r.order, e.Path)
	c := *e
	r.entries = append(r.entries, c)
	if e.Type != rootfs.TypeReg {
		return nil, nil
	}
	return &fileWriter{t: r.t, g: g, want: e.Size}, nil
}

// summary returns "path (type)[ -> link]" for every entry, sorted.
func (r *recorder) summary() []string {
	var out []string
	for _, p := range r.order {
		g := r.byPath[p]
		s := g.Path + " (" + g.Type + ")"
		if g.Link != "" {
			s += " -> " + g.Link
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

var zeros = make([]byte, 1<<20)

type fileWriter struct {
	t    *testing.T
	g    *got
	n    int64
	want int64
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if head := int64(64 << 10); w.n < head {
		k := min(int64(len(p)), head-w.n)
		w.g.Data += string(p[:k])
		if !bytes.Equal(p[k:], zeros[:len(p)-int(k)]) {
			w.g.NonZeroTail = true
		}
	} else if !bytes.Equal(p, zeros[:len(p)]) {
		w.g.NonZeroTail = true
	}
	w.n += int64(len(p))
	return len(p), nil
}

func (w *fileWriter) Close() error {
	if w.n != w.want {
		return fmt.Errorf("%s: got %d bytes, entry says %d", w.g.Path, w.n, w.want)
	}
	return nil
}

// layoutRef writes img to a fresh OCI layout and returns its reference.
func layoutRef(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if err := imagetest.WriteLayout(dir, img, "test"); err != nil {
		t.Fatal(err)
	}
	return oci.LayoutPrefix + dir
}

func mustImage(t *testing.T, layers ...imagetest.Layer) v1.Image {
	t.Helper()
	img, err := imagetest.Image(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// walk opens ref and walks it into a new recorder.
func walk(t *testing.T, ref string, opts oci.Options) (*oci.Source, *recorder, error) {
	t.Helper()
	src, err := oci.Open(context.Background(), ref, opts)
	if err != nil {
		return nil, nil, err
	}
	rec := newRecorder(t)
	return src, rec, src.Walk(context.Background(), rec)
}

// authnBasic is a minimal authn.Authenticator for pushing to test
// registries.
type authnBasic struct{ user, pass string }

func (a *authnBasic) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: a.user, Password: a.pass}, nil
}

func withAuth(user, pass string) remote.Option { return remote.WithAuth(&authnBasic{user, pass}) }
