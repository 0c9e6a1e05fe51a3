package oci

import (
	"errors"
	"hash/maphash"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// The flattener needs, for every path a layer mentions, what the layers
// above said about it, for the whole walk. A map from path strings costs
// ~140 bytes per entry (the string, its header, the map slot); pathTree
// keeps the same facts in ~40: each path is a node (parent, element name)
// in fixed-size chunks, element names live in a byte arena, and an
// open-addressing table of node numbers finds a child by (parent, name).
// Chunks never move, so growing costs no copy but the table's.

const (
	nodeChunkBits = 12
	nodeChunk     = 1 << nodeChunkBits
	nameChunkBits = 16
	nameChunk     = 1 << nameChunkBits
	// maxTreeLayers is the most layers a node's uint16 layer fields
	// (layer number + 1, 0 for none) can hold.
	maxTreeLayers = 1<<16 - 1
	rootNode      = 0
)

var (
	// errTreeFull is returned once the tree would need more than 2^32
	// nodes or 4 GiB of names, far beyond what any writer downstream can
	// hold.
	errTreeFull = errors.New("too many paths in the image")
	// errTooManyLayers: layer numbers are kept in 16 bits.
	errTooManyLayers = errors.New("more than 65535 layers")
)

// node is one path, in 12 bytes.
type node struct {
	parent uint32
	name   uint32 // nameChunk number << nameChunkBits | offset
	// layer is a layer number + 1: with flagSeen, the layer of the entry
	// delivered (or, for hardlinks, pending) at this path; else, with
	// flagParent, the topmost layer in which the path was the parent of
	// an entry, i.e. a directory. Nothing asks the latter once the path
	// has an entry of its own.
	layer   uint16
	nameLen uint8 // elements are at most 255 bytes (checkElements)
	// bits holds the entry's rootfs.Type (typeMask) and the flags.
	bits uint8
}

const (
	typeMask   = 0x0f
	flagSeen   = 0x10
	flagParent = 0x20
)

// seen returns the layer + 1 of the entry at this path, 0 if none.
func (n *node) seen() int {
	if n.bits&flagSeen == 0 {
		return 0
	}
	return int(n.layer)
}

// typ is the type of the entry at this path, if seen.
func (n *node) typ() rootfs.Type { return rootfs.Type(n.bits & typeMask) }

// parentOf returns the layer + 1 in which the path first was a parent, 0
// if never; valid only while the path has no entry (seen is 0).
func (n *node) parentOf() int {
	if n.bits&flagParent == 0 {
		return 0
	}
	return int(n.layer)
}

// setSeen records the entry of type typ that layer (+ 1) delivers here.
func (n *node) setSeen(layer int, typ rootfs.Type) {
	n.layer, n.bits = uint16(layer), uint8(typ)&typeMask|flagSeen|n.bits&flagParent
}

// setParent records that layer (+ 1) has entries below this path, unless
// one above it had; it reports whether the flag was new.
func (n *node) setParent(layer int) bool {
	if n.bits&flagParent != 0 {
		return false
	}
	if n.bits&flagSeen == 0 {
		n.layer = uint16(layer)
	}
	n.bits |= flagParent
	return true
}

type pathTree struct {
	seed  maphash.Seed
	nodes []*[nodeChunk]node
	n     uint32 // nodes in use, the root included
	names [][]byte
	// index holds node numbers (0: empty slot; the root is never in it).
	index []uint32
}

func newPathTree() *pathTree {
	t := &pathTree{seed: maphash.MakeSeed(), index: make([]uint32, 1024)}
	t.nodes = append(t.nodes, new([nodeChunk]node))
	t.n = 1 // the root, ".": parent of itself, no name
	return t
}

func (t *pathTree) node(id uint32) *node {
	return &t.nodes[id>>nodeChunkBits][id&(nodeChunk-1)]
}

func (t *pathTree) name(n *node) []byte {
	c, off := n.name>>nameChunkBits, n.name&(nameChunk-1)
	return t.names[c][off : off+uint32(n.nameLen)]
}

func (t *pathTree) slot(parent uint32, name string) uint64 {
	h := maphash.String(t.seed, name) ^ uint64(parent)*0x9e3779b97f4a7c15
	return h * 0xff51afd7ed558ccd
}

// child returns the node named name under parent.
func (t *pathTree) child(parent uint32, name string) (uint32, bool) {
	if len(name) > 255 {
		return 0, false
	}
	mask := uint64(len(t.index) - 1)
	for i := t.slot(parent, name) >> 32 & mask; ; i = (i + 1) & mask {
		id := t.index[i]
		if id == 0 {
			return 0, false
		}
		if n := t.node(id); n.parent == parent && int(n.nameLen) == len(name) && string(t.name(n)) == name {
			return id, true
		}
	}
}

// add creates the node name under parent, which must not exist yet.
func (t *pathTree) add(parent uint32, name string) (uint32, error) {
	if t.n == 1<<32-1 || len(name) > 255 || len(name) == 0 {
		return 0, errTreeFull
	}
	last := len(t.names) - 1
	if last < 0 || len(t.names[last])+len(name) > nameChunk {
		if len(t.names) == 1<<(32-nameChunkBits) {
			return 0, errTreeFull
		}
		t.names = append(t.names, make([]byte, 0, nameChunk))
		last++
	}
	off := uint32(last)<<nameChunkBits | uint32(len(t.names[last]))
	t.names[last] = append(t.names[last], name...)
	if uint64(t.n)*4 > uint64(len(t.index))*3 {
		t.grow()
	}
	id := t.n
	if id&(nodeChunk-1) == 0 {
		t.nodes = append(t.nodes, new([nodeChunk]node))
	}
	t.n++
	*t.node(id) = node{parent: parent, name: off, nameLen: uint8(len(name))}
	t.insert(id)
	return id, nil
}

func (t *pathTree) insert(id uint32) {
	n := t.node(id)
	mask := uint64(len(t.index) - 1)
	i := t.slot(n.parent, string(t.name(n))) >> 32 & mask
	for t.index[i] != 0 {
		i = (i + 1) & mask
	}
	t.index[i] = id
}

func (t *pathTree) grow() {
	t.index = make([]uint32, 2*len(t.index))
	for id := uint32(1); id < t.n; id++ {
		t.insert(id)
	}
}

// walk appends to chain the root and the node of each leading element of
// p that the tree holds, stopping at the first it does not. p is clean
// (rootfs.CleanPath); p == "." is the root alone. The last element is p's
// own node when len(chain) == depth(p)+1.
func (t *pathTree) walk(p string, chain []uint32) []uint32 {
	chain = append(chain, rootNode)
	if p == "." {
		return chain
	}
	id := uint32(rootNode)
	for rest := p; ; {
		el, tail, more := strings.Cut(rest, "/")
		c, ok := t.child(id, el)
		if !ok {
			return chain
		}
		chain, id, rest = append(chain, c), c, tail
		if !more {
			return chain
		}
	}
}

// extend creates the nodes of p that chain, walk's answer for p, lacks
// and returns the chain of p whole.
func (t *pathTree) extend(p string, chain []uint32) ([]uint32, error) {
	if p == "." {
		return chain, nil
	}
	rest := p
	for range len(chain) - 1 {
		_, rest, _ = strings.Cut(rest, "/")
	}
	for rest != "" {
		el, tail, _ := strings.Cut(rest, "/")
		c, err := t.add(chain[len(chain)-1], el)
		if err != nil {
			return chain, err
		}
		chain, rest = append(chain, c), tail
	}
	return chain, nil
}

// depth is the number of elements of a clean path ("." has none).
func depth(p string) int {
	if p == "." {
		return 0
	}
	return strings.Count(p, "/") + 1
}
