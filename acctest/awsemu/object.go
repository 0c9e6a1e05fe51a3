package awsemu

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// object is the data of an S3 object or of one multipart part, kept in
// an unlinked temporary file rather than on the heap: a raw disk sent
// through the S3 import path is as large as the disk, holes included,
// and several copies of it on the heap (parts, the assembled object,
// GC headroom, and 4x more under the race detector) once took a test
// process past 19 GiB. The file is removed at creation, so the kernel
// frees its space when the last reference to the object is dropped and
// the *os.File finalizer closes it; release closes it at once where the
// emulator drops an object (replaced, deleted, parts assembled), so a
// long multipart upload does not hold thousands of descriptors.
type object struct {
	f    *os.File
	size int64
	etag string // quoted hex MD5 of the data
	tags map[string]string
}

// newObject copies r into a fresh object, hashing as it goes.
func newObject(r io.Reader) (*object, error) {
	f, err := os.CreateTemp("", "awsemu-object-*")
	if err != nil {
		return nil, fmt.Errorf("creating object file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlinking object file: %w", err)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &object{f: f, size: n, etag: `"` + hex.EncodeToString(h.Sum(nil)) + `"`}, nil
}

// concatObjects is one object holding parts, in order.
func concatObjects(parts []*object) (*object, error) {
	rs := make([]io.Reader, len(parts))
	for i, p := range parts {
		rs[i] = p.reader()
	}
	return newObject(io.MultiReader(rs...))
}

// reader reads the object from its start.
func (o *object) reader() io.Reader { return io.NewSectionReader(o.f, 0, o.size) }

// ReadAt reads the object's bytes at off.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	return io.NewSectionReader(o.f, 0, o.size).ReadAt(p, off)
}

// release closes the object's file; o may be nil. Readers run under the
// emulator's lock, as does every release, so none is reading.
func (o *object) release() {
	if o != nil {
		o.f.Close()
	}
}
