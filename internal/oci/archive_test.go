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
)

// TestArchiveLayers covers docker archives whose layers are stored as
// plain tar files (docker save before v25), read uncompressed and checked
// against the config's DiffIDs.
func TestArchiveLayers(t *testing.T) {
	files := imagetest.Layer{reg("a", "alpha"), reg("b", "bravo-bravo")}
	tarb, err := files.Tar()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		corrupt bool
		wantErr string
	}{
		{name: "plain tar layer"},
		{name: "corrupt plain tar layer", corrupt: true, wantErr: "blob has digest sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := imagetest.ImageFromBlobs(tarb)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "img.tar")
			if err := imagetest.WriteDockerArchive(f, img, "x/y:z"); err != nil {
				t.Fatal(err)
			}
			if tc.corrupt {
				b, _ := os.ReadFile(f)
				i := bytes.Index(b, []byte("bravo-bravo"))
				if i < 0 {
					t.Fatal("layer data not found in archive")
				}
				b[i] = 'B'
				os.WriteFile(f, b, 0o644)
			}
			src, err := oci.Open(context.Background(), oci.ArchivePrefix+f, oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			l := src.Layers()[0]
			if l.Size != -1 || l.Digest != l.DiffID {
				t.Errorf("layer info %+v: want Size -1 and Digest = DiffID", l)
			}
			rec := newRecorder(t)
			err = src.Walk(context.Background(), rec)
			if tc.wantErr != "" {
				if !errors.Is(err, oci.ErrDigestMismatch) || !strings.Contains(err.Error(), "layer "+l.DiffID.String()+": ") ||
					!strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want digest mismatch naming layer %s", err, l.DiffID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.byPath["b"] == nil || rec.byPath["b"].Data != "bravo-bravo" {
				t.Errorf("entries %v", rec.summary())
			}
		})
	}
}

func TestArchiveSplitRef(t *testing.T) {
	img := mustImage(t, imagetest.Layer{{Path: "f", Type: rootfs.TypeReg}})
	dir := filepath.Join(t.TempDir(), "odd:dir")
	os.MkdirAll(dir, 0o755)
	f := filepath.Join(dir, "img.tar")
	if err := imagetest.WriteDockerArchive(f, img, "reg.example:5000/x/y:z"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, ref, wantErr string }{
		{name: "colon in path, no tag", ref: oci.ArchivePrefix + f},
		{name: "colon in path and registry port in tag", ref: oci.ArchivePrefix + f + ":reg.example:5000/x/y:z"},
		{name: "unknown tag", ref: oci.ArchivePrefix + f + ":x/y:nope", wantErr: "x/y:nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oci.Open(context.Background(), tc.ref, oci.Options{})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
