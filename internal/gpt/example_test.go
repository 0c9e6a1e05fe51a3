package gpt_test

import (
	"fmt"

	"github.com/elemental-suite/elemental/internal/gpt"
)

// A table is planned as data: 1 MiB-aligned partitions with GUIDs derived
// from a seed, the last one running to the end of the disk.
func ExampleTable_Validate() {
	const diskSize = 1 << 30
	seed := []byte("sha256:image-digest")
	t := &gpt.Table{
		DiskGUID: gpt.GUIDFromSeed(seed, "disk"),
		Partitions: []gpt.Partition{
			{Name: "efi", Type: gpt.TypeESP, GUID: gpt.GUIDFromSeed(seed, "efi"), First: 2048, Last: 2048 + 131072 - 1},
			{Name: "oem", Type: gpt.TypeLinux, GUID: gpt.GUIDFromSeed(seed, "oem"), First: 133120, Last: gpt.LastUsable(diskSize, 512)},
		},
	}
	fmt.Println(t.Validate(diskSize), t.Partitions[1].Last, t.Partitions[0].Size(512)>>20)
	// Output: <nil> 2097118 64
}
