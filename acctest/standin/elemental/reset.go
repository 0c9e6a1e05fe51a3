package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// reset is `elemental reset` (contract §4.3): only from recovery.
func reset(ctx context.Context, e *env, args []string) error {
	gen := detectGeneration(e)
	o, err := parseReset(gen, args, e.getenv)
	if err != nil {
		return err
	}
	cmdline, err := readCmdline(e)
	if err != nil {
		return err
	}
	if !inRecovery(gen, cmdline) {
		return errNotRecovery
	}
	e.logf("TEST STAND-IN elemental reset (%s)", gen)
	if gen == genV1 {
		err = resetV1(ctx, e, o)
	} else {
		err = resetV2(ctx, e, o)
	}
	if err != nil {
		return err
	}
	e.logf("Reset completed")
	return power(ctx, e, o.reboot, o.poweroff)
}

// formatPart unmounts and formats a partition with ext4.
func formatPart(ctx context.Context, partlabel, label string) (string, error) {
	dev, err := partDevice(ctx, partlabel, label)
	if err != nil {
		return "", withCode(exitMountState, err)
	}
	if err := unmountAll(ctx, dev); err != nil {
		return "", withCode(59, err)
	}
	if err := sh(ctx, "mkfs.ext4", "-q", "-F", "-L", label, dev); err != nil {
		return "", withCode(exitFormat, err)
	}
	return dev, nil
}

// formatOptional formats persistent and OEM when asked; OEM is mounted
// back at /oem.
func formatOptional(ctx context.Context, persistent, oem bool) error {
	if persistent {
		if _, err := formatPart(ctx, "persistent", labelPersistent); err != nil {
			return err
		}
	}
	if oem {
		dev, err := formatPart(ctx, "oem", labelOEM)
		if err != nil {
			return err
		}
		_ = sh(ctx, "mount", dev, "/oem")
	}
	return nil
}

// resetSource is --system, or the recovery image found under recDir.
func resetSource(o *resetOpts, candidates ...string) (source, error) {
	if o.system != nil {
		return *o.system, nil
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return source{kind: "file", ref: c}, nil
		}
	}
	return source{}, codef(exitDumpSource, "no recovery image at %v", candidates)
}

func resetV2(ctx context.Context, e *env, o *resetOpts) error {
	recDir, restoreRec, err := mountPart(ctx, exitMountRecov, "recovery", labelRecovery, "/run/initramfs/elemental-state")
	if err != nil {
		return err
	}
	defer restoreRec()
	var st stateV2
	if err := loadState(recDir, &st); err != nil {
		return err
	}
	st.ensureDefaults()
	src, err := resetSource(o, filepath.Join(recDir, "boot/recovery.img"), filepath.Join(recDir, "recovery.img"))
	if err != nil {
		return err
	}
	stateDev, err := formatPart(ctx, "state", labelState)
	if err != nil {
		return err
	}
	if err := formatOptional(ctx, o.resetPersistent, o.resetOEM); err != nil {
		return err
	}
	stateDir, restoreState, err := rwMount(ctx, stateDev, "/run/elemental/state")
	if err != nil {
		return withCode(exitMountState, err)
	}
	defer restoreState()
	snaps := filepath.Join(stateDir, ".snapshots")
	work := filepath.Join(snaps, "1", "snapshot.workDir")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return codef(85, "starting snapshot 1: %w", err)
	}
	dep, err := deploySource(ctx, e, src, work, o.insecure)
	if err != nil {
		return err
	}
	if err := createDirStructure(work, genV2); err != nil {
		return withCode(exitDeployImage, err)
	}
	entry := firstNonEmpty(osReleaseEntry(work), "Elemental")
	if err := resetESPv2(ctx, work, &st, entry); err != nil {
		return err
	}
	if err := makeExt2(ctx, work, filepath.Join(snaps, "1", "snapshot.img"), "EL_SNAP1"); err != nil {
		return err
	}
	if err := os.RemoveAll(work); err != nil {
		return codef(exitCreateImage, "removing %s: %w", work, err)
	}
	if err := setActive(snaps, 1); err != nil {
		return err
	}
	if o.system == nil && st.Recovery.Recovery != nil {
		dep = deployed{source: st.Recovery.Recovery.Source, digest: st.Recovery.Recovery.Digest}
	}
	st.Date = nowString(time.Now())
	st.State.Snapshots = map[int]*imageState{}
	st.recordSnapshot(1, &imageState{Source: dep.source, Digest: dep.digest, Date: st.Date, FromAction: "reset"}, nil)
	return saveState(&st, stateDir, recDir)
}

// resetESPv2 copies the new tree's grub.cfg into the ESP boot
// directories that exist and rewrites grub_oem_env for one snapshot.
func resetESPv2(ctx context.Context, tree string, st *stateV2, entry string) error {
	efiDir, restore, err := mountPart(ctx, exitMountEFI, "efi", labelEFI, "/run/elemental/efi")
	if err != nil {
		return err
	}
	defer restore()
	cfg := filepath.Join(tree, "etc/elemental/grub.cfg")
	if _, err := os.Stat(cfg); err != nil {
		cfg = filepath.Join(tree, "etc/cos/grub.cfg")
	}
	if _, err := os.Stat(cfg); err == nil {
		for _, d := range []string{"EFI/BOOT", "EFI/ELEMENTAL"} {
			if _, err := os.Stat(filepath.Join(efiDir, d)); err != nil {
				continue
			}
			if err := copyFileMode(cfg, filepath.Join(efiDir, d, "grub.cfg"), 0o644); err != nil {
				return codef(49, "installing grub.cfg: %w", err)
			}
		}
	}
	vars := espVarsV2(st, entry, nil)
	if r := st.Recovery.Recovery; r != nil && r.Label != "" {
		vars = append(vars, kv{"system_label", r.Label})
	}
	return withCode(exitSetGrubVars, setGrubEnv(filepath.Join(efiDir, "grub_oem_env"), vars))
}

func resetV1(ctx context.Context, e *env, o *resetOpts) error {
	recDir, restoreRec, err := mountPart(ctx, exitMountRecov, "recovery", labelRecovery, "/run/initramfs/cos-state")
	if err != nil {
		return err
	}
	defer restoreRec()
	var st stateV1
	if err := loadState(recDir, &st); err != nil {
		return err
	}
	st.ensureDefaults()
	src, err := resetSource(o, filepath.Join(recDir, "cOS/recovery.img"))
	if err != nil {
		return err
	}
	stateDev, err := formatPart(ctx, "state", labelState)
	if err != nil {
		return err
	}
	if err := formatOptional(ctx, o.resetPersistent, o.resetOEM); err != nil {
		return err
	}
	stateDir, restoreState, err := rwMount(ctx, stateDev, "/run/cos/state")
	if err != nil {
		return withCode(exitMountState, err)
	}
	defer restoreState()
	cos := filepath.Join(stateDir, "cOS")
	dep, entry, err := buildV1Image(ctx, e, o.insecure, src, cos, labelActive, "ext2",
		func(tree string) error { return installGrubV1(tree, stateDir) })
	if err != nil {
		return err
	}
	active, passive := filepath.Join(cos, "active.img"), filepath.Join(cos, "passive.img")
	if err := os.Rename(filepath.Join(cos, "transition.img"), active); err != nil {
		return codef(exitDeployImage, "moving transition.img to active.img: %w", err)
	}
	if err := sh(ctx, "cp", "--sparse=always", active, passive); err != nil {
		return withCode(exitDeployImage, err)
	}
	if err := sh(ctx, "tune2fs", "-L", labelPassive, passive); err != nil {
		return withCode(exitLabelImage, err)
	}
	if o.system == nil && st.Recovery.Recovery != nil {
		r := st.Recovery.Recovery
		dep.source = r.Source
		if r.Metadata != nil {
			dep.digest = r.Metadata.Digest
		}
	}
	st.State.Active = v1Record(dep, labelActive, "ext2")
	st.State.Passive = v1Record(dep, labelPassive, "ext2")
	if err := setGrubEnv(filepath.Join(stateDir, "grub_oem_env"), espVarsV1(&st, firstNonEmpty(entry, "Elemental"))); err != nil {
		return withCode(exitSetGrubVars, err)
	}
	st.Date = nowString(time.Now())
	return saveState(&st, stateDir, recDir)
}

// installGrubV1 puts grub.cfg (from the image's /etc/cos/grub.cfg) and
// the loopback, squash4 and xzio modules into STATE/grub2.
func installGrubV1(tree, stateDir string) error {
	grub := filepath.Join(stateDir, "grub2")
	if err := os.MkdirAll(filepath.Join(grub, "x86_64-efi"), 0o755); err != nil {
		return codef(49, "creating %s: %w", grub, err)
	}
	cfg := filepath.Join(tree, "etc/cos/grub.cfg")
	if err := copyFileMode(cfg, filepath.Join(grub, "grub.cfg"), 0o644); err != nil {
		return codef(49, "installing grub.cfg from the image: %w", err)
	}
	var errs []error
	for _, dir := range []string{"usr/share/grub2/x86_64-efi", "usr/lib/grub2/x86_64-efi", "usr/lib/grub/x86_64-efi"} {
		if _, err := os.Stat(filepath.Join(tree, dir)); err != nil {
			continue
		}
		for _, m := range []string{"loopback.mod", "squash4.mod", "xzio.mod"} {
			if err := copyFileMode(filepath.Join(tree, dir, m), filepath.Join(grub, "x86_64-efi", m), 0o644); err != nil {
				errs = append(errs, err)
			}
		}
		break
	}
	if err := errors.Join(errs...); err != nil {
		return codef(49, "installing grub modules: %w", err)
	}
	return nil
}

// showState is `elemental state`: print the booted root partition's
// state.yaml.
func showState(e *env) error {
	for _, p := range []string{"/run/initramfs/elemental-state/state.yaml", "/run/initramfs/cos-state/state.yaml"} {
		b, err := os.ReadFile(e.path(p))
		if err == nil {
			_, err = e.stdout.Write(b)
			return withCode(exitStateShow, err)
		}
	}
	return codef(exitStateShow, "no state.yaml in /run/initramfs/elemental-state or /run/initramfs/cos-state")
}
