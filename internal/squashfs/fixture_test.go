package squashfs_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

// testEntry is one entry of a generated stream; gen streams a regular
// file's content (the same bytes on every call).
type testEntry struct {
	rootfs.Entry
	gen func(w io.Writer) error
}

var (
	epoch    = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	zeroMiB  = make([]byte, 1<<20)
	capValue = []byte{0, 0, 0, 2, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // cap_net_bind_service+ep
)

// pattern returns n bytes of a compressible, position-dependent pattern.
func pattern(n int, seed byte) []byte {
	period := make([]byte, 7*256)
	for i := range period {
		period[i] = byte(i/7) ^ seed
	}
	return bytes.Repeat(period, n/len(period)+1)[:n]
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

func bytesGen(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		b := b
		// Write in uneven pieces to exercise block assembly.
		for len(b) > 0 {
			n := min(len(b), 300_001)
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
}

// sparseGen writes size bytes that are zero except for the given chunks.
func sparseGen(size int64, chunks map[int64][]byte, offsets []int64) func(io.Writer) error {
	return func(w io.Writer) error {
		var pos int64
		for _, off := range append(offsets, size) {
			for pos < off {
				n := min(off-pos, int64(len(zeroMiB)))
				if _, err := w.Write(zeroMiB[:n]); err != nil {
					return err
				}
				pos += n
			}
			if c := chunks[off]; c != nil {
				if _, err := w.Write(c); err != nil {
					return err
				}
				pos += int64(len(c))
			}
		}
		return nil
	}
}

func file(p string, mode uint32, data []byte) testEntry {
	return testEntry{Entry: rootfs.Entry{Path: p, Type: rootfs.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: epoch}, gen: bytesGen(data)}
}

func dir(p string, mode uint32) testEntry {
	return testEntry{Entry: rootfs.Entry{Path: p, Type: rootfs.TypeDir, Mode: mode, ModTime: epoch.Add(time.Hour)}}
}

func link(p string, typ rootfs.Type, target string) testEntry {
	return testEntry{Entry: rootfs.Entry{Path: p, Type: typ, Mode: 0o777, Linkname: target, ModTime: epoch}}
}

func node(p string, typ rootfs.Type, mode, major, minor uint32) testEntry {
	return testEntry{Entry: rootfs.Entry{Path: p, Type: typ, Mode: mode, Devmajor: major, Devminor: minor, ModTime: epoch, UID: 7, GID: 9}}
}

// fixture returns the test stream: parents after children, a 2,000-entry
// directory, forward hardlinks, xattrs, special files, odd names and
// sizes, and (if big) a 2 GiB sparse file.
func fixture(blockSize int, withRoot, big bool) []testEntry {
	var es []testEntry
	add := func(e ...testEntry) { es = append(es, e...) }
	add(file("usr/bin/tool", 0o755, pattern(5000, 1)))
	add(link("links/forward", rootfs.TypeHardlink, "data/target"))
	usr := dir("usr", 0o700)
	usr.UID, usr.GID = 5, 6
	add(dir("usr/bin", 0o755), usr)
	for i := range 2000 {
		add(file(fmt.Sprintf("many/f%04d", i), 0o644, []byte(strings.Repeat(fmt.Sprint(i), i%7))))
	}
	target := file("data/target", 0o640, []byte("linked content\n"))
	target.UID, target.GID = 1000, 1000
	add(target, link("links/back", rootfs.TypeHardlink, "data/target"))
	add(link("links/rel", rootfs.TypeSymlink, "../data/target"), link("links/abs", rootfs.TypeSymlink, "/etc/hosts"))
	capf := file("data/cap", 0o755, []byte("#!/bin/true\n"))
	capf.Xattrs = map[string][]byte{"security.capability": capValue, "user.comment": []byte("hello"), "trusted.overlay.opaque": []byte("y")}
	d := dir("data", 0o755)
	d.Xattrs = map[string][]byte{"user.dir": []byte("d")}
	add(capf, d)
	add(file("data/suid", 0o4755, []byte("suid")), dir("data/sgid", 0o2775), dir("tmp", 0o1777))
	add(node("dev/null", rootfs.TypeChar, 0o666, 1, 3), node("dev/sda", rootfs.TypeBlock, 0o660, 8, 0))
	add(node("dev/odd", rootfs.TypeChar, 0o600, 300, 70000), dir("dev", 0o755))
	add(node("run/fifo", rootfs.TypeFIFO, 0o644, 0, 0), node("run/sock", rootfs.TypeSocket, 0o755, 0, 0))
	add(file("names/"+strings.Repeat("n", 255), 0o644, []byte("long")))
	add(file("names/héllo wörld ✓", 0o644, []byte("utf8")), file("names/日本語", 0o644, nil))
	add(file("data/random", 0o644, randomBytes(3<<20, 1)))
	add(file("data/empty", 0o644, nil))
	add(file("data/oneblock", 0o644, pattern(blockSize, 2)))
	add(file("data/oneblockplus", 0o644, pattern(blockSize+1, 3)))
	if big {
		const size = 2 << 30
		chunks := map[int64][]byte{0: randomBytes(100_000, 2), 1<<30 + 12345: pattern(3<<20, 4), size - 70_000: randomBytes(70_000, 3)}
		sp := testEntry{Entry: rootfs.Entry{Path: "data/sparse", Type: rootfs.TypeReg, Mode: 0o600, Size: size, ModTime: epoch},
			gen: sparseGen(size, chunks, []int64{0, 1<<30 + 12345, size - 70_000})}
		add(sp)
	}
	if withRoot {
		root := dir(".", 0o751)
		add(root)
	}
	return es
}

// build writes es into a new image file with opts and returns its path
// and the size Close reported.
func build(t testing.TB, es []testEntry, opts squashfs.Options) (string, int64) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.sqfs")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := write(f, es, opts)
	if err != nil {
		t.Fatalf("building image: %v", err)
	}
	return p, size
}

func write(w io.WriterAt, es []testEntry, opts squashfs.Options) (int64, error) {
	sw, err := squashfs.New(w, opts)
	if err != nil {
		return 0, err
	}
	for i := range es {
		if err := addEntry(sw, &es[i]); err != nil {
			sw.Close()
			return 0, err
		}
	}
	return sw.Close()
}

func addEntry(s rootfs.Sink, e *testEntry) error {
	fw, err := s.Add(&e.Entry)
	if err != nil || fw == nil {
		return err
	}
	if e.gen != nil {
		if err := e.gen(fw); err != nil {
			return err
		}
	}
	return fw.Close()
}

// compareWriter checks that the bytes written equal those read from r.
// Runs of zeros from sparseGen are only sampled (one MiB in 16), to keep
// the 2 GiB file affordable under the race detector; the data regions and
// everything else are compared in full.
type compareWriter struct {
	r     io.ReadSeeker
	buf   []byte
	off   int64
	zeros int
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if len(p) > 0 && &p[0] == &zeroMiB[0] {
		c.zeros++
		if c.zeros%16 != 0 {
			if _, err := c.r.Seek(int64(len(p)), io.SeekCurrent); err != nil {
				return 0, err
			}
			c.off += int64(len(p))
			return len(p), nil
		}
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	got := c.buf[:len(p)]
	if _, err := io.ReadFull(c.r, got); err != nil {
		return 0, fmt.Errorf("reading at %d: %w", c.off, err)
	}
	if !bytes.Equal(got, p) {
		return 0, fmt.Errorf("content differs in the %d bytes at offset %d", len(p), c.off)
	}
	c.off += int64(len(p))
	return len(p), nil
}
