package derivative

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// cpioEntry is one initrd member. Exactly one of data (regular file) or
// link (symlink) is used, or neither for directories and device nodes.
type cpioEntry struct {
	name         string // no leading slash
	mode         uint32 // type bits and permissions, as in stat(2)
	data         []byte
	link         string
	major, minor uint32 // device nodes
}

const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioLink = 0o120000
	cpioChr  = 0o020000
)

// writeCpio writes the entries as a "newc" archive, the format the kernel
// unpacks into the initramfs. Entries are sorted by name (parents first),
// owned by root, numbered in order and stamped with mtime, so equal inputs
// give equal bytes.
func writeCpio(w io.Writer, entries []cpioEntry, mtime int64) error {
	sorted := append([]cpioEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for i, e := range sorted {
		if strings.HasPrefix(e.name, "/") || e.name == "" {
			return fmt.Errorf("cpio entry %q: name must be relative", e.name)
		}
		body := e.data
		if e.mode&0o170000 == cpioLink {
			body = []byte(e.link)
		}
		nlink := 1
		if e.mode&0o170000 == cpioDir {
			nlink = 2
		}
		if err := writeCpioRecord(w, uint32(i+1), e, nlink, mtime, body); err != nil {
			return fmt.Errorf("writing cpio entry %s: %w", e.name, err)
		}
	}
	trailer := cpioEntry{name: "TRAILER!!!"}
	return writeCpioRecord(w, 0, trailer, 1, 0, nil)
}

func writeCpioRecord(w io.Writer, ino uint32, e cpioEntry, nlink int, mtime int64, body []byte) error {
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, e.mode, 0, 0, nlink, mtime, len(body), 0, 0, e.major, e.minor, len(e.name)+1, 0)
	if _, err := io.WriteString(w, hdr+e.name+"\x00"+pad4(len(hdr)+len(e.name)+1)); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	_, err := io.WriteString(w, pad4(len(body)))
	return err
}

// pad4 is the NUL padding that brings n up to a multiple of four.
func pad4(n int) string { return strings.Repeat("\x00", (4-n%4)%4) }
