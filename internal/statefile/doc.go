// Package statefile writes the toolkit's state.yaml (contract §2.3) for a
// freshly built disk, in the layout of each generation. The toolkit reads it
// back on upgrade and reset (the snapshotter type recorded here wins over the
// node's configuration), so the field names and nesting follow the toolkit's
// own yaml output exactly.
package statefile
