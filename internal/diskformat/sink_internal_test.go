package diskformat

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSinkHoles writes data and zero runs through a file sink and checks
// the bytes and that zero 4 KiB blocks became holes.
func TestSinkHoles(t *testing.T) {
	data := func(n int) []byte { return bytes.Repeat([]byte{0xab}, n) }
	zeros := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name      string
		writes    [][]byte // nil entries are sink.zero(8 KiB)
		wantData  int64    // bytes in data extents
		wantTotal int64
	}{
		{name: "data only", writes: [][]byte{data(10000)}, wantData: 12288, wantTotal: 10000},
		{name: "zero blocks inside a write", writes: [][]byte{append(append(data(4096), zeros(16384)...), data(100)...)},
			wantData: 8192, wantTotal: 20580},
		{name: "unaligned zeros stay data", writes: [][]byte{data(100), zeros(5000), data(10)}, wantData: 8192, wantTotal: 5110},
		{name: "explicit hole then trailing zeros", writes: [][]byte{data(4096), nil, zeros(8192)}, wantData: 4096, wantTotal: 20480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := newSink(f)
			var want []byte
			for _, w := range tt.writes {
				if w == nil {
					if err := s.zero(context.Background(), 8192); err != nil {
						t.Fatal(err)
					}
					want = append(want, zeros(8192)...)
					continue
				}
				if n, err := s.Write(w); err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v", n, err)
				}
				want = append(want, w...)
			}
			if err := s.finish(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || int64(len(got)) != tt.wantTotal {
				t.Fatalf("file holds %d bytes, want %d equal to what was written", len(got), tt.wantTotal)
			}
			exts, err := Extents(f)
			if err != nil {
				t.Fatal(err)
			}
			var d int64
			for _, e := range exts {
				if e.Data {
					d += alignUp(e.Length, 4096)
				}
			}
			if d != tt.wantData {
				t.Errorf("data extents cover %d bytes, want %d: %+v", d, tt.wantData, exts)
			}
		})
	}
}
