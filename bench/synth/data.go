package synth

import (
	"math/rand/v2"
)

// corpusSize is the length of the byte pool file contents are cut from.
const corpusSize = 4 << 20

// words make the compressible part of the pool look like text.
var words = []string{
	"elemental", "kernel", "module", "systemd", "service", "config", "partition", "snapshot",
	"recovery", "state", "persistent", "oem", "grub", "efi", "shim", "initrd", "the", "a", "of",
	"and", "to", "in", "is", "for", "on", "with", "as", "by", "this", "that", "from", "at",
	"usr", "lib", "share", "bin", "etc", "var", "opt", "locale", "python3", "perl", "firmware",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "=", "{", "}", "(", ")", ";", "\n", "\t",
}

// corpus returns the pool: 4 KiB pieces that are random bytes (35%),
// word text (45%) or zeros (20%), which gzip compresses by about 2×,
// roughly like a distribution's files.
func corpus(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	buf := make([]byte, corpusSize)
	for off := 0; off < len(buf); off += 4096 {
		piece := buf[off : off+4096]
		switch r := rng.IntN(100); {
		case r < 35:
			for i := 0; i+8 <= len(piece); i += 8 {
				v := rng.Uint64()
				for j := range 8 {
					piece[i+j] = byte(v >> (8 * j))
				}
			}
		case r < 80:
			n := 0
			for n < len(piece) {
				n += copy(piece[n:], words[rng.IntN(len(words))])
				if n < len(piece) {
					piece[n] = ' '
					n++
				}
			}
		}
	}
	return buf
}

// content streams n bytes of file data cut from the pool at offsets drawn
// from rng, in pieces of up to 256 KiB, to fn.
func content(pool []byte, rng *rand.Rand, n int64, fn func([]byte) error) error {
	for n > 0 {
		k := min(n, 256<<10)
		off := rng.IntN(len(pool) - int(k) + 1)
		if err := fn(pool[off : off+int(k)]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
