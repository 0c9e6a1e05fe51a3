package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Epoch is the modification time, in Unix seconds, of every entry written
// by this package and the creation time of every image it builds.
const Epoch int64 = 1704164645 // 2024-01-02T03:04:05Z

// EpochTime returns Epoch as a UTC time.
func EpochTime() time.Time { return time.Unix(Epoch, 0).UTC() }

// File describes one tar entry of a layer.
type File struct {
	// Path is written verbatim as the tar name (no cleaning), so tests can
	// build malformed archives.
	Path string
	// Type is the kind of entry; ignored for Whiteout and Opaque.
	Type rootfs.Type
	// Mode holds permission and setuid/setgid/sticky bits; zero means 0755
	// for directories and 0644 for everything else.
	Mode     uint32
	UID, GID int
	Data     []byte
	// SparseSize, when set on a regular file, makes a GNU PAX 1.0 sparse
	// entry of this logical size with Data at offset 0 and a hole after.
	SparseSize   int64
	Linkname     string
	Major, Minor int64
	Xattrs       map[string]string
	// Whiteout emits a ".wh." entry hiding Path in lower layers.
	Whiteout bool
	// Opaque emits a ".wh..wh..opq" entry inside directory Path.
	Opaque bool
}

// Layer is the ordered list of entries of one layer.
type Layer []File

// WithParents returns a copy of l in which a directory entry (0755,
// root:root) precedes the first entry under every directory that l does not
// list itself.
func (l Layer) WithParents() Layer {
	have := map[string]bool{".": true}
	for _, f := range l {
		if f.Type == rootfs.TypeDir && !f.Whiteout && !f.Opaque {
			have[path.Clean(f.Path)] = true
		}
	}
	var out Layer
	for _, f := range l {
		var missing []string
		for d := path.Dir(path.Clean(f.Path)); d != "." && d != "/" && !have[d]; d = path.Dir(d) {
			missing = append(missing, d)
			have[d] = true
		}
		for i := len(missing) - 1; i >= 0; i-- {
			out = append(out, File{Path: missing[i], Type: rootfs.TypeDir})
		}
		out = append(out, f)
	}
	return out
}

var tarTypes = map[rootfs.Type]byte{
	rootfs.TypeDir: tar.TypeDir, rootfs.TypeReg: tar.TypeReg, rootfs.TypeSymlink: tar.TypeSymlink,
	rootfs.TypeHardlink: tar.TypeLink, rootfs.TypeChar: tar.TypeChar, rootfs.TypeBlock: tar.TypeBlock,
	rootfs.TypeFIFO: tar.TypeFifo,
}

// Tar returns the uncompressed tar archive of l.
func (l Layer) Tar() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range l {
		if err := writeFile(tw, &buf, f); err != nil {
			return nil, fmt.Errorf("writing %q: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	return buf.Bytes(), nil
}

// Blob returns the gzip-compressed tar archive of l, as stored in a
// registry. The gzip header carries no name and no time.
func (l Layer) Blob() ([]byte, error) {
	t, err := l.Tar()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(t); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	return buf.Bytes(), nil
}

func writeFile(tw *tar.Writer, raw *bytes.Buffer, f File) error {
	switch {
	case f.Whiteout:
		return tw.WriteHeader(baseHeader(f, path.Join(path.Dir(f.Path), ".wh."+path.Base(f.Path)), tar.TypeReg))
	case f.Opaque:
		return tw.WriteHeader(baseHeader(f, path.Join(f.Path, ".wh..wh..opq"), tar.TypeReg))
	case f.Type == rootfs.TypeReg && f.SparseSize > 0:
		if err := tw.Flush(); err != nil {
			return err
		}
		raw.Write(sparseEntry(f))
		return nil
	}
	typ, ok := tarTypes[f.Type]
	if !ok {
		return fmt.Errorf("unsupported type %v", f.Type)
	}
	name := f.Path
	if f.Type == rootfs.TypeDir && name != "" && name[len(name)-1] != '/' {
		name += "/"
	}
	h := baseHeader(f, name, typ)
	h.Linkname = f.Linkname
	h.Devmajor, h.Devminor = f.Major, f.Minor
	for _, k := range sortedKeys(f.Xattrs) {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = f.Xattrs[k]
	}
	if h.PAXRecords != nil {
		h.Format = tar.FormatPAX
	}
	if f.Type == rootfs.TypeReg {
		h.Size = int64(len(f.Data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if f.Type == rootfs.TypeReg {
		_, err := tw.Write(f.Data)
		return err
	}
	return nil
}

func baseHeader(f File, name string, typ byte) *tar.Header {
	return &tar.Header{
		Name: name, Typeflag: typ, Mode: int64(modeOf(f)), Uid: f.UID, Gid: f.GID,
		ModTime: EpochTime(), Format: tar.FormatPAX,
	}
}

func modeOf(f File) uint32 {
	switch {
	case f.Mode != 0:
		return f.Mode
	case f.Type == rootfs.TypeDir:
		return 0o755
	case f.Type == rootfs.TypeSymlink:
		return 0o777
	}
	return 0o644
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sparseEntry encodes f as a GNU PAX 1.0 sparse file: a PAX header with the
// GNU.sparse records, then a ustar header whose data is the sparse map
// (padded to a block) followed by the stored fragment. archive/tar's writer
// refuses GNU.sparse records, hence the hand encoding.
func sparseEntry(f File) []byte {
	recs := map[string]string{
		"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": f.Path,
		"GNU.sparse.realsize": strconv.FormatInt(f.SparseSize, 10),
	}
	for k, v := range f.Xattrs {
		recs["SCHILY.xattr."+k] = v
	}
	var pax bytes.Buffer
	for _, k := range sortedKeys(recs) {
		pax.WriteString(paxRecord(k, recs[k]))
	}
	var spMap string
	n := 1
	if len(f.Data) > 0 {
		spMap = fmt.Sprintf("0\n%d\n", len(f.Data))
		n++
	}
	spMap = fmt.Sprintf("%d\n%s%d\n0\n", n, spMap, f.SparseSize)
	mapBlock := make([]byte, padded(int64(len(spMap))))
	copy(mapBlock, spMap)

	var out bytes.Buffer
	base := path.Base(f.Path)
	out.Write(ustarHeader("PaxHeaders.0/"+base, 'x', int64(pax.Len()), f))
	out.Write(pad(pax.Bytes()))
	out.Write(ustarHeader("GNUSparseFile.0/"+base, '0', int64(len(mapBlock)+len(f.Data)), f))
	out.Write(pad(append(mapBlock, f.Data...)))
	return out.Bytes()
}

func paxRecord(k, v string) string {
	body := " " + k + "=" + v + "\n"
	n := len(body) + len(strconv.Itoa(len(body)))
	if len(strconv.Itoa(n)) != len(strconv.Itoa(len(body))) {
		n = len(body) + len(strconv.Itoa(n))
	}
	return strconv.Itoa(n) + body
}

func padded(n int64) int64 { return (n + 511) / 512 * 512 }

func pad(b []byte) []byte {
	return append(b, make([]byte, padded(int64(len(b)))-int64(len(b)))...)
}

func ustarHeader(name string, typ byte, size int64, f File) []byte {
	b := make([]byte, 512)
	if len(name) > 99 {
		name = name[:99]
	}
	copy(b[0:100], name)
	octal(b[100:108], int64(modeOf(f)))
	octal(b[108:116], int64(f.UID))
	octal(b[116:124], int64(f.GID))
	octal(b[124:136], size)
	octal(b[136:148], Epoch)
	b[156] = typ
	copy(b[257:265], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func octal(dst []byte, v int64) {
	copy(dst, fmt.Sprintf("%0*o\x00", len(dst)-1, v))
}
