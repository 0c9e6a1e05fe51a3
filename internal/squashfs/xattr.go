package squashfs

import (
	"fmt"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// xattrPrefixes are the namespaces squashfs 4.0 can store, with their
// on-disk type numbers.
var xattrPrefixes = [...]string{"user.", "trusted.", "security."}

// xattrID is one entry of the xattr id table: where an inode's key/value
// pairs start, how many there are and how many bytes they take.
type xattrID struct {
	ref   uint64
	count uint32
	size  uint32
}

// xattrTable gathers the xattr key/value metadata as entries arrive.
// Identical sets share one id.
type xattrTable struct {
	kv   *metaWriter
	ids  []xattrID
	seen map[string]uint32
}

// add records e's xattrs and returns their id, or noXattr.
func (t *xattrTable) add(e *rootfs.Entry) (uint32, error) {
	if len(e.Xattrs) == 0 {
		return noXattr, nil
	}
	var rec le
	var count uint32
	for _, name := range e.XattrNames() {
		typ, short := xattrType(name)
		if typ < 0 {
			continue // a namespace squashfs cannot express
		}
		if short == "" || len(short) > 0xFFFF {
			return 0, fmt.Errorf("xattr %q: bad name length", name)
		}
		v := e.Xattrs[name]
		rec = rec.u16(uint16(typ)).u16(uint16(len(short))).str(short)
		rec = rec.u32(uint32(len(v)))
		rec = append(rec, v...)
		count++
	}
	if count == 0 {
		return noXattr, nil
	}
	if id, ok := t.seen[string(rec)]; ok {
		return id, nil
	}
	if len(t.ids) == noXattr {
		return 0, fmt.Errorf("too many distinct xattr sets")
	}
	id := uint32(len(t.ids))
	t.ids = append(t.ids, xattrID{ref: t.kv.ref(), count: count, size: uint32(len(rec))})
	if _, err := t.kv.Write(rec); err != nil {
		return 0, err
	}
	t.seen[string(rec)] = id
	return id, nil
}

func xattrType(name string) (int, string) {
	for i, p := range xattrPrefixes {
		if s, ok := strings.CutPrefix(name, p); ok {
			return i, s
		}
	}
	return -1, ""
}
