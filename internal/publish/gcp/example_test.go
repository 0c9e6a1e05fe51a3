package gcp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// Publishing a raw disk with Application Default Credentials; the image
// is scheduled for deprecation in 90 days (state stays ACTIVE until then).
func ExamplePublish() {
	ctx := context.Background()
	clients, err := gcp.NewClients(ctx, gcp.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer clients.Close()
	res, err := gcp.Publish(ctx, clients, "build/disk.raw", gcp.Spec{
		ProjectID: "my-project", Bucket: "my-images", ImageName: "elemental-os-v1-2", Family: "elemental-os",
		Provenance:  map[string]string{"source-digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		DeprecateAt: time.Now().Add(90 * 24 * time.Hour),
	}, func(e gcp.Event) { fmt.Println(e.Phase, e.Bytes) })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.SelfLink)
}
