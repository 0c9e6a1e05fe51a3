package boot

import (
	"fmt"
	"testing"
	"time"
)

// growBy is how much larger than the written disk the VM's disk is.
const growBy int64 = 2 << 30

// TestBoot walks the whole boot proof for each generation in one VM, on an
// overlay growBy larger than the written disk, with version B in a
// loopback registry. The steps share boots: each step starts on the
// system the previous one left, so the chain needs six boots (active,
// persistence reboot, B after the upgrade, passive A after breaking B,
// recovery, active after the reset).
func TestBoot(t *testing.T) {
	needBoot(t)
	for _, gen := range []int{2, 1} {
		t.Run(fmt.Sprintf("v%d", gen), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			d := diskFor(t, gen)
			u := &upgradeRun{d: d}
			u.pushB(t)
			g := startGuest(t, d, d.res.DiskSize+growBy, u.regHost)
			u.g = g
			g.waitBoot(t, "A", "active", d.res.Digest)
			steps := []struct {
				name string
				fn   func(*testing.T)
			}{
				{"1-active", func(t *testing.T) { checkActive(t, g) }},
				{"3-grow", func(t *testing.T) { checkGrown(t, g) }},
				{"2-persistence", func(t *testing.T) { checkPersistence(t, g) }},
				{"5-upgrade", u.upgrade},
				{"5-fallback", u.fallback},
				{"4-recovery-once", func(t *testing.T) { u.markReset(t); checkRecoveryOnce(t, g) }},
				{"6-reset", u.reset},
			}
			for _, s := range steps {
				stepStart := time.Now()
				ok := t.Run(s.name, s.fn)
				t.Logf("step %s: %s", s.name, time.Since(stepStart).Round(time.Second))
				if !ok {
					break
				}
			}
			t.Logf("v%d chain: %d boots in %s (Enter pressed at %d GRUB menus)", gen, g.boots, time.Since(start).Round(time.Second), g.vm.MenuEnters())
		})
	}
}
