package secrets

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// secret is one injected credential: name says what it is.
type secret struct {
	name  string
	value string
	// common are lines of value that every secret of its kind shares
	// (the openssh-key-v1 header line of unencrypted ed25519 keys): not
	// searched alone.
	common []string
}

// needle is one searchable form of a secret.
type needle struct {
	secret string // the secret's name
	form   string // raw, json, url, base64+k, base64url+k, line N
	b      []byte
}

// finding is one place a secret was found.
type finding struct {
	where  string // file (and zip entry or "gunzip")
	secret string
	form   string
	offset int64
}

func (f finding) String() string {
	return fmt.Sprintf("%s (%s) at %s offset %d", f.secret, f.form, f.where, f.offset)
}

// minNeedle is the shortest form worth searching: shorter ones match by
// chance.
const minNeedle = 12

// needles returns every searchable form of the secrets.
func needles(secrets []secret) []needle {
	var out []needle
	for _, s := range secrets {
		seen := map[string]bool{}
		add := func(form, v string) {
			if len(v) >= minNeedle && !seen[v] {
				seen[v] = true
				out = append(out, needle{secret: s.name, form: form, b: []byte(v)})
			}
		}
		add("raw", s.value)
		add("json", jsonEscape(s.value, true))
		add("json (no html escapes)", jsonEscape(s.value, false))
		add("url", url.QueryEscape(s.value))
		for _, form := range []string{"raw", "json", "json (no html escapes)"} {
			v := s.value
			if form != "raw" {
				v = jsonEscape(s.value, form == "json")
			}
			for k := 0; k < 3; k++ {
				core := base64Core(v, k)
				add(fmt.Sprintf("base64+%d of %s", k, form), core)
				add(fmt.Sprintf("base64url+%d of %s", k, form), strings.NewReplacer("+", "-", "/", "_").Replace(core))
			}
		}
		for i, line := range strings.Split(s.value, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "-----") && len(line) >= 16 && !slices.Contains(s.common, line) {
				add(fmt.Sprintf("line %d", i+1), line)
			}
		}
	}
	return out
}

// jsonEscape is v inside a JSON string, with or without Go's HTML escapes
// (\u0026 for &).
func jsonEscape(v string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(v) // a string always encodes
	j := strings.TrimSpace(b.String())
	return j[1 : len(j)-1]
}

// base64Core is the part of base64(v) that is the same wherever v starts
// in a longer stream, for v starting k bytes (mod 3) into it: the groups
// that hold only v's bytes.
func base64Core(v string, k int) string {
	enc := base64.StdEncoding.EncodeToString(append(make([]byte, k), v...))
	start := 0
	if k > 0 {
		start = 4
	}
	end := (k + len(v)) / 3 * 4
	if end <= start {
		return ""
	}
	return enc[start:end]
}

// scanBytes returns where the needles occur in data.
func scanBytes(where string, base int64, data []byte, ns []needle) []finding {
	var out []finding
	for _, n := range ns {
		if i := bytes.Index(data, n.b); i >= 0 {
			out = append(out, finding{where: where, secret: n.secret, form: n.form, offset: base + int64(i)})
		}
	}
	return out
}

// scanReader scans a stream in chunks that overlap by the longest needle,
// so a secret across a chunk boundary is found.
func scanReader(where string, base int64, r io.Reader, ns []needle) ([]finding, error) {
	overlap := 0
	for _, n := range ns {
		overlap = max(overlap, len(n.b)-1)
	}
	const chunk = 4 << 20
	buf := make([]byte, 0, chunk+overlap)
	var out []finding
	seen := map[string]bool{}
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for _, f := range scanBytes(where, base, buf, ns) {
			if key := f.secret + f.form; !seen[key] {
				seen[key] = true
				out = append(out, f)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("reading %s: %w", where, err)
		}
		keep := min(overlap, len(buf))
		base += int64(len(buf) - keep)
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}

// Linux lseek whences that skip the holes of sparse files (disk images).
const (
	seekData = 3
	seekHole = 4
)

// scanFile scans a regular file's data extents, and the decompressed
// contents of gzip files and zip archives (Terraform's saved plans).
func scanFile(path string, ns []needle) ([]finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	var out []finding
	for off := int64(0); off < st.Size(); {
		data, hole, err := extent(f, off, st.Size())
		if err != nil {
			return nil, fmt.Errorf("seeking data in %s: %w", path, err)
		}
		if data < 0 {
			break
		}
		if _, err := f.Seek(data, io.SeekStart); err != nil {
			return nil, fmt.Errorf("seeking %s: %w", path, err)
		}
		found, err := scanReader(path, data, io.LimitReader(f, hole-data), ns)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
		off = hole
	}
	found, err := scanCompressed(path, f, st.Size(), ns)
	return append(out, found...), err
}

// extent returns the next data extent at or after off, data < 0 when
// there is none. A file system without SEEK_DATA is read whole.
func extent(f *os.File, off, size int64) (data, hole int64, err error) {
	data, err = f.Seek(off, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO):
		return -1, 0, nil
	case errors.Is(err, syscall.EINVAL):
		return off, size, nil
	case err != nil:
		return 0, 0, err
	}
	hole, err = f.Seek(data, seekHole)
	if err != nil {
		return off, size, nil
	}
	return data, hole, nil
}

// scanCompressed scans what a gzip file or zip archive holds.
func scanCompressed(path string, f *os.File, size int64, ns []needle) ([]finding, error) {
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, 0); err != nil {
		return nil, nil // shorter than any archive
	}
	switch {
	case magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(io.NewSectionReader(f, 0, size))
		if err != nil {
			return nil, nil // not really gzip
		}
		found, _ := scanReader(path+" (gunzip)", 0, zr, ns) // a truncated stream is still scanned up to its end
		return found, nil
	case bytes.Equal(magic, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(f, size)
		if err != nil {
			return nil, nil
		}
		var out []finding
		for _, e := range zr.File {
			rc, err := e.Open()
			if err != nil {
				return out, fmt.Errorf("opening %s in %s: %w", e.Name, path, err)
			}
			found, err := scanReader(path+" ["+e.Name+"]", 0, rc, ns)
			rc.Close()
			if err != nil {
				return out, err
			}
			out = append(out, found...)
		}
		return out, nil
	}
	return nil, nil
}

// scanTree scans every regular file under root; a missing root holds
// nothing.
func scanTree(root string, ns []needle) ([]finding, error) {
	var out []finding
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("walking %s: %w", p, err)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		found, err := scanFile(p, ns)
		out = append(out, found...)
		return err
	})
	return out, err
}
