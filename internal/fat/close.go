package fat

import (
	"errors"
	"fmt"
	"strings"
)

// shortLabel is a volume label padded to 11 bytes.
type shortLabel [11]byte

// parseLabel upper-cases label and checks it fits a short name entry.
// The empty label becomes "NO NAME", as mkfs.fat writes it.
func parseLabel(label string) (shortLabel, error) {
	var l shortLabel
	copy(l[:], "NO NAME    ")
	if label == "" {
		return l, nil
	}
	up := strings.ToUpper(label)
	if len(up) > len(l) {
		return l, fmt.Errorf("volume label %q is longer than 11 characters", label)
	}
	for _, r := range up {
		if r < 0x20 || r >= 0x7F || strings.ContainsRune(`"*+,./:;<=>?[\]|`, r) {
			return l, fmt.Errorf("volume label %q contains %q", label, r)
		}
	}
	copy(l[:], "           ")
	copy(l[:], up)
	return l, nil
}

// Close lays out the directories, then writes them, both FATs and the boot
// sector (last, so that an interrupted write leaves no valid filesystem).
// All file writers must have been closed.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("closing FAT filesystem: already closed")
	}
	if w.open > 0 {
		return fmt.Errorf("closing FAT filesystem: %d files still open", w.open)
	}
	w.closed = true
	dirs := w.root.walkDirs(nil)
	for _, d := range dirs {
		if err := w.allocDir(d); err != nil {
			return fmt.Errorf("closing FAT filesystem: directory %s: %w", d.path(), err)
		}
	}
	for _, d := range dirs {
		if err := w.writeDir(d); err != nil {
			return fmt.Errorf("closing FAT filesystem: writing directory %s: %w", d.path(), err)
		}
	}
	if err := w.writeMetadata(); err != nil {
		return fmt.Errorf("closing FAT filesystem: %w", err)
	}
	return nil
}

// walkDirs lists directories in pre-order.
func (n *node) walkDirs(out []*node) []*node {
	out = append(out, n)
	for _, c := range n.children {
		if c.dir {
			out = c.walkDirs(out)
		}
	}
	return out
}

func (n *node) path() string {
	if n.parent == nil {
		return "/"
	}
	p := n.parent.path()
	if p == "/" {
		return "/" + n.name
	}
	return p + "/" + n.name
}

// slots counts the 32-byte entries of directory d.
func (w *Writer) slots(d *node) int64 {
	var n int64
	if d.parent == nil {
		if w.opts.Label != "" {
			n++
		}
	} else {
		n += 2 // "." and ".."
	}
	for _, c := range d.children {
		n++
		if c.lfn {
			n += int64(len(longNameSlots(c.name, c.short)))
		}
	}
	return n
}

// allocDir gives d enough clusters; the FAT12/16 root has a fixed region.
func (w *Writer) allocDir(d *node) error {
	slots := w.slots(d)
	if d.parent == nil && w.g.fatType != 32 {
		if slots > rootEntries {
			return fmt.Errorf("%w: root directory needs %d entries, has %d", ErrNoSpace, slots, rootEntries)
		}
		return nil
	}
	per := w.g.clusterSize / dirEntSize
	need := max(1, (slots+per-1)/per) - int64(len(d.chain))
	chain, err := w.alloc(need)
	if err != nil {
		return err
	}
	if len(d.chain) > 0 && len(chain) > 0 { // FAT32 root grows past cluster 2
		w.fat[d.chain[len(d.chain)-1]] = chain[0]
	}
	d.chain = append(d.chain, chain...)
	return nil
}

// encodeDir returns d's entries, zero-padded to its allocated size.
func (w *Writer) encodeDir(d *node) []byte {
	size := int64(len(d.chain)) * w.g.clusterSize
	if d.parent == nil && w.g.fatType != 32 {
		size = w.g.rootDirSecs * sectorSize
	}
	b := make([]byte, 0, size)
	if d.parent == nil {
		if w.opts.Label != "" {
			e := shortEntry(shortName(w.label), attrVolumeID, 0, 0, w.opts.Time)
			b = append(b, e[:]...)
		}
	} else {
		dot := shortEntry(shortName([]byte(".          ")), attrDirectory, d.first(), 0, d.mtime)
		dotdot := shortEntry(shortName([]byte("..         ")), attrDirectory, d.parent.dirCluster(), 0, d.parent.mtime)
		b = append(append(b, dot[:]...), dotdot[:]...)
	}
	for _, c := range d.children {
		if c.lfn {
			for _, s := range longNameSlots(c.name, c.short) {
				b = append(b, s[:]...)
			}
		}
		attr, size := byte(attrArchive), c.size
		if c.dir {
			attr, size = attrDirectory, 0
		}
		e := shortEntry(c.short, attr, c.first(), size, c.mtime)
		b = append(b, e[:]...)
	}
	return b[:size]
}

// dirCluster is the cluster a ".." entry names: 0 for the root.
func (n *node) dirCluster() uint32 {
	if n.parent == nil {
		return 0
	}
	return n.first()
}

func (w *Writer) writeDir(d *node) error {
	b := w.encodeDir(d)
	if d.parent == nil && w.g.fatType != 32 {
		off := (w.g.reserved + numFATs*w.g.fatSectors) * sectorSize
		_, err := w.w.WriteAt(b, off)
		return err
	}
	cs := w.g.clusterSize
	for i, c := range d.chain {
		if _, err := w.w.WriteAt(b[int64(i)*cs:int64(i+1)*cs], w.clusterOffset(c)); err != nil {
			return err
		}
	}
	return nil
}

// writeMetadata writes the FATs, then the reserved area with the boot
// sector (and FSInfo and backups on FAT32).
func (w *Writer) writeMetadata() error {
	fat := encodeFAT(w.g, w.fat)
	for i := range int64(numFATs) {
		off := (w.g.reserved + i*w.g.fatSectors) * sectorSize
		if _, err := w.w.WriteAt(fat, off); err != nil {
			return fmt.Errorf("writing FAT %d: %w", i+1, err)
		}
	}
	reserved := make([]byte, w.g.reserved*sectorSize)
	boot := bootSector(w.g, &w.opts, w.label)
	copy(reserved, boot)
	if w.g.fatType == 32 {
		free, next := uint32(int64(len(w.fat))-int64(w.next)), w.next
		if free == 0 {
			next = 0xFFFFFFFF // unknown, as the specification allows
		}
		info := fsInfo(free, next)
		copy(reserved[1*sectorSize:], info)
		copy(reserved[6*sectorSize:], boot)
		copy(reserved[7*sectorSize:], info)
	}
	if _, err := w.w.WriteAt(reserved, 0); err != nil {
		return fmt.Errorf("writing boot sector: %w", err)
	}
	return nil
}
