package diskformat_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// span is a run written into a fixture: random bytes, or zeros written
// explicitly (allocated, so a data extent that reads as zero).
type span struct {
	off, n int64
	zero   bool
	text   bool // compressible log-like lines instead of random bytes
}

// bigSize is 3 GiB apparent, not MiB aligned (a multiple of 512).
const bigSize = 3*gib - mib + 1536

// bigSpans puts data at awkward places: the first sector, cluster, GT,
// L2-table and refcount-block boundaries, unaligned ends, explicit zeros
// and the very last byte.
func bigSpans() []span {
	return []span{
		{off: 0, n: mib + 100},
		{off: 7*mib - 3000, n: 10000},
		{off: 32*mib - 512, n: 1024},
		{off: 100 * mib, n: 256 * kib, zero: true},
		{off: 512*mib - 70000, n: 200000},
		{off: gib + 12345, n: 8 * mib},
		{off: 2*gib - 4096, n: 8192},
		{off: bigSize - 1, n: 1},
	}
}

// makeRaw writes a sparse fixture of size bytes with the given spans of
// seeded random content and returns its path.
func makeRaw(t testing.TB, dir string, size int64, spans []span, seed uint64) string {
	t.Helper()
	path := filepath.Join(dir, "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, s := range spans {
		b := make([]byte, s.n)
		switch {
		case s.text:
			fillText(b, rng)
		case !s.zero:
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
		}
		if _, err := f.WriteAt(b, s.off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// manySpans makes n short runs 48 KiB apart, enough to need tar sparse
// extension headers.
func manySpans(n int) []span {
	var out []span
	for i := range int64(n) {
		out = append(out, span{off: i*48*kib + 1000, n: 5000})
	}
	return out
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipping: -short set; needs %s", name)
	}
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("skipping: needs %s: %v", name, err)
	}
}

// run runs a verification tool and returns its combined output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// countdownCtx reports cancellation after its first n Err calls, so a
// conversion is cancelled part-way through, deterministically.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func newCountdown(n int64) *countdownCtx {
	c := &countdownCtx{Context: context.Background()}
	c.left.Store(n)
	return c
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }

// fillText fills b with log-like lines that deflate to about a quarter.
func fillText(b []byte, rng *rand.Rand) {
	var line []byte
	for i := 0; i < len(b); i += copy(b[i:], line) {
		line = fmt.Appendf(line[:0], "%08d kernel: eth%d link up %d Mbps id=%x\n",
			i, rng.IntN(4), 10<<rng.IntN(4), rng.Uint32())
	}
}
