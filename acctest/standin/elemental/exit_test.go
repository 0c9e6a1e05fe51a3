package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/elemental-suite/elemental/acctest/registry"
	"github.com/elemental-suite/elemental/internal/grubenv"
)

// testEnv is an env rooted at a temp dir with the given files.
func testEnv(t *testing.T, euid int, files map[string]string) (*env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	return &env{root: root, stdout: &out, stderr: &errOut, euid: euid, getenv: noEnv}, &out, &errOut
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name    string
		euid    int
		files   map[string]string
		args    []string
		want    int
		wantErr string
		wantOut string
	}{
		{name: "upgrade needs root", euid: 1000, args: []string{"upgrade", "--system", "oci:r/i:1"}, want: 58, wantErr: "root"},
		{name: "reset needs root", euid: 1000, args: []string{"reset"}, want: 58},
		{name: "reset outside recovery v2", euid: 0, files: map[string]string{"proc/cmdline": "root=LABEL=COS_STATE elemental.mode=active"},
			args: []string{"reset"}, want: 1, wantErr: "reset can only be called from the recovery system"},
		{name: "reset outside recovery v1", euid: 0, files: map[string]string{"proc/cmdline": "cos-img/filename=/cOS/active.img", "run/cos/active_mode": ""},
			args: []string{"reset"}, want: 1, wantErr: "reset can only be called from the recovery system"},
		{name: "bad upgrade flag", euid: 0, args: []string{"upgrade", "--no-such-flag"}, want: 1, wantErr: "no-such-flag"},
		{name: "unknown command", euid: 0, args: []string{"install"}, want: 1, wantErr: "unknown command"},
		{name: "help says stand-in", euid: 1000, args: []string{"--help"}, want: 0, wantOut: "TEST STAND-IN"},
		{name: "command help", euid: 1000, args: []string{"upgrade", "--help"}, want: 0, wantOut: "NOT the toolkit"},
		{name: "state v2", euid: 1000, files: map[string]string{"run/initramfs/elemental-state/state.yaml": "date: x\n"},
			args: []string{"--debug", "state"}, want: 0, wantOut: "date: x\n"},
		{name: "state v1 fallback", euid: 1000, files: map[string]string{"run/initramfs/cos-state/state.yaml": "date: y\n"},
			args: []string{"state"}, want: 0, wantOut: "date: y\n"},
		{name: "state missing", euid: 1000, args: []string{"state"}, want: 89},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, out, errOut := testEnv(t, tt.euid, tt.files)
			got := run(context.Background(), tt.args, e)
			if got != tt.want {
				t.Errorf("exit = %d, want %d; stdout %q stderr %q", got, tt.want, out, errOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
		})
	}
}

func TestWithCodeOutermostWins(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: 0},
		{name: "plain", err: errors.New("x"), want: 1},
		{name: "coded", err: withCode(exitDumpSource, errors.New("pull")), want: 18},
		{name: "outer wins", err: withCode(exitDumpSource, fmt.Errorf("pull: %w", codef(exitCommandRun, "cp"))), want: 18},
		{name: "wrapped", err: fmt.Errorf("ctx: %w", codef(exitNeedsRoot, "root")), want: 58},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

// tarLayer builds an uncompressed layer from tar headers and contents.
func tarLayer(t *testing.T, entries []tar.Header, data map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		h.Uid, h.Gid = os.Getuid(), os.Getgid()
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data[h.Name]))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, data[h.Name])
	}
	tw.Close()
	return b.Bytes()
}

func TestPullExtractsAndFailsWith18(t *testing.T) {
	reg, err := registry.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	host := reg.Host()
	layer := tarLayer(t, []tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "usr/bin/tool", Typeflag: tar.TypeReg, Mode: 0o4755},
		{Name: "usr/bin/alias", Typeflag: tar.TypeSymlink, Linkname: "tool", Mode: 0o777},
		{Name: "usr/bin/hard", Typeflag: tar.TypeLink, Linkname: "usr/bin/tool"},
	}, map[string]string{"etc/os-release": "GRUB_ENTRY_NAME=\"Test OS\"\n", "usr/bin/tool": "#!/bin/sh\n"})
	l, err := tarball.LayerFromReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/derivative:v2")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := img.Digest()

	e, _, _ := testEnv(t, 0, nil)
	dir := t.TempDir()
	src, _ := parseSource("oci:" + host + "/derivative:v2")
	dep, err := deploySource(context.Background(), e, src, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if dep.digest != wantDigest.String() || dep.source != "oci://"+host+"/derivative:v2" {
		t.Errorf("deployed = %+v, want digest %s", dep, wantDigest)
	}
	fi, err := os.Stat(filepath.Join(dir, "usr/bin/tool"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("tool mode = %v (%v), want setuid 0755", fi.Mode(), err)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "usr/bin/alias")); target != "tool" {
		t.Errorf("symlink target = %q", target)
	}
	hard, _ := os.Stat(filepath.Join(dir, "usr/bin/hard"))
	if !os.SameFile(fi, hard) {
		t.Error("hardlink not preserved")
	}
	if got := osReleaseEntry(dir); got != "Test OS" {
		t.Errorf("GRUB_ENTRY_NAME = %q", got)
	}

	missing, _ := parseSource("oci:" + host + "/derivative:nope")
	_, err = deploySource(context.Background(), e, missing, t.TempDir(), true)
	if exitCode(err) != exitDumpSource {
		t.Errorf("missing image: exit %d (%v), want 18", exitCode(err), err)
	}
	_, err = deploySource(context.Background(), e, source{kind: "dir", ref: "/nonexistent/tree"}, t.TempDir(), false)
	if exitCode(err) != exitDumpSource {
		t.Errorf("missing dir: exit %d (%v), want 18", exitCode(err), err)
	}
}

func TestSafeJoinRefusesEscape(t *testing.T) {
	for _, n := range []string{"../etc/passwd", "a/../../b"} {
		if p, err := safeJoin("/tmp/x", n); err == nil && !strings.HasPrefix(p, "/tmp/x/") {
			t.Errorf("safeJoin(%q) = %q escapes", n, p)
		}
	}
}

func TestGrubEditenv(t *testing.T) {
	e, out, _ := testEnv(t, 1000, nil)
	f := filepath.Join(e.root, "grub_oem_env")
	steps := [][]string{
		{"grub-editenv", f, "set", "state_label=COS_STATE", "default_fallback=0 1"},
		{"grub-editenv", f, "set", "passive_snaps=2 1", "default_fallback=0 1 2"},
		{"grub-editenv", f, "unset", "state_label"},
		{"grub-editenv", f, "list"},
	}
	for _, s := range steps {
		if code := run(context.Background(), s, e); code != 0 {
			t.Fatalf("%v: exit %d", s, code)
		}
	}
	if want := "default_fallback=0 1 2\npassive_snaps=2 1\n"; out.String() != want {
		t.Errorf("list = %q, want %q", out, want)
	}
	b, _ := os.ReadFile(f)
	if len(b) != grubenv.Size {
		t.Errorf("block is %d bytes, want %d", len(b), grubenv.Size)
	}
}
