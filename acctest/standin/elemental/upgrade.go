package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// upgrade is `elemental upgrade` (contract §4.2).
func upgrade(ctx context.Context, e *env, args []string) error {
	gen := detectGeneration(e)
	o, err := parseUpgrade(gen, args, e.getenv)
	if err != nil {
		return err
	}
	e.logf("TEST STAND-IN elemental upgrade (%s)", gen)
	if gen == genV1 {
		err = upgradeV1(ctx, e, o)
	} else {
		err = upgradeV2(ctx, e, o)
	}
	if err != nil {
		return err
	}
	e.logf("Upgrade completed")
	return power(ctx, e, o.reboot, o.poweroff)
}

// power is the toolkit's PowerAction: sleep 5 s, then a forced reboot or
// poweroff.
func power(ctx context.Context, e *env, reboot, poweroff bool) error {
	if !reboot && !poweroff {
		return nil
	}
	cmd := "reboot"
	if poweroff {
		cmd = "poweroff"
	}
	e.logf("%s in 5 seconds", cmd)
	time.Sleep(5 * time.Second)
	return withCode(42, sh(ctx, cmd, "-f"))
}

// modeIs reports whether the initrd left the named mode sentinel.
func modeIs(e *env, gen generation, mode string) bool {
	dir := "/run/elemental/"
	if gen == genV1 {
		dir = "/run/cos/"
	}
	_, err := os.Stat(e.path(dir + mode + "_mode"))
	return err == nil
}

// recoveryBooted combines the sentinel and the kernel command line.
func recoveryBooted(e *env, gen generation) bool {
	if modeIs(e, gen, "recovery") {
		return true
	}
	cmdline, err := readCmdline(e)
	return err == nil && inRecovery(gen, cmdline)
}

// optionalRecovery mounts the recovery partition rw. It is required
// only when recovery is upgraded; without one, state.yaml goes to the
// state partition only (disks made for tests may lack recovery).
func optionalRecovery(ctx context.Context, e *env, required bool, at string) (string, func(), error) {
	dir, restore, err := mountPart(ctx, exitMountRecov, "recovery", labelRecovery, at)
	if err != nil && !required {
		e.warnf("no recovery partition, state.yaml is written to state only: %v", err)
		return "", func() {}, nil
	}
	return dir, restore, err
}

// mountPart finds a partition and makes it writable; failures carry code.
func mountPart(ctx context.Context, code int, partlabel, label, at string) (string, func(), error) {
	dev, err := partDevice(ctx, partlabel, label)
	if err != nil {
		return "", nil, withCode(code, err)
	}
	dir, restore, err := rwMount(ctx, dev, at)
	if err != nil {
		return "", nil, withCode(code, fmt.Errorf("mounting %s: %w", dev, err))
	}
	return dir, restore, nil
}

func upgradeV2(ctx context.Context, e *env, o *upgradeOpts) error {
	recoveryMode := recoveryBooted(e, genV2)
	stateAt, recAt := "/run/initramfs/elemental-state", "/run/elemental/recovery"
	if recoveryMode {
		stateAt, recAt = "/run/elemental/state", "/run/initramfs/elemental-state"
	}
	stateDir, restoreState, err := mountPart(ctx, exitMountState, "state", labelState, stateAt)
	if err != nil {
		return err
	}
	defer restoreState()
	recDir, restoreRec, err := optionalRecovery(ctx, e, o.recovery, recAt)
	if err != nil {
		return err
	}
	defer restoreRec()
	var st stateV2
	if err := loadState(stateDir, &st); err != nil {
		return err
	}
	st.ensureDefaults()
	snap, err := newSnapshot(ctx, e, stateDir, o, st.Snapshotter.MaxSnaps, recDir, &st)
	if err != nil {
		return err
	}
	if err := updateESPv2(ctx, &st, snap.entry, snap.passives); err != nil {
		return err
	}
	st.Date = nowString(time.Now())
	st.recordSnapshot(snap.id, &imageState{Source: snap.dep.source, Digest: snap.dep.digest,
		Labels: o.snapshotLabels, Date: st.Date, FromAction: "upgrade"}, snap.passives)
	return saveState(&st, stateDir, recDir)
}

// snapshotResult is what newSnapshot made.
type snapshotResult struct {
	id       int
	dep      deployed
	entry    string // GRUB_ENTRY_NAME of the new image
	passives []int  // remaining passive snapshots, newest first
}

// newSnapshot runs the loopdevice snapshotter transaction: work dir,
// image, active symlink, cleanup of old snapshots; with --recovery it
// also rebuilds the recovery system from the same tree.
func newSnapshot(ctx context.Context, e *env, stateDir string, o *upgradeOpts, maxSnaps int, recDir string, st *stateV2) (snapshotResult, error) {
	snaps := filepath.Join(stateDir, ".snapshots")
	if err := dropIncomplete(e, snaps); err != nil {
		return snapshotResult{}, err
	}
	ids, err := listSnapshots(snaps)
	if err != nil {
		return snapshotResult{}, codef(85, "listing snapshots: %w", err)
	}
	id := 1
	if len(ids) > 0 {
		id = ids[0] + 1
	}
	dir := filepath.Join(snaps, strconv.Itoa(id))
	work := filepath.Join(dir, "snapshot.workDir")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return snapshotResult{}, codef(85, "starting snapshot %d: %w", id, err)
	}
	res, err := fillSnapshot(ctx, e, work, dir, id, o, recDir, st)
	if err != nil {
		os.RemoveAll(dir)
		return res, err
	}
	if err := setActive(snaps, id); err != nil {
		return res, err
	}
	res.passives, err = cleanOldSnapshots(e, snaps, id, maxSnaps)
	return res, err
}

func fillSnapshot(ctx context.Context, e *env, work, dir string, id int, o *upgradeOpts, recDir string, st *stateV2) (snapshotResult, error) {
	res := snapshotResult{id: id}
	var err error
	if res.dep, err = deploySource(ctx, e, *o.system, work, o.insecure); err != nil {
		return res, err
	}
	if err := createDirStructure(work, genV2); err != nil {
		return res, withCode(exitDeployImage, err)
	}
	res.entry = osReleaseEntry(work)
	if err := makeExt2(ctx, work, filepath.Join(dir, "snapshot.img"), fmt.Sprintf("EL_SNAP%d", id)); err != nil {
		return res, err
	}
	if o.recovery {
		dep := res.dep
		if o.recoverySystem != nil && *o.recoverySystem != *o.system {
			tree := filepath.Join(dir, "recovery.workDir")
			if dep, err = deploySource(ctx, e, *o.recoverySystem, tree, o.insecure); err != nil {
				return res, err
			}
			defer os.RemoveAll(tree)
			work = tree
		}
		if err := upgradeRecoveryV2(ctx, e, work, recDir, dep, st); err != nil {
			return res, withCode(88, err)
		}
	}
	if err := os.RemoveAll(work); err != nil {
		return res, codef(exitCreateImage, "removing %s: %w", work, err)
	}
	return res, nil
}

// listSnapshots returns the numeric snapshot IDs, newest first.
func listSnapshots(snaps string) ([]int, error) {
	if err := os.MkdirAll(snaps, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(snaps)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, d := range entries {
		if n, err := strconv.Atoi(d.Name()); err == nil && d.IsDir() && n > 0 {
			ids = append(ids, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	return ids, nil
}

// dropIncomplete removes the snapshots an interrupted transaction left
// (killed before it removed its work directory, so before setActive):
// nothing boots them and state.yaml does not list them.
func dropIncomplete(e *env, snaps string) error {
	works, _ := filepath.Glob(filepath.Join(snaps, "*", "snapshot.workDir"))
	active, _ := os.Readlink(filepath.Join(snaps, "active"))
	for _, w := range works {
		dir := filepath.Dir(w)
		id := filepath.Base(dir)
		if _, err := strconv.Atoi(id); err != nil || strings.HasPrefix(active, id+"/") {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return codef(85, "removing incomplete snapshot %s: %w", id, err)
		}
		e.logf("Removed incomplete snapshot %s (interrupted upgrade)", id)
	}
	return nil
}

// setActive points .snapshots/active at <id>/snapshot.img (relative).
func setActive(snaps string, id int) error {
	tmp := filepath.Join(snaps, "active.new")
	_ = os.Remove(tmp)
	if err := os.Symlink(fmt.Sprintf("%d/snapshot.img", id), tmp); err != nil {
		return codef(85, "linking active snapshot: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(snaps, "active")); err != nil {
		return codef(85, "linking active snapshot: %w", err)
	}
	return nil
}

// cleanOldSnapshots keeps maxSnaps-1 passives (never deleting one that a
// loop device still uses) and returns the passives, newest first.
func cleanOldSnapshots(e *env, snaps string, active, maxSnaps int) ([]int, error) {
	ids, err := listSnapshots(snaps)
	if err != nil {
		return nil, err
	}
	inUse := loopBackingFiles(e)
	var passives []int
	for _, id := range ids {
		if id == active {
			continue
		}
		suffix := fmt.Sprintf(".snapshots/%d/snapshot.img", id)
		if len(passives) < maxSnaps-1 || inUse(suffix) {
			passives = append(passives, id)
			continue
		}
		if err := os.RemoveAll(filepath.Join(snaps, strconv.Itoa(id))); err != nil {
			return nil, fmt.Errorf("removing snapshot %d: %w", id, err)
		}
		e.logf("Removed old snapshot %d", id)
	}
	return passives, nil
}

// loopBackingFiles returns a predicate telling whether a loop device's
// backing file ends with a suffix.
func loopBackingFiles(e *env) func(string) bool {
	files, _ := filepath.Glob(e.path("/sys/block/loop*/loop/backing_file"))
	var backing []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			backing = append(backing, strings.TrimSpace(string(b)))
		}
	}
	return func(suffix string) bool {
		for _, b := range backing {
			if strings.HasSuffix(b, suffix) {
				return true
			}
		}
		return false
	}
}

// fallbackList is default_fallback: active, each passive, recovery.
func fallbackList(passives int) string {
	s := make([]string, passives+2)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return strings.Join(s, " ")
}

func joinInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, " ")
}

// espVarsV2 are the grub_oem_env assignments after a v2 transaction.
func espVarsV2(st *stateV2, entry string, passives []int) []kv {
	vars := []kv{
		{"state_label", st.State.Label}, {"recovery_label", st.Recovery.Label},
		{"oem_label", st.OEM.Label}, {"persistent_label", st.Persistent.Label},
	}
	if entry != "" {
		vars = append(vars, kv{"default_menu_entry", entry})
	}
	return append(vars, kv{"default_fallback", fallbackList(len(passives))}, kv{"passive_snaps", joinInts(passives)})
}

// updateESPv2 writes the ESP grub_oem_env (remounting the ESP rw).
func updateESPv2(ctx context.Context, st *stateV2, entry string, passives []int) error {
	efiDir, restore, err := mountPart(ctx, exitMountEFI, "efi", labelEFI, "/run/elemental/efi")
	if err != nil {
		return err
	}
	defer restore()
	return withCode(exitSetGrubVars, setGrubEnv(filepath.Join(efiDir, "grub_oem_env"), espVarsV2(st, entry, passives)))
}
