package node

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Status is what a node runs.
type Status struct {
	BootID     string
	Generation string // "v1" or "v2"
	// Mode is "active", "passive" or "recovery" (what booted).
	Mode         string
	ActiveSource string // as state.yaml records it, e.g. "oci://repo@sha256:…"
	ActiveDigest string
	// PassiveDigests are the digests of the other snapshots (v2) or of
	// the passive image (v1), newest first.
	PassiveDigests []string
}

// statusScript prints key=value lines, a separator, then state.yaml.
const statusScript = `set -u
echo "boot_id=$(cat /proc/sys/kernel/random/boot_id)"
if [ -d /etc/elemental ] || [ -d /run/elemental ]; then gen=v2
elif [ -d /etc/cos ] || [ -d /run/cos ]; then gen=v1
else case "$(elemental version 2>/dev/null)" in v1*|*" v1"*) gen=v1 ;; *) gen=v2 ;; esac
fi
echo "generation=$gen"
mode=active
for m in recovery passive active; do
  if [ -e /run/elemental/${m}_mode ] || [ -e /run/cos/${m}_mode ]; then mode=$m; break; fi
done
echo "mode=$mode"
echo "---"
if [ "$gen" = v2 ]; then elemental state; else cat /run/initramfs/cos-state/state.yaml; fi
`

// ReadStatus reads the boot ID, generation, boot mode and the active and
// passive images (elemental state on v2, state.yaml on v1).
func ReadStatus(ctx context.Context, r Runner, sudo bool) (*Status, error) {
	out, err := r.Run(ctx, asRoot(sudo, "sh -c "+quote(statusScript)))
	if err := check("reading the node state", out, err); err != nil {
		return nil, err
	}
	return parseStatus(out.Stdout)
}

func parseStatus(s string) (*Status, error) {
	head, body, ok := strings.Cut(s, "---\n")
	if !ok {
		return nil, fmt.Errorf("parsing node state: no separator in %q", tail(s, 5))
	}
	st := &Status{}
	sc := bufio.NewScanner(strings.NewReader(head))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "boot_id":
			st.BootID = strings.TrimSpace(v)
		case "generation":
			st.Generation = v
		case "mode":
			st.Mode = v
		}
	}
	if st.BootID == "" {
		return nil, fmt.Errorf("parsing node state: no boot id")
	}
	var err error
	if st.Generation == "v2" {
		err = parseV2(body, st)
	} else {
		err = parseV1(body, st)
	}
	return st, err
}

type v2Image struct {
	Source string `yaml:"source"`
	Digest string `yaml:"digest"`
	Active bool   `yaml:"active"`
}

func parseV2(body string, st *Status) error {
	var doc struct {
		State struct {
			Snapshots map[int]v2Image `yaml:"snapshots"`
		} `yaml:"state"`
	}
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return fmt.Errorf("parsing elemental state output: %w", err)
	}
	ids := make([]int, 0, len(doc.State.Snapshots))
	for id := range doc.State.Snapshots {
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	for _, id := range ids {
		snap := doc.State.Snapshots[id]
		if snap.Active && st.ActiveDigest == "" {
			st.ActiveSource, st.ActiveDigest = snap.Source, snap.Digest
			continue
		}
		st.PassiveDigests = append(st.PassiveDigests, snap.Digest)
	}
	if st.ActiveDigest == "" {
		return fmt.Errorf("parsing elemental state output: no active snapshot with a digest")
	}
	return nil
}

type v1Image struct {
	Source   string `yaml:"source"`
	Metadata struct {
		Digest string `yaml:"digest"`
	} `yaml:"source-metadata"`
}

func parseV1(body string, st *Status) error {
	var doc struct {
		State struct {
			Active  *v1Image `yaml:"active"`
			Passive *v1Image `yaml:"passive"`
		} `yaml:"state"`
	}
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return fmt.Errorf("parsing state.yaml: %w", err)
	}
	if a := doc.State.Active; a != nil {
		st.ActiveSource, st.ActiveDigest = a.Source, a.Metadata.Digest
	}
	if p := doc.State.Passive; p != nil && p.Metadata.Digest != "" {
		st.PassiveDigests = []string{p.Metadata.Digest}
	}
	if st.ActiveDigest == "" {
		return fmt.Errorf("parsing state.yaml: no active image digest")
	}
	return nil
}
