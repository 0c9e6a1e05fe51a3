package rootfs_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

func TestCounterSkipsZeroBlocks(t *testing.T) {
	c := &rootfs.Counter{}
	data := make([]byte, 10*4096+100) // 11 blocks, data in block 0 and the tail
	data[0] = 1
	data[len(data)-1] = 1
	w, err := c.Add(&rootfs.Entry{Path: "f", Type: rootfs.TypeReg, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	// Odd chunk sizes make sure blocks are counted across writes.
	for r := bytes.NewReader(data); r.Len() > 0; {
		chunk := make([]byte, 1000)
		n, _ := r.Read(chunk)
		w.Write(chunk[:n])
	}
	w.Close()
	if _, err := c.Add(&rootfs.Entry{Path: "d", Type: rootfs.TypeDir}); err != nil {
		t.Fatal(err)
	}
	s := c.Stats
	if s.DataBlocks != 2 || s.DataBytes != int64(len(data)) || s.Files != 1 || s.Dirs != 1 || s.Entries != 2 {
		t.Errorf("stats = %+v, want 2 data blocks of an 11-block file", s)
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "etc/passwd", "etc/passwd", true},
		{"dot slash", "./etc/", "etc", true},
		{"absolute", "/usr/bin/x", "usr/bin/x", true},
		{"root", "./", ".", true},
		{"climbs", "../x", "", false},
		{"climbs inside", "a/../../x", "", false},
		{"dotdot inside", "a/../b", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := rootfs.CleanPath(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CleanPath(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

type bufCloser struct{ *bytes.Buffer }

func (bufCloser) Close() error { return nil }

func sinkTo(buf *bytes.Buffer) rootfs.Sink {
	return rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) { return bufCloser{buf}, nil })
}

func TestTeeFansOutData(t *testing.T) {
	var a, b bytes.Buffer
	s := rootfs.Tee(sinkTo(&a), sinkTo(&b))
	w, err := s.Add(&rootfs.Entry{Path: "f", Type: rootfs.TypeReg, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hel"))
	w.Write([]byte("lo"))
	w.Close()
	if a.String() != "hello" || b.String() != "hello" {
		t.Errorf("tee wrote %q and %q", a.String(), b.String())
	}
}
