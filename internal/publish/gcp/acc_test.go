package gcp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// accVars must all be set for the real-cloud acceptance test.
var accVars = []string{"GOOGLE_APPLICATION_CREDENTIALS", "ELEMENTAL_GCP_ACC", "ELEMENTAL_GCP_PROJECT", "ELEMENTAL_GCP_BUCKET"}

// TestAcceptanceRealGCP publishes a small disk to a real project with
// Application Default Credentials (optionally impersonating
// ELEMENTAL_GCP_IMPERSONATE), checks the image attributes and deletes the
// image. It runs only with ELEMENTAL_GCP_ACC=1 and the variables above.
func TestAcceptanceRealGCP(t *testing.T) {
	var missing []string
	for _, v := range accVars {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		t.Skipf("real-cloud acceptance test: set %s", strings.Join(missing, ", "))
	}
	if os.Getenv("ELEMENTAL_GCP_ACC") != "1" {
		t.Skip("real-cloud acceptance test: ELEMENTAL_GCP_ACC is not 1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := gcp.NewClients(ctx, gcp.ClientOptions{ImpersonateServiceAccount: os.Getenv("ELEMENTAL_GCP_IMPERSONATE")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acceptance(ctx, t, c, os.Getenv("ELEMENTAL_GCP_PROJECT"), os.Getenv("ELEMENTAL_GCP_BUCKET"))
}

// TestAcceptanceOnEmulator runs the body of the real-GCP acceptance test
// against the emulator, so the test that only runs with credentials is
// known to work (and cannot rot) before anyone spends money on it. Its
// cleanup must leave no image and no object.
func TestAcceptanceOnEmulator(t *testing.T) {
	f := newFixture(t, gcpemuOptions())
	t.Cleanup(func() { // runs after the cleanup acceptance registers
		objs, err := f.emu.Objects(testBucket)
		if imgs := f.emu.Images(testProject); len(imgs) != 0 || len(objs) != 0 || err != nil {
			t.Errorf("left after the acceptance test's cleanup: %d images, objects %v (%v)", len(imgs), objs, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acceptance(ctx, t, f.clients, testProject, testBucket)
}

// acceptance publishes a small disk to project through bucket with c,
// checks the image's attributes and that the object is gone, and deletes
// the image when the test ends.
func acceptance(ctx context.Context, t *testing.T, c gcp.Clients, project, bucket string) {
	spec := gcp.Spec{
		ProjectID: project, Bucket: bucket,
		ImageName: fmt.Sprintf("elemental-acc-%d", time.Now().Unix()), Family: "elemental-acc",
		Description: "elemental acceptance test, safe to delete", Labels: map[string]string{"purpose": "acctest"},
		Provenance:  map[string]string{"source-digest": "sha256:" + strings.Repeat("ab", 32)},
		DeprecateAt: time.Now().Add(24 * time.Hour).Truncate(time.Second), Architecture: gcp.ArchX86_64,
	}
	t.Cleanup(func() {
		if err := gcp.Delete(context.WithoutCancel(ctx), c, spec.ProjectID, spec.ImageName); err != nil {
			t.Errorf("deleting %s: %v", spec.ImageName, err)
		}
	})
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}, {32 * mib, mib}}, 10)
	res, err := gcp.Publish(ctx, c, raw, spec, func(e gcp.Event) { t.Logf("%s %d %s", e.Phase, e.Bytes, e.Message) })
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	img, err := c.Compute.Images.Get(spec.ProjectID, spec.ImageName).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	var features []string
	for _, f := range img.GuestOsFeatures {
		features = append(features, f.Type)
	}
	switch {
	case img.Status != "READY", img.SelfLink != res.SelfLink, img.DiskSizeGb != 1, img.Family != spec.Family,
		img.Description != spec.Description, img.Architecture != spec.Architecture:
		t.Errorf("image: status %s, link %s, %d GB, family %s, description %q, architecture %s",
			img.Status, img.SelfLink, img.DiskSizeGb, img.Family, img.Description, img.Architecture)
	case !slices.Contains(features, "UEFI_COMPATIBLE"):
		t.Errorf("guest OS features %v lack UEFI_COMPATIBLE", features)
	case img.Labels["purpose"] != "acctest" || img.Labels["source-digest"] != "sha256-"+strings.Repeat("ab", 16):
		t.Errorf("labels %v", img.Labels)
	case img.Deprecated == nil || img.Deprecated.State != "ACTIVE" || img.Deprecated.Deprecated == "":
		t.Errorf("deprecation %+v: want the time set and state ACTIVE", img.Deprecated)
	}
	if _, err := c.Storage.Bucket(spec.Bucket).Object(spec.ImageName + ".tar.gz").Attrs(ctx); !errors.Is(err, storage.ErrObjectNotExist) {
		t.Errorf("object not deleted: %v", err)
	}
}
