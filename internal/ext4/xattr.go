package ext4

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

const (
	xattrMagic = 0xEA020000
	// inodeXattrSpace is what a 256-byte inode with extra_isize 32 has
	// for attributes after the 4-byte magic.
	inodeXattrSpace = inodeSize - 128 - extraIsize - 4
	maxXattrRefs    = 1024 // the kernel's EXT4_XATTR_REFCOUNT_MAX
)

// xattr is one extended attribute with its name split into the on-disk
// prefix index and suffix.
type xattr struct {
	index uint8
	name  string
	value []byte
}

var xattrPrefixes = []struct {
	prefix string
	index  uint8
	exact  bool
}{
	{"system.posix_acl_access", 2, true},
	{"system.posix_acl_default", 3, true},
	{"system.richacl", 8, true},
	{"user.", 1, false},
	{"trusted.", 4, false},
	{"security.", 6, false},
	{"system.", 7, false},
}

// parseXattrs turns e's attributes into on-disk order (index, name length,
// name), converting POSIX ACLs to the ext4 disk format.
func parseXattrs(e *rootfs.Entry) ([]xattr, error) {
	var out []xattr
	for _, full := range e.XattrNames() {
		x, err := parseXattr(full, e.Xattrs[full])
		if err != nil {
			return nil, fmt.Errorf("xattr %q of %q: %w", full, e.Path, err)
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b xattr) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(len(a.name), len(b.name)), strings.Compare(a.name, b.name))
	})
	return out, nil
}

func parseXattr(full string, value []byte) (xattr, error) {
	for _, p := range xattrPrefixes {
		if p.exact && full == p.prefix {
			v := bytes.Clone(value)
			if p.index == 2 || p.index == 3 {
				var err error
				if v, err = aclToDisk(value); err != nil {
					return xattr{}, err
				}
			}
			return xattr{index: p.index, value: v}, nil
		}
		if !p.exact && strings.HasPrefix(full, p.prefix) {
			name := full[len(p.prefix):]
			if name == "" || len(name) > 255 {
				return xattr{}, fmt.Errorf("bad name length %d", len(name))
			}
			// Copied: the Sink contract forbids keeping the caller's arrays.
			return xattr{index: p.index, name: name, value: bytes.Clone(value)}, nil
		}
	}
	return xattr{}, fmt.Errorf("unsupported namespace")
}

// aclToDisk converts a POSIX ACL from the xattr format (version 2, 8-byte
// entries) to ext4's disk format (version 1, 4-byte entries for the
// *_OBJ, MASK and OTHER tags).
func aclToDisk(v []byte) ([]byte, error) {
	if len(v) < 4 || (len(v)-4)%8 != 0 || le.Uint32(v) != 2 {
		return nil, fmt.Errorf("malformed posix acl")
	}
	out := le.AppendUint32(nil, 1)
	for p := v[4:]; len(p) > 0; p = p[8:] {
		tag := le.Uint16(p)
		out = append(out, p[:4]...)
		switch tag {
		case 0x02, 0x08: // ACL_USER, ACL_GROUP
			out = append(out, p[4:8]...)
		case 0x01, 0x04, 0x10, 0x20:
		default:
			return nil, fmt.Errorf("unknown posix acl tag %#x", tag)
		}
	}
	return out, nil
}

func xattrEntryLen(x xattr) int { return (len(x.name) + 16 + 3) &^ 3 }
func xattrValueLen(x xattr) int { return (len(x.value) + 3) &^ 3 }

// xattrsLen is the room xs need: entries, the 4-byte terminator, values.
func xattrsLen(xs []xattr) int {
	n := 4
	for _, x := range xs {
		n += xattrEntryLen(x) + xattrValueLen(x)
	}
	return n
}

func xattrHash(x xattr) uint32 {
	var h uint32
	for i := 0; i < len(x.name); i++ {
		h = h<<5 ^ h>>27 ^ uint32(x.name[i])
	}
	for i := 0; i < len(x.value); i += 4 {
		var w [4]byte
		copy(w[:], x.value[i:])
		h = h<<16 ^ h>>16 ^ le.Uint32(w[:])
	}
	return h
}

// encodeXattrs lays xs out in b: entries from entryOff upwards, values
// from the end of b downwards, value offsets relative to base. It returns
// the combined entry hash used for attribute blocks.
func encodeXattrs(b []byte, entryOff, base int, xs []xattr) uint32 {
	p, vend := entryOff, len(b)
	var blockHash uint32
	for _, x := range xs {
		vend -= xattrValueLen(x)
		copy(b[vend:], x.value)
		h := xattrHash(x)
		b[p] = uint8(len(x.name))
		b[p+1] = x.index
		if len(x.value) > 0 {
			le.PutUint16(b[p+2:], uint16(vend-base))
		}
		le.PutUint32(b[p+8:], uint32(len(x.value)))
		le.PutUint32(b[p+12:], h)
		copy(b[p+16:], x.name)
		p += xattrEntryLen(x)
		blockHash = blockHash<<16 ^ blockHash>>16 ^ h
	}
	return blockHash
}

// xattrBlock returns the contents of an attribute block holding xs with a
// zero reference count.
func xattrBlock(xs []xattr, bs int) []byte {
	b := make([]byte, bs)
	le.PutUint32(b[0:], xattrMagic)
	le.PutUint32(b[8:], 1)
	le.PutUint32(b[12:], encodeXattrs(b, 32, 0, xs))
	return b
}
