package gcpemu

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// ErrBadArchive marks an image archive that GCE would refuse.
var ErrBadArchive = errors.New("invalid image archive")

// oldGNUMagic is the magic and version of a GNU "oldgnu" tar header
// (offset 257): "ustar  \x00". POSIX ustar has "ustar\x0000" instead.
var oldGNUMagic = []byte("ustar  \x00")

const (
	tarBlock   = 512
	magicOff   = 257
	gib        = int64(1) << 30
	diskMember = "disk.raw"
)

// ArchiveInfo describes a valid image archive.
type ArchiveInfo struct {
	// DiskSize is disk.raw's size in bytes, a whole number of GiB.
	DiskSize int64
	// DiskDigest is DigestDisk of disk.raw's contents.
	DiskDigest string
	// ArchiveSize is the size of the tar.gz object, set by images.insert.
	ArchiveSize int64
}

// CheckArchive reads a GCE image archive to its end and checks what
// images.insert requires: gzip, a single member named disk.raw, in oldgnu
// format, whose size is a whole number of GiB, and intact gzip and tar
// framing. Errors wrap ErrBadArchive.
func CheckArchive(r io.Reader) (ArchiveInfo, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("%w: not gzip: %v", ErrBadArchive, err)
	}
	defer zr.Close()
	first := make([]byte, tarBlock)
	if _, err := io.ReadFull(zr, first); err != nil {
		return ArchiveInfo{}, fmt.Errorf("%w: reading first tar header: %v", ErrBadArchive, err)
	}
	if name := string(bytes.TrimRight(first[:100], "\x00")); name != diskMember {
		return ArchiveInfo{}, fmt.Errorf("%w: first member is %q, want %q", ErrBadArchive, name, diskMember)
	}
	if magic := first[magicOff : magicOff+len(oldGNUMagic)]; !bytes.Equal(magic, oldGNUMagic) {
		return ArchiveInfo{}, fmt.Errorf("%w: tar magic %q is not oldgnu %q", ErrBadArchive, magic, oldGNUMagic)
	}
	tr := tar.NewReader(io.MultiReader(bytes.NewReader(first), zr))
	hdr, err := tr.Next()
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("%w: reading tar header: %v", ErrBadArchive, err)
	}
	if hdr.Size <= 0 || hdr.Size%gib != 0 {
		return ArchiveInfo{}, fmt.Errorf("%w: %s is %d bytes, not a whole number of GiB", ErrBadArchive, diskMember, hdr.Size)
	}
	digest, n, err := DigestDisk(tr)
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("%w: reading %s: %v", ErrBadArchive, diskMember, err)
	}
	if n != hdr.Size {
		return ArchiveInfo{}, fmt.Errorf("%w: %s has %d of %d bytes", ErrBadArchive, diskMember, n, hdr.Size)
	}
	if next, err := tr.Next(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected member %q", next.Name)
		}
		return ArchiveInfo{}, fmt.Errorf("%w: after %s: %v", ErrBadArchive, diskMember, err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return ArchiveInfo{}, fmt.Errorf("%w: reading gzip trailer: %v", ErrBadArchive, err)
	}
	return ArchiveInfo{DiskSize: hdr.Size, DiskDigest: digest}, nil
}

const digestBlock = 64 << 10

// DigestDisk reads a disk image to its end and returns its size and a
// hex SHA-256 over (big-endian 8-byte offset, block) for every 64 KiB
// block that is not all zeros. For images of the same size it identifies
// the contents as a plain SHA-256 would, but skips the zeros that make up
// most of a sparse disk, so a 1 GiB disk.raw is checked in milliseconds.
func DigestDisk(r io.Reader) (string, int64, error) {
	h := sha256.New()
	buf := make([]byte, digestBlock)
	var off [8]byte
	var n int64
	for {
		m, err := io.ReadFull(r, buf)
		if m > 0 && !allZero(buf[:m]) {
			binary.BigEndian.PutUint64(off[:], uint64(n))
			h.Write(off[:])
			h.Write(buf[:m])
		}
		n += int64(m)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return hex.EncodeToString(h.Sum(nil)), n, nil
		}
		if err != nil {
			return "", n, err
		}
	}
}

var zeroBlock = make([]byte, digestBlock)

func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }
