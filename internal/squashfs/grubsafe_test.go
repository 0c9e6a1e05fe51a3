package squashfs

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

// periodic repeats a random period of p bytes: every match of a deflate
// encoder is at distance p, so each block has a single distance code,
// which for p > 1 is the table GRUB refuses.
func periodic(n, p int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	period := make([]byte, p)
	for i := range period {
		period[i] = byte(r.IntN(256))
	}
	return bytes.Repeat(period, n/p+1)[:n]
}

func mixed(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, 0, n)
	for len(b) < n {
		switch r.IntN(3) {
		case 0:
			b = append(b, periodic(r.IntN(5000)+1, r.IntN(300)+1, r.Uint64())...)
		case 1:
			for range r.IntN(3000) {
				b = append(b, byte('a'+r.IntN(6)))
			}
		default:
			for range r.IntN(2000) {
				b = append(b, byte(r.IntN(256)))
			}
		}
	}
	return b[:n]
}

func deflateWith(t *testing.T, std bool, level int, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	if std {
		w, err = stdflate.NewWriter(&buf, level)
	} else {
		w, err = flate.NewWriter(&buf, level)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGRUBSafeMatchesReference runs grubSafe and the independent puff-style
// walker of grubsafe_ref_test.go over streams of both encoders at several
// levels and requires the same verdict, and both verdicts where the table
// GRUB refuses is known to be present or absent.
func TestGRUBSafeMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{name: "one byte value", data: bytes.Repeat([]byte{'a'}, 100_000)},
		{name: "period 3", data: periodic(100_000, 3, 1)},
		{name: "period 1000", data: periodic(200_000, 1000, 2)},
		{name: "text", data: bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 3000)},
		{name: "random", data: periodic(70_000, 70_000, 3)},
		{name: "mixed", data: mixed(1<<20, 4)},
		{name: "short", data: []byte("x")},
	}
	verdicts := map[bool]int{}
	var c deflateChecker
	for _, tc := range tests {
		for _, enc := range []struct {
			name   string
			std    bool
			levels []int
		}{
			{name: "std", std: true, levels: []int{1, 6, 9}},
			{name: "klauspost", levels: []int{flate.HuffmanOnly, 1, 2, 5, 9}},
		} {
			for _, level := range enc.levels {
				s := deflateWith(t, enc.std, level, tc.data)
				msg, err := refCheck(s)
				if err != nil {
					t.Fatalf("%s %s level %d: reference walker: %v", tc.name, enc.name, level, err)
				}
				got := c.grubSafe(s)
				if got != (msg == "") {
					t.Errorf("%s %s level %d: grubSafe = %v, reference says %q", tc.name, enc.name, level, got, msg)
				}
				verdicts[got]++
			}
		}
	}
	// The data must exercise both verdicts.
	if verdicts[true] == 0 || verdicts[false] == 0 {
		t.Errorf("verdicts %v: want both safe and unsafe streams", verdicts)
	}
	// Huffman-only streams, the compressor's fallback, are always safe.
	for _, tc := range tests {
		if s := deflateWith(t, false, flate.HuffmanOnly, tc.data); !c.grubSafe(s) {
			t.Errorf("%s: Huffman-only stream is not GRUB-safe", tc.name)
		}
	}
}

// TestGRUBSafeMalformed feeds truncated and corrupted streams: grubSafe
// must not panic, and accept only what the reference walker accepts.
func TestGRUBSafeMalformed(t *testing.T) {
	var c deflateChecker
	s := deflateWith(t, false, 2, mixed(40_000, 5))
	if !c.grubSafe(s) && refCheckOK(s) {
		t.Fatal("grubSafe refuses a stream the reference accepts")
	}
	r := rand.New(rand.NewPCG(6, 6))
	for i := range 150 {
		b := bytes.Clone(s)
		switch i % 3 {
		case 0:
			b = b[:r.IntN(len(b))]
		case 1:
			b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
		default:
			b = b[:r.IntN(200)]
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
		}
		if c.grubSafe(b) && !refCheckOK(b) {
			msg, err := refCheck(b)
			t.Errorf("case %d: grubSafe accepts a stream the reference refuses: %q %v", i, msg, err)
		}
	}
}

func refCheckOK(b []byte) bool {
	msg, err := refCheck(b)
	return err == nil && msg == ""
}

// TestZlibCompressorIsGRUBSafe compresses blocks that trip every encoder
// and checks that the compressor returns GRUB-safe zlib streams that
// inflate back to the input, or stores the block.
func TestZlibCompressorIsGRUBSafe(t *testing.T) {
	c, err := newDataCompressor(Gzip, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, src := range [][]byte{periodic(1<<20, 3, 7), periodic(1<<20, 1000, 8), mixed(1<<20, 9), periodic(1<<16, 1<<16, 10)} {
		out, ok, err := c.compress(make([]byte, 0, len(src)), src)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if i < 3 {
				t.Errorf("block %d: stored, want compressed", i)
			}
			continue
		}
		if msg, err := refCheck(out[2 : len(out)-4]); msg != "" || err != nil {
			t.Errorf("block %d: GRUB would refuse it: %s %v", i, msg, err)
		}
		zr, err := zlib.NewReader(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("block %d: does not inflate back: %v", i, err)
		}
	}
}
