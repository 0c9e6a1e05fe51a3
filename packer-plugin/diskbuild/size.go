package diskbuild

import (
	"fmt"
	"strconv"
	"strings"
)

// MiB is the unit of a size given without a suffix.
const MiB = 1 << 20

// ParseSize reads a size as Packer builders write them: a whole number with
// an optional binary suffix K, M, G or T (also written Ki/KiB/KB…, all
// powers of 1024); a bare number is MiB, as in the qemu builder's
// disk_size. The empty string is 0 (automatic).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a whole number of MiB or a number with a K, M, G or T suffix", s)
	}
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	shift := map[string]uint{"": 20, "K": 10, "M": 20, "G": 30, "T": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (allowed: K, M, G, T; none means MiB)", s, t[i:])
	}
	if n > (1<<62)>>sh {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n << sh, nil
}
