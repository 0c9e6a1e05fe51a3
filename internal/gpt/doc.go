// Package gpt writes and reads GUID partition tables: a protective MBR in
// LBA 0, the primary header and its 128-entry array after it, and the
// backup array and header at the end of the disk, with their CRC32s, as
// UEFI 2.10 §5.2–5.3 describes.
//
// It exists instead of go-diskfs's partition/gpt because the disk builder
// needs a table it can plan as plain data and write reproducibly:
// go-diskfs keeps GUIDs as strings and invents random ones when they are
// empty, and tells sectors from bytes only in comments. Here every GUID is
// a uuid.UUID that the caller chooses (GUIDFromSeed derives them from a
// seed and a label), sector numbers have their own type (LBA), and a Table
// is validated as a whole before a byte is written. The same Table is read
// back by tests and by the first-boot tool that grows the last partition
// (ResizeLast), which is why Read exists.
package gpt
