package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// generation is the toolkit line the running system belongs to.
type generation int

const (
	genUnknown generation = iota
	genV1
	genV2
)

func (g generation) String() string {
	switch g {
	case genV1:
		return "v1"
	case genV2:
		return "v2"
	}
	return "unknown"
}

// detectGeneration looks at the mode sentinels the initrd writes, then at
// the configuration directories of the image. v2 initrds also write the
// legacy /run/cos sentinels, so /run/elemental wins.
func detectGeneration(e *env) generation {
	has := func(glob string) bool {
		m, _ := filepath.Glob(e.path(glob))
		return len(m) > 0
	}
	switch {
	case has("/run/elemental/*_mode"):
		return genV2
	case has("/run/cos/*_mode"):
		return genV1
	case has("/etc/elemental"):
		return genV2
	case has("/etc/cos"):
		return genV1
	}
	return genV2
}

// source is an image URI: oci/docker, dir or file.
type source struct {
	kind string // "oci", "dir", "file"
	ref  string // image reference or path
}

// String is the form recorded in state.yaml (oci://ref, dir:///path).
func (s source) String() string {
	if s.kind == "oci" {
		return "oci://" + s.ref
	}
	return s.kind + "://" + s.ref
}

// parseSource parses oci:REF, docker:REF, dir:/path, file:/path or a bare
// reference (treated as OCI). ":latest" is added to untagged references.
func parseSource(uri string) (source, error) {
	if uri == "" {
		return source{}, errors.New("empty image source")
	}
	kind, rest, found := strings.Cut(uri, ":")
	switch {
	case found && (kind == "oci" || kind == "docker"):
		return source{kind: "oci", ref: withTag(strings.TrimPrefix(rest, "//"))}, nil
	case found && (kind == "dir" || kind == "file"):
		p := strings.TrimPrefix(rest, "//")
		if !strings.HasPrefix(p, "/") {
			return source{}, fmt.Errorf("image source %q: path must be absolute", uri)
		}
		return source{kind: kind, ref: filepath.Clean(p)}, nil
	}
	return source{kind: "oci", ref: withTag(uri)}, nil
}

func withTag(ref string) string {
	if strings.Contains(ref, "@") {
		return ref
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if !strings.Contains(last, ":") {
		return ref + ":latest"
	}
	return ref
}

// upgradeOpts is the parsed `elemental upgrade` command line.
type upgradeOpts struct {
	gen            generation
	system         *source // nil: no system upgrade
	recovery       bool    // upgrade the recovery image
	recoverySystem *source
	snapshotLabels map[string]string
	insecure       bool
	reboot         bool
	poweroff       bool
	strict         bool
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// ignoredFlags registers toolkit flags the stand-in accepts and ignores.
func ignoredFlags(fs *flag.FlagSet, bools, strs []string) {
	for _, n := range bools {
		fs.Bool(n, false, "accepted and ignored")
	}
	for _, n := range strs {
		fs.String(n, "", "accepted and ignored")
	}
}

// parseUpgrade parses upgrade flags for the given generation. Environment
// overrides ELEMENTAL_UPGRADE_SYSTEM, ELEMENTAL_UPGRADE_RECOVERY,
// ELEMENTAL_UPGRADE_RECOVERY_SYSTEM and ELEMENTAL_REBOOT apply when the
// flag is not given.
func parseUpgrade(gen generation, args []string, getenv func(string) string) (*upgradeOpts, error) {
	fs := newFlagSet("upgrade")
	var system, docker, dir, recoverySystem, labels string
	if gen == genV2 {
		fs.StringVar(&system, "system", "", "image URI")
	} else {
		fs.StringVar(&system, "system.uri", "", "image URI")
	}
	fs.StringVar(&docker, "docker-image", "", "deprecated: image reference")
	fs.StringVar(&docker, "d", "", "deprecated: image reference")
	fs.StringVar(&dir, "directory", "", "deprecated: directory source")
	fs.StringVar(&recoverySystem, "recovery-system.uri", "", "recovery image URI")
	fs.StringVar(&labels, "snapshot-labels", "", "k=v,... labels for the new snapshot")
	recovery := fs.Bool("recovery", false, "upgrade recovery")
	tlsVerify := fs.Bool("tls-verify", true, "verify registry TLS")
	reboot := fs.Bool("reboot", false, "reboot -f after 5 s")
	poweroff := fs.Bool("poweroff", false, "poweroff -f after 5 s")
	strict := fs.Bool("strict", false, "fail on hook errors")
	ignoredFlags(fs, []string{"verify", "bootloader", "cosign", "local", "x", "squash-no-compression"},
		[]string{"cosign-key", "cloud-init-paths", "squash-compression"})
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("parsing upgrade flags: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("parsing upgrade flags: unexpected arguments %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	envOverride(getenv, given, &system, &recoverySystem, recovery, reboot)
	o := &upgradeOpts{gen: gen, recovery: *recovery, insecure: !*tlsVerify || getenv("ELEMENTAL_INSECURE_REGISTRY") == "1",
		reboot: *reboot, poweroff: *poweroff, strict: *strict}
	if o.reboot && o.poweroff {
		return nil, errors.New("--reboot and --poweroff are mutually exclusive")
	}
	uri := firstNonEmpty(system, prefixed("docker:", docker), prefixed("dir:", dir))
	if err := o.setSources(uri, recoverySystem); err != nil {
		return nil, err
	}
	m, err := parseLabels(labels)
	if err != nil {
		return nil, err
	}
	o.snapshotLabels = m
	return o, nil
}

func envOverride(getenv func(string) string, given map[string]bool, system, recoverySystem *string, recovery, reboot *bool) {
	if v := getenv("ELEMENTAL_UPGRADE_SYSTEM"); v != "" && !given["system"] && !given["system.uri"] {
		*system = v
	}
	if v := getenv("ELEMENTAL_UPGRADE_RECOVERY_SYSTEM"); v != "" && !given["recovery-system.uri"] {
		*recoverySystem = v
	}
	if v, err := strconv.ParseBool(getenv("ELEMENTAL_UPGRADE_RECOVERY")); err == nil && !given["recovery"] {
		*recovery = v
	}
	if v, err := strconv.ParseBool(getenv("ELEMENTAL_REBOOT")); err == nil && !given["reboot"] {
		*reboot = v
	}
}

// setSources applies the generation's meaning of --recovery: v2 upgrades
// recovery too (from the same source unless --recovery-system.uri), v1
// upgrades only recovery.
func (o *upgradeOpts) setSources(uri, recoveryURI string) error {
	parse := func(u string) (*source, error) {
		s, err := parseSource(u)
		return &s, err
	}
	var err error
	if o.gen == genV1 && o.recovery {
		if recoveryURI == "" {
			recoveryURI = uri
		}
		if recoveryURI == "" {
			return errors.New("v1 --recovery needs --recovery-system.uri")
		}
		o.recoverySystem, err = parse(recoveryURI)
		return err
	}
	if uri == "" {
		return errors.New("no image source: give --system (v2) or --system.uri (v1)")
	}
	if o.system, err = parse(uri); err != nil {
		return err
	}
	if o.recovery {
		if recoveryURI == "" {
			o.recoverySystem = o.system
		} else if o.recoverySystem, err = parse(recoveryURI); err != nil {
			return err
		}
	}
	return nil
}

func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("snapshot label %q is not key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func prefixed(p, v string) string {
	if v == "" {
		return ""
	}
	return p + v
}

// resetOpts is the parsed `elemental reset` command line.
type resetOpts struct {
	gen             generation
	system          *source // nil: the recovery image
	resetPersistent bool
	resetOEM        bool
	insecure        bool
	reboot          bool
	poweroff        bool
}

func parseReset(gen generation, args []string, getenv func(string) string) (*resetOpts, error) {
	fs := newFlagSet("reset")
	var system string
	fs.StringVar(&system, "system", "", "image URI (v2)")
	fs.StringVar(&system, "system.uri", "", "image URI (v1)")
	persistent := fs.Bool("reset-persistent", false, "format the persistent partition")
	oem := fs.Bool("reset-oem", false, "format the OEM partition")
	tlsVerify := fs.Bool("tls-verify", true, "verify registry TLS")
	reboot := fs.Bool("reboot", false, "reboot -f after 5 s")
	poweroff := fs.Bool("poweroff", false, "poweroff -f after 5 s")
	ignoredFlags(fs, []string{"disable-boot-entry", "strict", "verify", "cosign", "local", "x", "squash-no-compression"},
		[]string{"cosign-key", "cloud-init-paths", "snapshot-labels", "c", "cloud-init"})
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("parsing reset flags: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("parsing reset flags: unexpected arguments %q", fs.Args())
	}
	if system == "" {
		system = getenv("ELEMENTAL_RESET_SYSTEM")
	}
	o := &resetOpts{gen: gen, resetPersistent: *persistent, resetOEM: *oem,
		insecure: !*tlsVerify || getenv("ELEMENTAL_INSECURE_REGISTRY") == "1", reboot: *reboot, poweroff: *poweroff}
	if v, err := strconv.ParseBool(getenv("ELEMENTAL_RESET_PERSISTENT")); err == nil && v {
		o.resetPersistent = true
	}
	if system != "" {
		s, err := parseSource(system)
		if err != nil {
			return nil, err
		}
		o.system = &s
	}
	return o, nil
}

// readCmdline returns /proc/cmdline.
func readCmdline(e *env) (string, error) {
	b, err := os.ReadFile(e.path("/proc/cmdline"))
	if err != nil {
		return "", fmt.Errorf("reading kernel command line: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// inRecovery reports whether the running system booted the recovery
// image: /proc/cmdline names "recovery" (v2) or "recovery.img" (v1).
func inRecovery(gen generation, cmdline string) bool {
	if gen == genV1 {
		return strings.Contains(cmdline, "recovery.img")
	}
	return strings.Contains(cmdline, "recovery")
}
