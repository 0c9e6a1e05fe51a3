package gcp_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	compute "google.golang.org/api/compute/v1"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

func TestPublishRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gcpemuOptions())
	raw := defaultDisk(t)
	wantDigest := paddedDigest(t, raw)
	der := gcp.SelfSignedCertificate(t)
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	tests := []struct {
		name         string
		mutate       func(*gcp.Spec)
		wantFeatures []string
		wantLocs     []string
		wantArch     string
	}{
		{name: "defaults", mutate: func(*gcp.Spec) {}, wantFeatures: []string{"UEFI_COMPATIBLE"}, wantLocs: []string{"us"}},
		{
			name: "everything set and object kept",
			mutate: func(s *gcp.Spec) {
				s.Family, s.Description, s.Architecture = "elemental-os", "Elemental OS v1.2", gcp.ArchARM64
				s.Labels = map[string]string{"team": "os"}
				s.GuestOSFeatures = []string{"UEFI_COMPATIBLE", "GVNIC", "SECURE_BOOT"}
				s.StorageLocations = []string{"europe-west4"}
				s.Licenses = []string{"projects/p/global/licenses/l"}
				s.ShieldedInitialState = &gcp.ShieldedState{PK: pemCert, KEKs: [][]byte{[]byte("kek-esl")},
					DBs: [][]byte{der, []byte("db-esl")}, DBXs: [][]byte{[]byte("dbx")}}
				s.SkipClean = true
			},
			wantFeatures: []string{"GVNIC", "SECURE_BOOT", "UEFI_COMPATIBLE"},
			wantLocs:     []string{"europe-west4"}, wantArch: "ARM64",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec("img-" + string(rune('a'+i)))
			tc.mutate(&spec)
			var phases []gcp.Phase
			checked := f.emu.CRC32CChecked()
			requests := f.emu.RequestCounts()
			res, err := gcp.Publish(context.Background(), f.clients, raw, spec, func(e gcp.Event) {
				if len(phases) == 0 || phases[len(phases)-1] != e.Phase {
					phases = append(phases, e.Phase)
				}
			})
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			img, archive, err := f.emu.Image(testProject, spec.ImageName)
			if err != nil {
				t.Fatal(err)
			}
			if img.Status != "READY" || img.SelfLink != res.SelfLink || img.DiskSizeGb != 1 {
				t.Errorf("image status %s, selfLink %s (result %s), %d GB", img.Status, img.SelfLink, res.SelfLink, img.DiskSizeGb)
			}
			if archive.DiskDigest != wantDigest || archive.DiskSize != gib || res.DiskSize != gib {
				t.Errorf("disk.raw digest %s size %d (result %d), want %s size %d", archive.DiskDigest, archive.DiskSize, res.DiskSize, wantDigest, gib)
			}
			if res.DataSize != 3*mib {
				t.Errorf("DataSize = %d, want %d", res.DataSize, 3*mib)
			}
			var features []string
			for _, g := range img.GuestOsFeatures {
				features = append(features, g.Type)
			}
			slices.Sort(features)
			wantLabels := map[string]string{"source-digest": "sha256-0123456789abcdef0123456789abcdef", "source-image": "registry-example-elemental-os-v1-2",
				gcp.LabelSource: "registry-example-elemental-os-v1-2", gcp.LabelSourceDigest: "sha256-0123456789abcdef0123456789abcdef",
				gcp.LabelSuiteVersion: "0-1-0-test"}
			for k, v := range spec.Labels {
				wantLabels[k] = v
			}
			got := []any{features, img.StorageLocations, img.Architecture, img.Family, img.Description, img.Labels, img.Licenses}
			want := []any{tc.wantFeatures, tc.wantLocs, tc.wantArch, spec.Family, spec.Description, wantLabels, spec.Licenses}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("image attributes (-want +got):\n%s", diff)
			}
			if spec.ShieldedInitialState != nil {
				buf := func(typ string, b []byte) *compute.FileContentBuffer {
					return &compute.FileContentBuffer{FileType: typ, Content: base64.StdEncoding.EncodeToString(b)}
				}
				want := &compute.InitialStateConfig{Pk: buf("X509", der), Keks: []*compute.FileContentBuffer{buf("BIN", []byte("kek-esl"))},
					Dbs: []*compute.FileContentBuffer{buf("X509", der), buf("BIN", []byte("db-esl"))}, Dbxs: []*compute.FileContentBuffer{buf("BIN", []byte("dbx"))}}
				if diff := cmp.Diff(want, img.ShieldedInstanceInitialState); diff != "" {
					t.Errorf("shielded initial state (-want +got):\n%s", diff)
				}
			}
			if f.emu.CRC32CChecked() != checked+1 {
				t.Errorf("the emulator compared no CRC32C for this upload")
			}
			checkResumable(t, requests, f.emu.RequestCounts(), res, spec.ChunkSize)
			wantPhases := []gcp.Phase{gcp.PhaseUpload, gcp.PhaseInsert, gcp.PhaseWait, gcp.PhaseCleanup, gcp.PhaseDone}
			if spec.SkipClean {
				wantPhases = slices.Delete(wantPhases, 3, 4)
			}
			if diff := cmp.Diff(wantPhases, phases); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
			checkObject(t, f, spec, res, raw, wantDigest)
		})
	}
}

// checkObject checks the object is gone, or (SkipClean) that it is what
// was sent and that GNU tar extracts the padded raw disk from it.
func checkObject(t *testing.T, f *fixture, spec gcp.Spec, res *gcp.Result, raw, wantDigest string) {
	t.Helper()
	data, err := f.emu.Object(testBucket, spec.ImageName+".tar.gz")
	if !spec.SkipClean {
		if err == nil {
			t.Errorf("object %s was not deleted", res.ObjectURI)
		}
		return
	}
	if err != nil {
		t.Fatalf("kept object: %v", err)
	}
	if int64(len(data)) != res.BytesUploaded || crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != res.CRC32C {
		t.Errorf("object is %d bytes, result says %d; or its CRC32C differs", len(data), res.BytesUploaded)
	}
	attrs, err := f.clients.Storage.Bucket(testBucket).Object(spec.ImageName + ".tar.gz").Attrs(context.Background())
	if err != nil || attrs.Metadata[gcp.LabelSourceDigest] != spec.SourceDigest || attrs.Metadata["source-digest"] != spec.Provenance["source-digest"] {
		t.Errorf("object metadata %v (err %v) does not name the source digest %s", attrs.Metadata, err, spec.SourceDigest)
	}
	rd, err := f.clients.Storage.Bucket(testBucket).Object(spec.ImageName + ".tar.gz").NewReader(context.Background())
	if err != nil {
		t.Fatalf("reading object with the storage client: %v", err)
	}
	viaClient, err := io.ReadAll(rd)
	_ = rd.Close()
	if err != nil || string(viaClient) != string(data) {
		t.Errorf("storage client read %d bytes (err %v), emulator holds %d", len(viaClient), err, len(data))
	}
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skipf("extracting the object needs tar: %v", err)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar.gz")
	if err := os.WriteFile(archive, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xSzf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xSzf: %v\n%s", err, out)
	}
	extracted := filepath.Join(dir, "disk.raw")
	if got := paddedDigest(t, extracted); got != wantDigest {
		t.Errorf("tar extracted disk.raw with digest %s, want %s", got, wantDigest)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(extracted, &st); err == nil && (st.Size != gib || st.Blocks*512 > 64*mib) {
		t.Errorf("extracted disk.raw: size %d, %d bytes allocated (want 1 GiB, sparse)", st.Size, st.Blocks*512)
	}
}

func TestPublishDeprecation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gcpemuOptions())
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 2)
	now := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name      string
		dep, obs  time.Time
		del       time.Time
		wantState string
	}{
		{name: "all in the future stays active", dep: now.Add(24 * time.Hour), obs: now.Add(48 * time.Hour), del: now.Add(72 * time.Hour), wantState: "ACTIVE"},
		{name: "deprecation due now", dep: now.Add(-time.Minute), obs: now.Add(48 * time.Hour), wantState: "DEPRECATED"},
		{name: "obsolete already", dep: now.Add(-2 * time.Hour), obs: now.Add(-time.Hour), wantState: "OBSOLETE"},
		{name: "only delete time in the future", del: now.Add(time.Hour), wantState: "ACTIVE"},
		{name: "deleted already", dep: now.Add(-3 * time.Hour), obs: now.Add(-2 * time.Hour), del: now.Add(-time.Hour), wantState: "DELETED"},
		{name: "obsolete due, delete in the future", obs: now.Add(-time.Minute), del: now.Add(time.Hour), wantState: "OBSOLETE"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec("dep-" + string(rune('a'+i)))
			spec.DeprecateAt, spec.ObsoleteAt, spec.DeleteAt = tc.dep, tc.obs, tc.del
			if _, err := gcp.Publish(context.Background(), f.clients, raw, spec, nil); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			img, _, err := f.emu.Image(testProject, spec.ImageName)
			if err != nil {
				t.Fatal(err)
			}
			if img.Deprecated == nil {
				t.Fatal("no deprecation status")
			}
			format := func(t time.Time) string {
				if t.IsZero() {
					return ""
				}
				return t.Format(time.RFC3339)
			}
			got := []string{img.Deprecated.State, img.Deprecated.Deprecated, img.Deprecated.Obsolete, img.Deprecated.Deleted}
			want := []string{tc.wantState, format(tc.dep), format(tc.obs), format(tc.del)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("deprecation [state deprecated obsolete deleted] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteExists(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gcpemuOptions())
	raw := writeRawDisk(t, 64*mib, []extent{{mib, mib}}, 3)
	ctx := context.Background()
	spec := baseSpec("to-delete")
	if ok, err := gcp.Exists(ctx, f.clients, testProject, spec.ImageName); err != nil || ok {
		t.Fatalf("Exists before publishing = %v, %v", ok, err)
	}
	if _, err := gcp.Publish(ctx, f.clients, raw, spec, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := gcp.Exists(ctx, f.clients, testProject, spec.ImageName); err != nil || !ok {
		t.Fatalf("Exists after publishing = %v, %v", ok, err)
	}
	_, err := gcp.Publish(ctx, f.clients, raw, spec, nil)
	if !errors.Is(err, gcp.ErrImageExists) {
		t.Fatalf("publishing twice: %v, want ErrImageExists", err)
	}
	if ok, _ := gcp.Exists(ctx, f.clients, testProject, spec.ImageName); !ok {
		t.Fatal("a failed second publish deleted the first image")
	}
	if objs, _ := f.emu.Objects(testBucket); len(objs) != 0 {
		t.Errorf("a publish refused for an existing name left objects: %v", objs)
	}
	for range 2 { // deleting a missing image is not an error
		if err := gcp.Delete(ctx, f.clients, testProject, spec.ImageName); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if ok, err := gcp.Exists(ctx, f.clients, testProject, spec.ImageName); err != nil || ok {
		t.Fatalf("Exists after Delete = %v, %v", ok, err)
	}
	f.assertNothingLeft(t)
}

// TestImageAppearsDuringPublish: an image of the same name, even from
// the same object, created by someone else between the existence check
// and images.insert, must survive the failed Publish.
func TestImageAppearsDuringPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gcpemuOptions())
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 8)
	spec := baseSpec("contested")
	_, err := gcp.Publish(context.Background(), f.clients, raw, spec, func(e gcp.Event) {
		if e.Phase != gcp.PhaseInsert {
			return
		}
		img := &compute.Image{Name: spec.ImageName, RawDisk: &compute.ImageRawDisk{Source: "https://storage.googleapis.com/" + testBucket + "/" + spec.ImageName + ".tar.gz"}}
		op, err := f.clients.Compute.Images.Insert(testProject, img).Do()
		for err == nil && op.Status != "DONE" {
			op, err = f.clients.Compute.GlobalOperations.Wait(testProject, op.Name).Do()
		}
		if err != nil {
			t.Errorf("inserting the competing image: %v", err)
		}
	})
	if !errors.Is(err, gcp.ErrImageExists) {
		t.Fatalf("Publish = %v, want ErrImageExists", err)
	}
	if img, _, err := f.emu.Image(testProject, spec.ImageName); err != nil || img.Status != "READY" {
		t.Errorf("the other image: %v, status %s", err, img.Status)
	}
	if objs, _ := f.emu.Objects(testBucket); len(objs) != 0 {
		t.Errorf("objects left: %v", objs)
	}
}

// checkResumable checks the upload was one resumable session sent in
// chunks of chunkSize: one initiation, then a request per chunk.
func checkResumable(t *testing.T, before, after map[string]int, res *gcp.Result, chunkSize int) {
	t.Helper()
	starts := after[gcpemu.OpUploadStart] - before[gcpemu.OpUploadStart]
	chunks := after[gcpemu.OpUploadChunk] - before[gcpemu.OpUploadChunk]
	want := int((res.BytesUploaded + int64(chunkSize) - 1) / int64(chunkSize))
	if starts != 1 || chunks < want || want < 2 {
		t.Errorf("upload: %d initiations and %d chunk requests for %d bytes; want 1 resumable session of at least %d chunks of %d",
			starts, chunks, res.BytesUploaded, want, chunkSize)
	}
}
