package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// sh runs a program and returns its combined output in the error.
func sh(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return codef(exitCommandRun, "running %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// findDevice returns the block device whose filesystem label (key
// "LABEL") or GPT partition name (key "PARTLABEL") is value, or "".
func findDevice(ctx context.Context, key, value string) string {
	link := map[string]string{"LABEL": "/dev/disk/by-label/", "PARTLABEL": "/dev/disk/by-partlabel/"}[key]
	if p, err := filepath.EvalSymlinks(link + value); err == nil {
		return p
	}
	if out, err := exec.CommandContext(ctx, "blkid", "-o", "device", "-t", key+"="+value).Output(); err == nil {
		if dev := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]); dev != "" {
			return dev
		}
	}
	return scanSysfs(key, value)
}

// scanSysfs finds a device without udev or blkid: PARTNAME from the
// uevent files, or the ext2/3/4 or FAT label read from the device.
func scanSysfs(key, value string) string {
	dirs, _ := filepath.Glob("/sys/class/block/*")
	for _, d := range dirs {
		dev := "/dev/" + filepath.Base(d)
		if key == "PARTLABEL" {
			b, _ := os.ReadFile(filepath.Join(d, "uevent"))
			for _, l := range strings.Split(string(b), "\n") {
				if l == "PARTNAME="+value {
					return dev
				}
			}
			continue
		}
		if fsLabel(dev) == value {
			return dev
		}
	}
	return ""
}

// fsLabel reads an ext2/3/4 or FAT volume label.
func fsLabel(dev string) string {
	f, err := os.Open(dev)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 2048)
	if _, err := f.ReadAt(b, 0); err != nil {
		return ""
	}
	if binary.LittleEndian.Uint16(b[1024+56:]) == 0xEF53 {
		return cstr(b[1024+120 : 1024+136])
	}
	if b[510] == 0x55 && b[511] == 0xAA {
		if string(b[82:87]) == "FAT32" {
			return strings.TrimSpace(string(b[71:82]))
		}
		if strings.HasPrefix(string(b[54:59]), "FAT") {
			return strings.TrimSpace(string(b[43:54]))
		}
	}
	return ""
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// partDevice finds a partition by GPT name, then by filesystem label.
func partDevice(ctx context.Context, partlabel, label string) (string, error) {
	if dev := findDevice(ctx, "PARTLABEL", partlabel); dev != "" {
		return dev, nil
	}
	if dev := findDevice(ctx, "LABEL", label); dev != "" {
		return dev, nil
	}
	return "", fmt.Errorf("no partition named %q or labelled %q", partlabel, label)
}

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	devNum  string // major:minor
	target  string
	options string // per-mount options (ro/rw first)
}

func mounts() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	var out []mountInfo
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		out = append(out, mountInfo{devNum: fields[2], target: unescapeMount(fields[4]), options: fields[5]})
	}
	return out, sc.Err()
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

func devNum(dev string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return "", fmt.Errorf("inspecting %s: %w", dev, err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), nil
}

// mountsOf lists where dev is mounted.
func mountsOf(dev string) ([]mountInfo, error) {
	num, err := devNum(dev)
	if err != nil {
		return nil, err
	}
	all, err := mounts()
	if err != nil {
		return nil, err
	}
	var out []mountInfo
	for _, m := range all {
		if m.devNum == num {
			out = append(out, m)
		}
	}
	return out, nil
}

// rwMount makes dev available read-write: it remounts an existing
// mount rw (preferring one at want) or mounts dev at want. restore undoes
// what was done (remount ro, or unmount).
func rwMount(ctx context.Context, dev, want string) (dir string, restore func(), err error) {
	ms, err := mountsOf(dev)
	if err != nil {
		return "", nil, err
	}
	if len(ms) > 0 {
		m := ms[0]
		for _, c := range ms {
			if c.target == want {
				m = c
			}
		}
		if strings.HasPrefix(m.options, "rw") {
			return m.target, func() {}, nil
		}
		if err := sh(ctx, "mount", "-o", "remount,rw", m.target); err != nil {
			return "", nil, err
		}
		return m.target, func() { _ = sh(context.Background(), "mount", "-o", "remount,ro", m.target) }, nil
	}
	if err := os.MkdirAll(want, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating mountpoint %s: %w", want, err)
	}
	if err := sh(ctx, "mount", dev, want); err != nil {
		return "", nil, err
	}
	return want, func() { _ = sh(context.Background(), "umount", want) }, nil
}

// unmountAll unmounts every mount of dev, deepest first.
func unmountAll(ctx context.Context, dev string) error {
	ms, err := mountsOf(dev)
	if err != nil {
		return err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if err := sh(ctx, "umount", ms[i].target); err != nil {
			if err := sh(ctx, "umount", "-l", ms[i].target); err != nil {
				return err
			}
		}
	}
	return nil
}

// loopMountRO loop-mounts an image file read-only at a new temporary
// directory; the returned func unmounts and removes it. The directory is
// under $TMPDIR, else /run: /tmp of the test images lies on the read-only
// root (recovery has no /tmp overlay), /run is always a tmpfs.
func loopMountRO(ctx context.Context, img string) (string, func(), error) {
	base := os.Getenv("TMPDIR")
	if base == "" {
		base = "/run"
	}
	dir, err := os.MkdirTemp(base, "elemental-src-")
	if err != nil {
		return "", nil, err
	}
	if err := sh(ctx, "mount", "-o", "loop,ro", img, dir); err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, func() {
		_ = sh(context.Background(), "umount", dir)
		os.Remove(dir)
	}, nil
}
