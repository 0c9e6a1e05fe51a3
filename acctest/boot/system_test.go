package boot

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkActive: the first boot is the active system with the contract's
// command line, a read-only root and writable /etc and /var.
func checkActive(t *testing.T, g *guest) {
	g.checkCmdline(t, "active")
	if out, err := g.try(t, "touch /elemental-test-ro", cmdTimeout); err == nil {
		t.Errorf("touch /elemental-test-ro succeeded, want a read-only root (output %q)", out)
	}
	opts := g.run(t, "findmnt -no OPTIONS /")
	if !strings.HasPrefix(opts, "ro") {
		t.Errorf("/ mount options %q, want ro", strings.TrimSpace(opts))
	}
	g.run(t, "touch /etc/elemental-test-rw /var/elemental-test-rw && rm /etc/elemental-test-rw /var/elemental-test-rw")
	// The booted image is what the core wrote: the version marker file.
	if v := strings.TrimSpace(g.run(t, ". /etc/os-release; echo $VERSION")); v != "A" {
		t.Errorf("os-release VERSION=%q, want A", v)
	}
}

// persistentMount is where the persistent partition is mounted.
func persistentMount(gen int) string {
	if gen == 1 {
		return "/usr/local"
	}
	return "/run/elemental/persistent"
}

// checkGrown: the last partition and its filesystem fill the grown disk.
func checkGrown(t *testing.T, g *guest) {
	mnt := persistentMount(g.d.gen)
	out := g.run(t, `set -e
dev=$(findfs LABEL=COS_PERSISTENT); n=${dev##*/}
parent=$(basename "$(readlink -f /sys/class/block/$n/..)")
echo "$dev $(findmnt -no SOURCE `+mnt+`) $(cat /sys/class/block/$parent/size) $(cat /sys/class/block/$n/start) $(cat /sys/class/block/$n/size) $(lsblk -bdno SIZE $dev) $(df -B1 --output=size `+mnt+` | tail -n 1)"`)
	f := strings.Fields(out)
	if len(f) != 7 {
		t.Fatalf("grow probe printed %q, want 7 fields", out)
	}
	n := make([]int64, 5)
	for i := range n {
		v, err := strconv.ParseInt(f[2+i], 10, 64)
		if err != nil {
			t.Fatalf("grow probe field %d of %q: %v", 3+i, out, err)
		}
		n[i] = v
	}
	diskBytes, start, size, lsblk, fsSize := n[0]*512, n[1]*512, n[2]*512, n[3], n[4]
	t.Logf("persistent %s: disk %d, partition [%d, %d) size %d (lsblk %d), filesystem %d", f[0], diskBytes, start, start+size, size, lsblk, fsSize)
	if f[0] != f[1] {
		t.Errorf("COS_PERSISTENT is %s but %s is mounted from %s", f[0], mnt, f[1])
	}
	if want := g.d.res.DiskSize + growBy; diskBytes != want {
		t.Errorf("guest disk is %d bytes, want %d (written %d + %d)", diskBytes, want, g.d.res.DiskSize, growBy)
	}
	// GPT keeps 33 sectors for its backup table; allow 1 MiB alignment.
	if gap := diskBytes - (start + size); gap < 0 || gap > 1<<20+33*512 {
		t.Errorf("persistent ends %d bytes before the disk end, want ≤ 1 MiB + 33 sectors", gap)
	}
	if lsblk != size {
		t.Errorf("lsblk says %d bytes, sysfs %d", lsblk, size)
	}
	var before int64
	for _, p := range g.d.res.Partitions {
		if p.Name == "persistent" {
			before = p.Size
		}
	}
	if size < before+growBy-(2<<20) {
		t.Errorf("persistent partition is %d bytes, want about %d (written %d + %d)", size, before+growBy, before, growBy)
	}
	if fsSize < size*9/10 {
		t.Errorf("persistent filesystem is %d bytes on a %d-byte partition: not resized", fsSize, size)
	}
}

// persistentFile is a file under a persistent path.
func persistentFile(gen int) string {
	if gen == 1 {
		return "/usr/local/elemental-test-persist"
	}
	return "/home/elemental-test-persist"
}

// checkPersistence: a persistent file survives a reboot, an /etc change
// outside the persistent paths does not.
func checkPersistence(t *testing.T, g *guest) {
	token := fmt.Sprintf("persist-%d", time.Now().UnixNano())
	p := persistentFile(g.d.gen)
	g.run(t, fmt.Sprintf("echo %s > %s && echo scratch > /etc/elemental-test-scratch && sync", token, p))
	g.reboot(t, "A", "active", g.d.res.Digest)
	if got := strings.TrimSpace(g.run(t, "cat "+p)); got != token {
		t.Errorf("%s after reboot = %q, want %q", p, got, token)
	}
	if out, err := g.try(t, "cat /etc/elemental-test-scratch", cmdTimeout); err == nil {
		t.Errorf("/etc/elemental-test-scratch survived the reboot (%q); /etc must be a tmpfs overlay", out)
	}
}

// checkRecoveryOnce: next_entry=recovery boots recovery, and GRUB clears
// it on the way. That the boot after it is active again (the one-shot
// half) is checked by the reset step, which reboots from recovery and
// expects the active system: a next_entry left set would boot recovery.
func checkRecoveryOnce(t *testing.T, g *guest) {
	g.setNextEntry(t, "recovery")
	g.reboot(t, "A", "recovery", g.d.res.Digest)
	g.checkCmdline(t, "recovery")
	checkRecoveryImage(t, g)
	if out := g.run(t, "elemental grub-editenv /oem/grubenv list"); strings.Contains(out, "next_entry=recovery") {
		t.Errorf("GRUB did not clear next_entry in (oem)/grubenv:\n%s", out)
	}
}

// checkRecoveryImage: the recovery system just booted from the core's
// default recovery image, a squashfs compressed with xz for v1 (whose
// GRUB loop-mounts it) and gzip for v2. Squashfs superblock: magic "hsqs",
// compression id at byte 20 (1 gzip, 4 xz).
func checkRecoveryImage(t *testing.T, g *guest) {
	img, want := stateDir(1)+"/cOS/recovery.img", "hsqs 4"
	if g.d.gen == 2 {
		img, want = stateDir(2)+"/boot/recovery.img", "hsqs 1"
	}
	got := strings.Join(strings.Fields(g.run(t, "head -c 4 "+img+"; echo; od -An -tu2 -j20 -N2 "+img)), " ")
	if got != want {
		t.Errorf("v%d recovery image %s: magic and compression %q, want %q (squashfs, %s)", g.d.gen, img, got, want, map[int]string{1: "xz", 2: "gzip"}[g.d.gen])
	}
}
