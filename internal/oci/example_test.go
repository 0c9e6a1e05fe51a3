package oci_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// ExampleSource_Walk sizes a derivative's root filesystem with a
// rootfs.Counter, the header pass the installer makes before writing.
func ExampleSource_Walk() {
	dir, _ := os.MkdirTemp("", "layout")
	defer os.RemoveAll(dir)
	img, _ := imagetest.Image(imagetest.Derivative(2, "1.0")...)
	_ = imagetest.WriteLayout(filepath.Join(dir, "os"), img, "v1")

	ctx := context.Background()
	src, err := oci.Open(ctx, oci.LayoutPrefix+filepath.Join(dir, "os")+":v1", oci.Options{Platform: "linux/amd64"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var c rootfs.Counter
	if err := src.Walk(ctx, &c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s, %d layers: %d entries, %d files, %d symlinks\n",
		src.Platform, len(src.Layers()), c.Stats.Entries, c.Stats.Files, c.Stats.Symlinks)
	// Output: linux/amd64, 3 layers: 34 entries, 14 files, 3 symlinks
}
