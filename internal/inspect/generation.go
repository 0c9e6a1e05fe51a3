package inspect

import (
	"fmt"
	"strings"
)

// Generation is the toolkit line a derivative follows. The two lines lay
// disks out differently and their initrds read different kernel arguments,
// so a disk built for the wrong one does not boot.
type Generation int

const (
	// GenerationUnknown means "detect it" in a spec and "not detected" in a report.
	GenerationUnknown Generation = iota
	// V1 is the cOS/elemental v1.x line: /etc/cos/grub.cfg, cOS/active.img, cos-img/filename=.
	V1
	// V2 is the elemental v2.x line: /etc/elemental/grub.cfg, .snapshots, elemental.mode=.
	V2
)

func (g Generation) String() string {
	switch g {
	case V1:
		return "v1"
	case V2:
		return "v2"
	}
	return "unknown"
}

// ParseGeneration accepts "", "auto", "v1", "1", "v2", "2".
func ParseGeneration(s string) (Generation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return GenerationUnknown, nil
	case "v1", "1":
		return V1, nil
	case "v2", "2":
		return V2, nil
	}
	return GenerationUnknown, fmt.Errorf("generation %q: want auto, v1 or v2", s)
}
