package oci_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

func reg(p, data string) imagetest.File {
	return imagetest.File{Path: p, Type: rootfs.TypeReg, Data: []byte(data)}
}

func hardlink(p, target string) imagetest.File {
	return imagetest.File{Path: p, Type: rootfs.TypeHardlink, Linkname: target}
}

func dir(p string) imagetest.File { return imagetest.File{Path: p, Type: rootfs.TypeDir} }

func TestWalkValidation(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name   string
		layers []imagetest.Layer // base first
		// badLayer is the index of the layer the error must name.
		badLayer int
		wantErr  string
		wantIs   error
	}{
		{name: "dotdot name", layers: []imagetest.Layer{{reg("../x", "x")}},
			wantErr: `entry "../x": path escapes the root`, wantIs: oci.ErrUnsafePath},
		{name: "dotdot inside name", layers: []imagetest.Layer{{reg("a/../../etc/x", "x")}},
			wantErr: `entry "a/../../etc/x": path escapes the root`, wantIs: oci.ErrUnsafePath},
		{name: "empty name", layers: []imagetest.Layer{{reg("", "x")}},
			wantErr: `entry "": path escapes the root`, wantIs: oci.ErrUnsafePath},
		{name: "hardlink escapes", layers: []imagetest.Layer{{reg("a", "x"), hardlink("b", "../a")}},
			wantErr: `entry "b": hardlink target "../a": path escapes the root`, wantIs: oci.ErrUnsafePath},
		{name: "hardlink absolute outside", layers: []imagetest.Layer{{reg("a", "x"), hardlink("b", "/../a")}},
			wantErr: `entry "b": hardlink target "/../a": path escapes the root`, wantIs: oci.ErrUnsafePath},
		{name: "hardlink absent", layers: []imagetest.Layer{{reg("a", "x"), hardlink("b", "nope")}},
			wantErr: `entry "b": hardlink target "nope" is absent or hidden`, wantIs: oci.ErrBadHardlink},
		{name: "hardlink target whited out", badLayer: 1, layers: []imagetest.Layer{
			{reg("a", "x")},
			{{Path: "a", Whiteout: true}, hardlink("b", "a")},
		}, wantErr: `entry "b": hardlink target "a" is absent or hidden`, wantIs: oci.ErrBadHardlink},
		{name: "hardlink target under opaque dir", badLayer: 0, layers: []imagetest.Layer{
			{dir("d"), reg("d/a", "x"), hardlink("b", "d/a")},
			{dir("d"), {Path: "d", Opaque: true}},
		}, wantErr: `entry "b": hardlink target "d/a" is absent or hidden`, wantIs: oci.ErrBadHardlink},
		{name: "hardlink target replaced later", badLayer: 0, layers: []imagetest.Layer{
			{reg("a", "old"), hardlink("b", "a")},
			{reg("a", "new")},
		}, wantErr: `entry "b": hardlink target "a" was replaced by a later layer`, wantIs: oci.ErrBadHardlink},
		{name: "hardlink to directory", layers: []imagetest.Layer{{dir("d"), hardlink("b", "d")}},
			wantErr: `entry "b": hardlink target "d" is a directory`, wantIs: oci.ErrBadHardlink},
		{name: "hardlink loop", layers: []imagetest.Layer{{hardlink("a", "b"), hardlink("b", "a")}},
			wantErr: `is a loop`, wantIs: oci.ErrBadHardlink},
		{name: "whiteout of dot", layers: []imagetest.Layer{{{Path: ".", Whiteout: true}}},
			wantErr: `entry ".wh..": whiteout ".wh.." hides "."`, wantIs: oci.ErrBadWhiteout},
		{name: "whiteout of slash", layers: []imagetest.Layer{{{Path: "/", Whiteout: true}}},
			wantErr: `entry "/.wh.": whiteout ".wh." hides ""`, wantIs: oci.ErrBadWhiteout},
		{name: "duplicate in one layer", layers: []imagetest.Layer{{reg("a", "1"), reg("./a", "2")}},
			wantErr: `entry "./a": duplicate entry`, wantIs: oci.ErrDuplicate},
		{name: "duplicate dir in one layer", layers: []imagetest.Layer{{dir("d"), dir("/d")}},
			wantErr: `entry "/d/": duplicate entry`, wantIs: oci.ErrDuplicate},
		{name: "duplicate whiteout", layers: []imagetest.Layer{{reg("z", "")}, {{Path: "a", Whiteout: true}, {Path: "a", Whiteout: true}}},
			badLayer: 1, wantErr: `entry ".wh.a": duplicate entry`, wantIs: oci.ErrDuplicate},
		{name: "name too long", layers: []imagetest.Layer{{reg("d/"+long, "x")}},
			wantErr: `name longer than 255 bytes`, wantIs: oci.ErrNameTooLong},
		{name: "hardlink target too long", layers: []imagetest.Layer{{hardlink("a", long)}},
			wantErr: `name longer than 255 bytes`, wantIs: oci.ErrNameTooLong},
		{name: "file with children", layers: []imagetest.Layer{{reg("f", "x"), reg("f/g", "y")}},
			wantErr: `entry "f/g": parent "f" is a regular file`, wantIs: oci.ErrBadEntry},
		{name: "children before file", layers: []imagetest.Layer{{reg("f/g", "y"), reg("f", "x")}},
			wantErr: `entry "f": regular file has entries below it`, wantIs: oci.ErrBadEntry},
		{name: "empty symlink", layers: []imagetest.Layer{{{Path: "s", Type: rootfs.TypeSymlink}}},
			wantErr: `entry "s": symlink target of 0 bytes`, wantIs: oci.ErrBadEntry},
		{name: "root not a directory", layers: []imagetest.Layer{{{Path: "./", Type: rootfs.TypeSymlink, Linkname: "x"}}},
			wantErr: `root is a symlink`, wantIs: oci.ErrBadEntry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := mustImage(t, tc.layers...)
			src, err := oci.Open(context.Background(), layoutRef(t, img), oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = src.Walk(context.Background(), newRecorder(t))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v, want %q (%v)", err, tc.wantErr, tc.wantIs)
			}
			if d := src.Layers()[tc.badLayer].Digest.String(); !strings.Contains(err.Error(), "layer "+d+": ") {
				t.Errorf("error %q does not name layer %s", err, d)
			}
		})
	}
}

func TestWalkFlattening(t *testing.T) {
	tests := []struct {
		name   string
		layers []imagetest.Layer
		want   []string
	}{
		{name: "absolute names made relative", layers: []imagetest.Layer{{
			{Path: "/", Type: rootfs.TypeDir}, dir("/etc"), reg("/etc/a", "x"), hardlink("/etc/b", "/etc/a"),
		}}, want: []string{". (directory)", "etc (directory)", "etc/a (regular file)", "etc/b (hardlink) -> etc/a"}},
		{name: "upper version wins", layers: []imagetest.Layer{{reg("a", "old"), reg("keep", "k")}, {reg("a", "new")}},
			want: []string{"a (regular file)", "keep (regular file)"}},
		{name: "whiteout hides a lower directory tree", layers: []imagetest.Layer{
			{dir("d"), reg("d/x", "x"), dir("d/e"), reg("d/e/y", "y"), reg("other", "o")},
			{{Path: "d", Whiteout: true}},
		}, want: []string{"other (regular file)"}},
		{name: "whiteout does not hide its own layer", layers: []imagetest.Layer{
			{reg("a", "old")},
			{reg("a", "new"), {Path: "a", Whiteout: true}},
		}, want: []string{"a (regular file)"}},
		{name: "whiteout then recreate above", layers: []imagetest.Layer{
			{reg("a", "1")}, {{Path: "a", Whiteout: true}}, {reg("a", "3")},
		}, want: []string{"a (regular file)"}},
		{name: "opaque keeps same-layer entries in any order", layers: []imagetest.Layer{
			{dir("d"), reg("d/old", "o"), dir("d/sub"), reg("d/sub/x", "x")},
			{reg("d/new1", "1"), {Path: "d", Opaque: true}, reg("d/new2", "2")},
		}, want: []string{"d (directory)", "d/new1 (regular file)", "d/new2 (regular file)"}},
		{name: "file replaces lower directory", layers: []imagetest.Layer{
			{dir("d"), reg("d/x", "x")}, {reg("d", "file")},
		}, want: []string{"d (regular file)"}},
		{name: "directory replaces lower file", layers: []imagetest.Layer{
			{reg("d", "file")}, {reg("d/x", "x")},
		}, want: []string{"d/x (regular file)"}},
		{name: "hardlink to lower layer and chains", layers: []imagetest.Layer{
			{reg("a", "x")}, {hardlink("b", "a"), hardlink("c", "b")},
		}, want: []string{"a (regular file)", "b (hardlink) -> a", "c (hardlink) -> a"}},
		{name: "opaque root", layers: []imagetest.Layer{
			{reg("old", "o"), dir("d"), reg("d/x", "x")},
			{{Path: ".", Opaque: true}, reg("new", "n")},
		}, want: []string{"new (regular file)"}},
		{name: "aufs metadata ignored", layers: []imagetest.Layer{{
			{Path: ".wh..wh.plnk/1.2", Type: rootfs.TypeReg}, reg("a", "x"),
			{Path: ".wh..wh.plnk", Type: rootfs.TypeDir},
		}}, want: []string{"a (regular file)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, rec, err := walk(t, layoutRef(t, mustImage(t, tc.layers...)), oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, rec.summary()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if g := rec.byPath["a"]; g != nil && g.Type == "regular file" && g.Data == "old" {
				t.Errorf("lower version of a delivered")
			}
		})
	}
}

func TestWalkTorture(t *testing.T) {
	layers := append(imagetest.Derivative(2, "1.0"), imagetest.Torture("usr/bin/elemental"))
	_, rec, err := walk(t, layoutRef(t, mustImage(t, layers...)), oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]rootfs.Entry{}
	pos := map[string]int{}
	for i, e := range rec.entries {
		byPath[e.Path], pos[e.Path] = e, i
	}
	type meta struct {
		Type         rootfs.Type
		Mode         uint32
		UID, GID     uint32
		Size         int64
		Link         string
		Major, Minor uint32
		Xattrs       map[string][]byte
		ModTimeEpoch bool
	}
	tests := []struct {
		path string
		want meta
	}{
		{"torture/hardlink", meta{Type: rootfs.TypeHardlink, Mode: 0o644, Link: "torture/file", ModTimeEpoch: true}},
		{"torture/lowerlink", meta{Type: rootfs.TypeHardlink, Mode: 0o644, Link: "usr/bin/elemental", ModTimeEpoch: true}},
		{"torture/rel-symlink", meta{Type: rootfs.TypeSymlink, Mode: 0o777, Link: "file", ModTimeEpoch: true}},
		{"torture/abs-symlink", meta{Type: rootfs.TypeSymlink, Mode: 0o777, Link: "/usr/bin/elemental", ModTimeEpoch: true}},
		{"torture/ping", meta{Type: rootfs.TypeReg, Mode: 0o755, Size: 5, ModTimeEpoch: true, Xattrs: map[string][]byte{
			"security.capability": []byte(imagetest.Capability), "user.comment": []byte("hello")}}},
		{"torture/setuid", meta{Type: rootfs.TypeReg, Mode: 0o4755, Size: 3, ModTimeEpoch: true}},
		{"torture/setgid", meta{Type: rootfs.TypeDir, Mode: 0o2775, GID: 50, ModTimeEpoch: true}},
		{"torture/sticky", meta{Type: rootfs.TypeDir, Mode: 0o1777, ModTimeEpoch: true}},
		{"torture/owned", meta{Type: rootfs.TypeReg, Mode: 0o600, UID: 1000, GID: 1000, Size: 5, ModTimeEpoch: true}},
		{"torture/zero", meta{Type: rootfs.TypeChar, Mode: 0o666, Major: 1, Minor: 5, ModTimeEpoch: true}},
		{"torture/sda", meta{Type: rootfs.TypeBlock, Mode: 0o660, GID: 6, Major: 8, ModTimeEpoch: true}},
		{"torture/fifo", meta{Type: rootfs.TypeFIFO, Mode: 0o600, ModTimeEpoch: true}},
		{"torture/" + imagetest.LongName, meta{Type: rootfs.TypeReg, Mode: 0o644, Size: 5, ModTimeEpoch: true}},
		{"torture/ünïcødé-日本語.txt", meta{Type: rootfs.TypeReg, Mode: 0o644, Size: 6, ModTimeEpoch: true}},
		{"torture/sparse", meta{Type: rootfs.TypeReg, Mode: 0o644, Size: imagetest.SparseSize, ModTimeEpoch: true}},
		{"dev/null", meta{Type: rootfs.TypeChar, Mode: 0o666, Major: 1, Minor: 3, ModTimeEpoch: true}},
		{"proc/x", meta{Type: rootfs.TypeReg, Mode: 0o644, Size: 2, ModTimeEpoch: true}},
		{".snapshots/x", meta{Type: rootfs.TypeReg, Mode: 0o644, Size: 2, ModTimeEpoch: true}},
		{"etc/resolv.conf", meta{Type: rootfs.TypeReg, Mode: 0o644, Size: 21, ModTimeEpoch: true}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			e, ok := byPath[tc.path]
			if !ok {
				t.Fatalf("%q not delivered", tc.path)
			}
			got := meta{Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size, Link: e.Linkname,
				Major: e.Devmajor, Minor: e.Devminor, Xattrs: e.Xattrs, ModTimeEpoch: e.ModTime.Equal(imagetest.EpochTime())}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if e.Type == rootfs.TypeHardlink && pos[e.Linkname] > pos[e.Path] {
				t.Errorf("hardlink %q delivered before its target %q", e.Path, e.Linkname)
			}
		})
	}
	if g := rec.byPath["torture/sparse"]; g.Data[:12] != "sparse head\n" || g.NonZeroTail {
		t.Errorf("sparse file: head %q, non-zero tail %v", g.Data[:12], g.NonZeroTail)
	}
}

// layoutBlob returns the path of layer i's blob in the layout behind ref.
func layoutBlob(t *testing.T, src *oci.Source, ref string, i int) string {
	t.Helper()
	d := src.Layers()[i].Digest
	return filepath.Join(strings.TrimPrefix(ref, oci.LayoutPrefix), "blobs", d.Algorithm, d.Hex)
}

func TestWalkCorruptBlob(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
		wantErr string
		wantIs  error
	}{
		{name: "flipped gzip mtime byte", corrupt: func(b []byte) []byte { b[4] ^= 0xff; return b },
			wantErr: "blob has digest sha256:", wantIs: oci.ErrDigestMismatch},
		{name: "flipped data byte", corrupt: func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }},
		{name: "appended garbage", corrupt: func(b []byte) []byte { return append(b, 0, 0, 0, 0) },
			wantErr: "blob is longer than", wantIs: oci.ErrDigestMismatch},
		{name: "truncated", corrupt: func(b []byte) []byte { return b[:len(b)-10] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := layoutRef(t, mustImage(t, imagetest.Derivative(2, "1.0")...))
			src, err := oci.Open(context.Background(), ref, oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			blob := layoutBlob(t, src, ref, 1)
			b, err := os.ReadFile(blob)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blob, tc.corrupt(b), 0o644); err != nil {
				t.Fatal(err)
			}
			err = src.Walk(context.Background(), newRecorder(t))
			want := "layer " + src.Layers()[1].Digest.String() + ": "
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to name %q and say %q", err, want, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
		})
	}
}

func TestWalkBlobFormats(t *testing.T) {
	files := imagetest.Layer{reg("a", "alpha"), reg("b", strings.Repeat("b", 100000))}
	tarb, err := files.Tar()
	if err != nil {
		t.Fatal(err)
	}
	gz, err := files.Blob()
	if err != nil {
		t.Fatal(err)
	}
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(tarb)
	zw.Close()
	tests := []struct {
		name    string
		blob    []byte
		wantErr string
	}{
		{name: "gzip", blob: gz},
		{name: "zstd", blob: zs.Bytes()},
		{name: "plain tar", blob: tarb},
		{name: "truncated gzip", blob: gz[:len(gz)/2], wantErr: "unexpected EOF"},
		{name: "truncated zstd", blob: zs.Bytes()[:zs.Len()/2], wantErr: "unexpected EOF"},
		{name: "not a tar", blob: []byte("hello, world"), wantErr: "reading tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := imagetest.ImageFromBlobs(tc.blob)
			if err != nil {
				t.Fatal(err)
			}
			src, rec, err := walk(t, layoutRef(t, img), oci.Options{})
			if tc.wantErr != "" {
				d := "layer " + src.Layers()[0].Digest.String() + ": "
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), d) {
					t.Fatalf("err = %v, want %q naming %q", err, tc.wantErr, d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := rec.byPath["b"]; g == nil || g.Size != 100000 || rec.byPath["a"].Data != "alpha" {
				t.Errorf("entries %v", rec.summary())
			}
		})
	}
}
