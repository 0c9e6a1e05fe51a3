// Package layout plans an Elemental disk as data before anything is
// written: which partitions exist, in which order, with which GPT name,
// filesystem label and type, and at which byte offsets (contract §1, §7).
// Keeping the plan separate from the writers means sizes are checked, and
// every size problem reported, before a single byte reaches the output.
package layout
