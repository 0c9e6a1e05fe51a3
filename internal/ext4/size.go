package ext4

import "github.com/elemental-suite/elemental/internal/rootfs"

// MinSize returns the smallest filesystem size (bytes, whole blocks) that
// surely holds a tree with statistics s. The bound is generous: every
// file's data counted in full (sparse files too), worst-case block maps,
// a partly empty block per directory, one attribute block per inode that
// might need one, mke2fs' journal size, and room for directories created
// implicitly. With opts.Inodes left 0 the inode count follows the size, so
// trees of many tiny files get a larger size than with Inodes set.
func MinSize(s rootfs.Stats, opts Options) int64 {
	o, _ := opts.normalize()
	bs := int64(o.BlockSize)
	need := blocksNeeded(s, o)
	inodes := s.Entries - s.Hardlinks + firstIno + 16
	size := (need + need/16 + 256) * bs
	if o.Journal {
		// Below 2048 blocks the layout has no room for a journal at all.
		size = max(size, 2048*bs)
	}
	for range 200 {
		l, err := newLayout(size, o)
		if err == nil && l.blocks*bs == size {
			var free int64
			for _, e := range l.free() {
				free += e.n
			}
			if o.Journal {
				free -= journalBlocks(l.blocks)
			}
			enoughInodes := l.inodes() >= inodes || (o.Inodes != 0 && o.Inodes < inodes)
			if free >= need && enoughInodes {
				return size
			}
		} else if err == nil {
			size = l.blocks * bs // trimmed to whole groups: retry as is
		}
		size = (size + max(size/32, 64*bs) + bs - 1) / bs * bs
	}
	return size
}

// blocksNeeded bounds the blocks that data and per-file metadata take.
func blocksNeeded(s rootfs.Stats, o Options) int64 {
	bs := int64(o.BlockSize)
	q := bs / 4
	data := s.DataBlocks * (4096 / bs)
	mapping := func(blocks, files int64) int64 {
		if o.ext4() {
			return blocks/((bs-12)/12-2) + 64
		}
		return 3*blocks/q + min(files, blocks/13) + 3
	}
	dirs := s.Dirs + 2 + s.Entries/64 // implicit parents the stream may lack
	dirBytes := 12*s.Entries + s.NameBytes + 24*dirs
	dirBlocks := dirBytes/(bs-264) + dirs + 16384/bs
	slow := min(s.Symlinks, s.SymlinkBytes/60)
	xattr := min(s.Entries, s.XattrBytes/6)
	if o.ext4() {
		xattr = min(s.Entries, s.XattrBytes/24)
	}
	total := data + mapping(data, s.Files) + dirBlocks + mapping(dirBlocks, dirs) + slow + xattr
	return total + total/100 + 64
}
