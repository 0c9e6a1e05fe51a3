package installer

import (
	"encoding/binary"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// namespace makes every UUID of a disk a function of the source digest and
// a role, so the same image and options give byte-identical disks.
var namespace = uuid.MustParse("3c0b6f2e-6c39-4d4e-9a1e-5c2f0e1d7b41")

type seed string

func (s seed) uuid(role string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(string(s)+"\x00"+role))
}

func (s seed) u32(role string) uint32 {
	u := s.uuid(role)
	return binary.LittleEndian.Uint32(u[:4])
}

// buildTime picks the timestamp of everything the build creates.
func buildTime(specEpoch int64, created time.Time) time.Time {
	if specEpoch > 0 {
		return time.Unix(specEpoch, 0).UTC()
	}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			return time.Unix(n, 0).UTC()
		}
	}
	if !created.IsZero() {
		return created.UTC()
	}
	return time.Unix(0, 0).UTC()
}
