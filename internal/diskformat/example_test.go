package diskformat_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// Convert a finished raw disk into the Azure format, atomically.
func ExampleConvertFile() {
	ctx := context.Background()
	f, err := diskformat.ParseFormat("vhd")
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := diskformat.Options{Time: time.Unix(1700000000, 0), Seed: "elemental"}
	if err := diskformat.ConvertFile(ctx, "elemental.raw", f, "elemental"+f.Ext(), opts); err != nil {
		fmt.Println(err)
	}
}

// Stream the EBS-sized blocks that hold data, e.g. to hash them for an
// EBS direct PutSnapshotBlock call.
func ExampleBlocks() {
	raw, err := os.Open("elemental.raw")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer raw.Close()
	err = diskformat.Blocks(context.Background(), raw, 512<<10, func(b diskformat.Block) error {
		sum := sha256.Sum256(b.Data)
		fmt.Printf("block %d: %x\n", b.Offset/(512<<10), sum[:4])
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
}
