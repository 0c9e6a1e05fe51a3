package awsemu

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// PutWatch is an http.Handler that, before it passes each PUT request (an
// EBS block, an S3 part) on, lists the raw disk files under a directory.
// Tests of streamed builds serve the emulator through it to show that no
// disk file exists while the upload runs.
type PutWatch struct {
	next http.Handler
	dir  string
	mu   sync.Mutex
	seen map[string]bool
	puts int
}

// WatchPuts wraps next (usually an *Emulator) so that every PUT first
// looks for raw disks under dir.
func WatchPuts(next http.Handler, dir string) *PutWatch {
	return &PutWatch{next: next, dir: dir, seen: map[string]bool{}}
}

// ServeHTTP records the raw disks under the directory on a PUT, then
// serves the request with the wrapped handler.
func (w *PutWatch) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		found := RawDisks(w.dir)
		w.mu.Lock()
		w.puts++
		for _, f := range found {
			w.seen[f] = true
		}
		w.mu.Unlock()
	}
	w.next.ServeHTTP(rw, r)
}

// Seen returns the raw disks seen at any PUT so far, sorted, and the
// number of PUTs.
func (w *PutWatch) Seen() (disks []string, puts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	disks = make([]string, 0, len(w.seen))
	for f := range w.seen {
		disks = append(disks, f)
	}
	slices.Sort(disks)
	return disks, w.puts
}

// RawDisks lists the files under dir whose name says raw disk, finished
// or partial (it holds ".raw"). Files that vanish during the walk, as a
// running build's do, are skipped.
func RawDisks(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".raw") {
			out = append(out, p)
		}
		return nil
	})
	return out
}
