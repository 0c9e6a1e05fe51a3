// Package blockstream turns the scattered writes of the disk writers into
// a stream of whole fixed-size blocks, so a disk can go to the cloud (the
// EBS direct APIs take 512 KiB blocks) without ever existing as a local
// file.
//
// Why it exists: the installer's writers (internal/ext4, squashfs, fat,
// gpt) write through io.WriterAt at final offsets, file data in order as
// the layers stream through and each file system's tables at its Close.
// An Assembler buffers every block that has been written in part, hands
// a block on the moment its last byte is written, and at Close hands on
// what is left (blocks with holes, zero-filled). Measured on the default
// derivative and a 512 MiB synthetic one, no more than 26 blocks (13 MiB)
// were ever partly written at once, and no byte was written after its
// block was complete, so memory does not grow with the disk.
//
// A write into a block already handed on fails with ErrRewrite: the block
// may be in flight to the cloud, and sending it twice would race. The
// writers write every byte at most once, and their tests check it. No
// library fits: io.WriterAt-to-stream adapters elsewhere either buffer
// the whole output or need writes in order.
package blockstream
