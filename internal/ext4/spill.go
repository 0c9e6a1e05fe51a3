package ext4

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// spill is the writer's temporary file, which keeps the per-entry state
// off the heap until Close (issue 7: memory flat in the number of
// entries). It holds two things:
//
//   - from offset 0, an image of the inode table: a file's inode is
//     final when its writer closes (but for the link count, which Close
//     patches), so it is encoded then and stored at (ino-1)*inodeSize;
//     slots of directories, which stay in memory, are left as holes;
//   - from recBase, the directory records in arrival order, each with the
//     offset of the previous record of the same directory, so that Close
//     can read one directory's entries back without an index.
//
// The file is unlinked as soon as it is created, so nothing is left behind
// whatever happens to the writer; Close closes it.
type spill struct {
	f       *os.File
	name    string // set when the file could not be unlinked at once
	recBase int64
	recEnd  int64  // end of the records, rbuf included
	rbuf    []byte // records not written yet, ending at recEnd
	tbuf    []byte // encoded inodes not written yet, starting at toff
	toff    int64
	thigh   int64  // end of the highest inode range written to f
	win     []byte // read window over the records, starting at winOff
	winOff  int64
}

const (
	spillBuf  = 64 << 10
	winSize   = 16 << 10
	recHeader = 18 // prev int64, parent uint32, ino uint32, type, name length
)

// record is one directory entry as spilled.
type record struct {
	off, prev   int64
	parent, ino int64
	typ         uint8
	name        string
}

func newSpill(dir string, inodes int64) (*spill, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "ext4-spill-*")
	if err != nil {
		return nil, fmt.Errorf("creating the writer's temporary file: %w", err)
	}
	s := &spill{f: f, recBase: inodes * inodeSize}
	s.recEnd = s.recBase
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	return s, nil
}

// close closes and removes the file; it is safe to call twice.
func (s *spill) close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := s.f.Close()
	if s.name != "" {
		err = errors.Join(err, os.Remove(s.name))
	}
	s.f, s.rbuf, s.tbuf, s.win = nil, nil, nil, nil
	if err != nil {
		return fmt.Errorf("removing the writer's temporary file: %w", err)
	}
	return nil
}

// addRecord appends a directory record and returns its offset.
func (s *spill) addRecord(prev, parent, ino int64, typ uint8, name string) (int64, error) {
	if len(s.rbuf)+recHeader+len(name) > spillBuf {
		if err := s.flushRecords(); err != nil {
			return 0, err
		}
	}
	if s.rbuf == nil {
		s.rbuf = make([]byte, 0, spillBuf)
	}
	off := s.recEnd
	s.rbuf = le.AppendUint64(s.rbuf, uint64(prev))
	s.rbuf = le.AppendUint32(s.rbuf, uint32(parent))
	s.rbuf = le.AppendUint32(s.rbuf, uint32(ino))
	s.rbuf = append(s.rbuf, typ, uint8(len(name)))
	s.rbuf = append(s.rbuf, name...)
	s.recEnd += int64(recHeader + len(name))
	return off, nil
}

func (s *spill) flushRecords() error {
	if len(s.rbuf) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(s.rbuf, s.recEnd-int64(len(s.rbuf))); err != nil {
		return fmt.Errorf("writing directory records to the temporary file: %w", err)
	}
	s.rbuf = s.rbuf[:0]
	return nil
}

// putInode stores the encoded inode b of ino. Inodes mostly arrive in
// order, with the slots of directories and still-open files skipped:
// those gaps are buffered as zeros unless they may already hold inodes.
func (s *spill) putInode(ino int64, b []byte) error {
	off := (ino - 1) * inodeSize
	if n := len(s.tbuf); n > 0 {
		end := s.toff + int64(n)
		if off >= end && off+inodeSize-s.toff <= spillBuf && (off == end || s.toff >= s.thigh) {
			s.tbuf = s.tbuf[:off-s.toff]
			clear(s.tbuf[n:])
			s.tbuf = append(s.tbuf, b[:inodeSize]...)
			return nil
		}
		if err := s.flushInodes(); err != nil {
			return err
		}
	}
	if s.tbuf == nil {
		s.tbuf = make([]byte, 0, spillBuf)
	}
	s.toff = off
	s.tbuf = append(s.tbuf, b[:inodeSize]...)
	return nil
}

func (s *spill) flushInodes() error {
	if len(s.tbuf) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(s.tbuf, s.toff); err != nil {
		return fmt.Errorf("writing inodes to the temporary file: %w", err)
	}
	s.thigh = max(s.thigh, s.toff+int64(len(s.tbuf)))
	s.tbuf = s.tbuf[:0]
	return nil
}

func (s *spill) flush() error {
	return errors.Join(s.flushRecords(), s.flushInodes())
}

// readInodes fills b with the stored inode table from byte off; slots
// never written read as zeros. The buffers must have been flushed.
func (s *spill) readInodes(b []byte, off int64) error {
	n, err := s.f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading inodes from the temporary file: %w", err)
	}
	clear(b[n:])
	return nil
}

// record reads the record at off through a window, which serves the
// backwards walk along one directory's chain with few reads.
func (s *spill) record(off int64) (record, error) {
	if off < s.winOff || off+recHeader > s.winOff+int64(len(s.win)) ||
		off+recHeader+int64(s.win[off-s.winOff+recHeader-1]) > s.winOff+int64(len(s.win)) {
		if s.win == nil {
			s.win = make([]byte, winSize)
		}
		end := min(off+recHeader+255, s.recEnd)
		start := max(s.recBase, end-winSize)
		s.win = s.win[:cap(s.win)][:end-start]
		if _, err := s.f.ReadAt(s.win, start); err != nil {
			return record{}, fmt.Errorf("reading directory records from the temporary file: %w", err)
		}
		s.winOff = start
	}
	return parseRecord(off, s.win[off-s.winOff:])
}

func parseRecord(off int64, b []byte) (record, error) {
	if len(b) < recHeader || len(b) < recHeader+int(b[17]) {
		return record{}, fmt.Errorf("directory record at %d of the temporary file is truncated", off)
	}
	return record{
		off: off, prev: int64(le.Uint64(b)), parent: int64(le.Uint32(b[8:])), ino: int64(le.Uint32(b[12:])),
		typ: b[16], name: string(b[recHeader : recHeader+int(b[17])]),
	}, nil
}

// scan calls fn for every record in arrival order.
func (s *spill) scan(fn func(record) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, s.recBase, s.recEnd-s.recBase), spillBuf)
	b := make([]byte, recHeader+255)
	for off := s.recBase; off < s.recEnd; {
		if _, err := io.ReadFull(r, b[:recHeader]); err != nil {
			return fmt.Errorf("reading directory records from the temporary file: %w", err)
		}
		n := recHeader + int(b[17])
		if _, err := io.ReadFull(r, b[recHeader:n]); err != nil {
			return fmt.Errorf("reading directory records from the temporary file: %w", err)
		}
		rec, err := parseRecord(off, b[:n])
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}
