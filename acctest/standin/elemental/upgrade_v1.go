package main

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// upgradeV1 is the v1.1.8 upgrade: transition.img, then active → passive
// (relabelled COS_PASSIVE) and transition → active; with --recovery only
// recovery.img is replaced (§4.2 v1).
func upgradeV1(ctx context.Context, e *env, o *upgradeOpts) error {
	stateDir, restoreState, err := mountPart(ctx, exitMountState, "state", labelState, "/run/cos/state")
	if err != nil {
		return err
	}
	defer restoreState()
	recDir, restoreRec, err := optionalRecovery(ctx, e, o.recoverySystem != nil, "/run/cos/recovery")
	if err != nil {
		return err
	}
	defer restoreRec()
	var st stateV1
	if err := loadState(stateDir, &st); err != nil {
		return err
	}
	st.ensureDefaults()
	if o.system != nil {
		if err := upgradeSystemV1(ctx, e, o, stateDir, &st); err != nil {
			return err
		}
	}
	if o.recoverySystem != nil {
		if err := upgradeRecoveryV1(ctx, e, o, recDir, &st); err != nil {
			return err
		}
	}
	st.Date = nowString(time.Now())
	return saveState(&st, stateDir, recDir)
}

// buildV1Image deploys src into <cos>/transition.imgTree and makes
// <cos>/transition.img from it (ext2 with label, or squashfs).
// hook, when not nil, runs on the tree before the image is made.
func buildV1Image(ctx context.Context, e *env, insecure bool, src source, cos, label, fs string, hook func(tree string) error) (deployed, string, error) {
	tree := filepath.Join(cos, "transition.imgTree")
	img := filepath.Join(cos, "transition.img")
	_ = os.RemoveAll(tree)
	defer os.RemoveAll(tree)
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return deployed{}, "", codef(exitDeployImage, "creating %s: %w", tree, err)
	}
	dep, err := deploySource(ctx, e, src, tree, insecure)
	if err != nil {
		return dep, "", err
	}
	if err := createDirStructure(tree, genV1); err != nil {
		return dep, "", withCode(exitDeployImage, err)
	}
	entry := osReleaseEntry(tree)
	if hook != nil {
		if err := hook(tree); err != nil {
			return dep, entry, err
		}
	}
	if fs == "squashfs" {
		err = makeSquashfs(ctx, tree, img)
	} else {
		err = makeExt2(ctx, tree, img, label)
	}
	if err != nil {
		os.Remove(img)
	}
	return dep, entry, err
}

func v1Record(dep deployed, label, fs string) *v1Image {
	img := &v1Image{Source: dep.source, Label: label, FS: fs}
	if dep.digest != "" {
		img.Metadata = &v1Meta{Digest: dep.digest}
	}
	return img
}

func upgradeSystemV1(ctx context.Context, e *env, o *upgradeOpts, stateDir string, st *stateV1) error {
	cos := filepath.Join(stateDir, "cOS")
	dep, entry, err := buildV1Image(ctx, e, o.insecure, *o.system, cos, labelActive, "ext2", nil)
	if err != nil {
		return err
	}
	active, passive := filepath.Join(cos, "active.img"), filepath.Join(cos, "passive.img")
	if _, err := os.Stat(active); err == nil {
		if err := os.Rename(active, passive); err != nil {
			return codef(exitDeployImage, "moving active.img to passive.img: %w", err)
		}
		if err := sh(ctx, "tune2fs", "-L", labelPassive, passive); err != nil {
			return withCode(exitLabelImage, err)
		}
	}
	_ = sh(ctx, "sync")
	if err := os.Rename(filepath.Join(cos, "transition.img"), active); err != nil {
		return codef(exitDeployImage, "moving transition.img to active.img: %w", err)
	}
	st.rotate(v1Record(dep, labelActive, "ext2"))
	return withCode(exitSetGrubVars, setGrubEnv(filepath.Join(stateDir, "grub_oem_env"), espVarsV1(st, entry)))
}

// espVarsV1 are the labels v1 writes into STATE/grub_oem_env.
func espVarsV1(st *stateV1, entry string) []kv {
	sysLabel := labelSystem
	if r := st.Recovery.Recovery; r != nil && r.Label != "" {
		sysLabel = r.Label
	}
	vars := []kv{
		{"state_label", st.State.Label}, {"active_label", labelActive}, {"passive_label", labelPassive},
		{"recovery_label", st.Recovery.Label}, {"system_label", sysLabel},
		{"oem_label", st.OEM.Label}, {"persistent_label", st.Persistent.Label},
	}
	if entry != "" {
		vars = append(vars, kv{"default_menu_entry", entry})
	}
	return vars
}

func upgradeRecoveryV1(ctx context.Context, e *env, o *upgradeOpts, recDir string, st *stateV1) error {
	fs, label := "ext2", labelSystem
	if r := st.Recovery.Recovery; r != nil && r.FS == "squashfs" {
		fs, label = "squashfs", ""
	}
	cos := filepath.Join(recDir, "cOS")
	dep, _, err := buildV1Image(ctx, e, o.insecure, *o.recoverySystem, cos, label, fs, nil)
	if err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(cos, "transition.img"), filepath.Join(cos, "recovery.img")); err != nil {
		return codef(88, "moving transition.img to recovery.img: %w", err)
	}
	st.Recovery.Recovery = v1Record(dep, label, fs)
	e.logf("Recovery upgrade completed")
	return nil
}
