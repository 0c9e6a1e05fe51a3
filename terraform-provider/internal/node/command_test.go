package node_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
)

func TestUpgradeCommands(t *testing.T) {
	const ref, dig = "registry.example/os", "sha256:abc"
	tests := []struct {
		name       string
		generation string
		recovery   bool
		insecure   bool
		want       []string
	}{
		{name: "v2", generation: "v2", want: []string{"elemental upgrade --system 'oci:registry.example/os@sha256:abc'"}},
		{name: "v2 recovery", generation: "v2", recovery: true,
			want: []string{"elemental upgrade --system 'oci:registry.example/os@sha256:abc' --recovery"}},
		{name: "v1", generation: "v1", want: []string{"elemental upgrade --system.uri 'docker:registry.example/os@sha256:abc'"}},
		{name: "v1 recovery is a second command", generation: "v1", recovery: true, want: []string{
			"elemental upgrade --system.uri 'docker:registry.example/os@sha256:abc'",
			"elemental upgrade --recovery --recovery-system.uri 'docker:registry.example/os@sha256:abc'"}},
		{name: "v2 insecure registry", generation: "v2", insecure: true,
			want: []string{"elemental upgrade --system 'oci:registry.example/os@sha256:abc' --tls-verify=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := node.UpgradeCommands(tt.generation, node.Upgrade{Ref: ref, Digest: dig, Recovery: tt.recovery, InsecureRegistry: tt.insecure})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			for _, c := range got {
				if strings.Contains(c, "--reboot") || strings.Contains(c, "--poweroff") {
					t.Errorf("%q asks the toolkit to reboot, which kills the SSH session", c)
				}
			}
		})
	}
}

func TestUpgradeCommandQuotesReference(t *testing.T) {
	got := node.UpgradeCommands("v2", node.Upgrade{Ref: "evil'; rm -rf /;'", Digest: "sha256:x"})[0]
	if want := `elemental upgrade --system 'oci:evil'\''; rm -rf /;'\''@sha256:x'`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestExitMeaning(t *testing.T) {
	tests := []struct {
		name string
		code int
		want string
	}{
		{name: "pull failed", code: 18, want: "pulling or extracting the image failed"},
		{name: "needs root", code: 58, want: "needs root"},
		{name: "not a toolkit error", code: 1, want: "not a toolkit error code"},
		{name: "recovery upgrade", code: 88, want: "upgrading the recovery system failed"},
		{name: "no elemental", code: 127, want: "command not found"},
		{name: "unknown", code: 77, want: "unexpected exit code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := node.ExitMeaning(tt.code); !strings.Contains(got, tt.want) {
				t.Errorf("ExitMeaning(%d) = %q, want it to contain %q", tt.code, got, tt.want)
			}
			err := error(&node.ExitError{Command: "elemental upgrade", Code: tt.code, Output: "last line"})
			var ee *node.ExitError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "last line") {
				t.Errorf("error %q lacks the meaning or the output", err)
			}
		})
	}
}
