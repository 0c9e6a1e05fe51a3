package diskformat

import (
	"errors"
	"os"
	"syscall"
)

// Linux lseek whence values; syscall does not name them.
const (
	seekData = 3
	seekHole = 4
)

// dataRanges lists the data ranges of f with SEEK_DATA/SEEK_HOLE. When the
// file system does not support them the whole file is data. The file
// offset is restored.
func dataRanges(f *os.File, size int64) ([]Extent, error) {
	fd := int(f.Fd())
	cur, err := syscall.Seek(fd, 0, 1)
	if err != nil {
		return nil, err
	}
	out, err := seekRanges(fd, size)
	if _, serr := syscall.Seek(fd, cur, 0); err == nil && serr != nil {
		return nil, serr
	}
	return out, err
}

func seekRanges(fd int, size int64) ([]Extent, error) {
	var out []Extent
	for pos := int64(0); pos < size; {
		start, err := syscall.Seek(fd, pos, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break // no data at or after pos
		}
		if errors.Is(err, syscall.EINVAL) && pos == 0 {
			return []Extent{{Offset: 0, Length: size, Data: true}}, nil
		}
		if err != nil {
			return nil, err
		}
		end, err := syscall.Seek(fd, start, seekHole)
		if err != nil {
			return nil, err
		}
		if end > size {
			end = size
		}
		if end <= start {
			break
		}
		out = append(out, Extent{Offset: start, Length: end - start, Data: true})
		pos = end
	}
	return out, nil
}
