package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func noEnv(string) string { return "" }

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseUpgrade(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		gen     generation
		args    []string
		env     map[string]string
		want    upgradeOpts
		wantErr string
	}{
		{name: "v2 system with digest", gen: genV2, args: []string{"--system", "oci:10.0.2.2:5000/d:v2@" + digest},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "10.0.2.2:5000/d:v2@" + digest}}},
		{name: "v2 docker scheme adds latest", gen: genV2, args: []string{"--system=docker:reg/img"},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "reg/img:latest"}}},
		{name: "v2 recovery too, same source", gen: genV2, args: []string{"--system", "oci:r/i:1", "--recovery"},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "r/i:1"}, recovery: true, recoverySystem: &source{"oci", "r/i:1"}}},
		{name: "v2 recovery other source", gen: genV2, args: []string{"--system", "oci:r/i:1", "--recovery", "--recovery-system.uri", "docker:r/rec:1"},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "r/i:1"}, recovery: true, recoverySystem: &source{"oci", "r/rec:1"}}},
		{name: "v2 labels, insecure, reboot", gen: genV2, args: []string{"--system", "r/i:1", "--snapshot-labels", "a=b,c=d", "--tls-verify=false", "--reboot"},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "r/i:1"}, snapshotLabels: map[string]string{"a": "b", "c": "d"}, insecure: true, reboot: true}},
		{name: "v2 insecure from env", gen: genV2, args: []string{"--system", "oci:r/i:1"}, env: map[string]string{"ELEMENTAL_INSECURE_REGISTRY": "1"},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "r/i:1"}, insecure: true}},
		{name: "v2 system from env", gen: genV2, env: map[string]string{"ELEMENTAL_UPGRADE_SYSTEM": "oci:r/e:1"},
			want: upgradeOpts{gen: genV2, system: &source{"oci", "r/e:1"}}},
		{name: "v2 rejects v1 flag", gen: genV2, args: []string{"--system.uri", "docker:r/i"}, wantErr: "system.uri"},
		{name: "v1 system.uri", gen: genV1, args: []string{"--system.uri", "docker:reg/img"},
			want: upgradeOpts{gen: genV1, system: &source{"oci", "reg/img:latest"}}},
		{name: "v1 docker-image", gen: genV1, args: []string{"--docker-image", "reg/img:2"},
			want: upgradeOpts{gen: genV1, system: &source{"oci", "reg/img:2"}}},
		{name: "v1 -d and directory precedence", gen: genV1, args: []string{"-d", "reg/img:2"},
			want: upgradeOpts{gen: genV1, system: &source{"oci", "reg/img:2"}}},
		{name: "v1 recovery only", gen: genV1, args: []string{"--recovery", "--recovery-system.uri", "docker:reg/rec:3"},
			want: upgradeOpts{gen: genV1, recovery: true, recoverySystem: &source{"oci", "reg/rec:3"}}},
		{name: "v1 rejects v2 flag", gen: genV1, args: []string{"--system", "oci:r/i"}, wantErr: "system"},
		{name: "dir source", gen: genV2, args: []string{"--directory", "/srv/tree"},
			want: upgradeOpts{gen: genV2, system: &source{"dir", "/srv/tree"}}},
		{name: "no source", gen: genV2, wantErr: "no image source"},
		{name: "reboot and poweroff", gen: genV2, args: []string{"--system", "r/i", "--reboot", "--poweroff"}, wantErr: "mutually exclusive"},
		{name: "bad label", gen: genV2, args: []string{"--system", "r/i", "--snapshot-labels", "novalue"}, wantErr: "key=value"},
		{name: "relative dir", gen: genV2, args: []string{"--system", "dir:tree"}, wantErr: "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUpgrade(tt.gen, tt.args, envMap(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got, cmp.AllowUnexported(upgradeOpts{}, source{})); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReset(t *testing.T) {
	tests := []struct {
		name string
		gen  generation
		args []string
		want resetOpts
	}{
		{name: "v2 defaults", gen: genV2, want: resetOpts{gen: genV2}},
		{name: "v2 system and persistent", gen: genV2, args: []string{"--system", "oci:r/i:1", "--reset-persistent"},
			want: resetOpts{gen: genV2, system: &source{"oci", "r/i:1"}, resetPersistent: true}},
		{name: "v1 system.uri", gen: genV1, args: []string{"--system.uri", "file:/run/initramfs/cos-state/cOS/recovery.img", "--reset-oem"},
			want: resetOpts{gen: genV1, system: &source{"file", "/run/initramfs/cos-state/cOS/recovery.img"}, resetOEM: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReset(tt.gen, tt.args, noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got, cmp.AllowUnexported(resetOpts{}, source{})); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourceString(t *testing.T) {
	tests := []struct{ name, uri, want string }{
		{name: "oci", uri: "oci:reg/img:1", want: "oci://reg/img:1"},
		{name: "oci with slashes", uri: "oci://reg/img:1", want: "oci://reg/img:1"},
		{name: "bare with port", uri: "127.0.0.1:5000/img", want: "oci://127.0.0.1:5000/img:latest"},
		{name: "dir", uri: "dir:/srv/x", want: "dir:///srv/x"},
		{name: "file", uri: "file:///run/r.img", want: "file:///run/r.img"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSource(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetectGeneration(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  generation
	}{
		{name: "v2 sentinels win over legacy copies", files: []string{"run/elemental/active_mode", "run/cos/active_mode", "etc/cos/"}, want: genV2},
		{name: "v1 sentinel", files: []string{"run/cos/passive_mode", "etc/elemental/"}, want: genV1},
		{name: "v2 config dir", files: []string{"etc/elemental/", "etc/cos/"}, want: genV2},
		{name: "v1 config dir", files: []string{"etc/cos/"}, want: genV1},
		{name: "nothing: v2", want: genV2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(root, f)
				if strings.HasSuffix(f, "/") {
					os.MkdirAll(p, 0o755)
					continue
				}
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, nil, 0o644)
			}
			if got := detectGeneration(&env{root: root}); got != tt.want {
				t.Errorf("generation = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInRecovery(t *testing.T) {
	tests := []struct {
		name    string
		gen     generation
		cmdline string
		want    bool
	}{
		{name: "v2 recovery", gen: genV2, cmdline: "root=LABEL=COS_RECOVERY elemental.mode=recovery elemental.image=recovery", want: true},
		{name: "v2 active", gen: genV2, cmdline: "root=LABEL=COS_STATE elemental.mode=active elemental.image=active", want: false},
		{name: "v1 recovery", gen: genV1, cmdline: "root=LABEL=COS_RECOVERY cos-img/filename=/cOS/recovery.img", want: true},
		{name: "v1 needs recovery.img", gen: genV1, cmdline: "root=LABEL=COS_RECOVERY recovery", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inRecovery(tt.gen, tt.cmdline); got != tt.want {
				t.Errorf("inRecovery = %v, want %v", got, tt.want)
			}
		})
	}
}
