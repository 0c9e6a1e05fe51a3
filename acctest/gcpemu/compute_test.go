package gcpemu_test

import (
	"archive/tar"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
)

const (
	project = "p"
	bucket  = "b"
)

func start(t *testing.T, opts gcpemu.Options) (*gcpemu.Emulator, *compute.Service) {
	t.Helper()
	opts.Buckets = append(opts.Buckets, bucket)
	opts.OpDelay = 5 * time.Millisecond
	emu, err := gcpemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	svc, err := compute.NewService(context.Background(), option.WithEndpoint(emu.ComputeEndpoint()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return emu, svc
}

// insertAndWait inserts an image from gs://b/<object> and waits for it.
func insertAndWait(t *testing.T, svc *compute.Service, img *compute.Image) *compute.Operation {
	t.Helper()
	op, err := svc.Images.Insert(project, img).Do()
	if err != nil {
		t.Fatalf("insert %s: %v", img.Name, err)
	}
	return wait(t, svc, op)
}

func wait(t *testing.T, svc *compute.Service, op *compute.Operation) *compute.Operation {
	t.Helper()
	for op.Status != "DONE" {
		var err error
		if op, err = svc.GlobalOperations.Wait(project, op.Name).Do(); err != nil {
			t.Fatalf("wait: %v", err)
		}
	}
	return op
}

func image(name, object string) *compute.Image {
	return &compute.Image{Name: name, RawDisk: &compute.ImageRawDisk{Source: "https://storage.googleapis.com/" + bucket + "/" + object}}
}

func TestInsertReadsArchive(t *testing.T) {
	emu, svc := start(t, gcpemu.Options{})
	emu.PutObject(bucket, "good.tar.gz", goodArchive(t))
	emu.PutObject(bucket, "bad.tar.gz", []byte("not a tar.gz"))
	emu.PutObject(bucket, "ustar.tar.gz", tarGz(t, tar.FormatUSTAR, map[string]int64{"disk.raw": 4096}, "disk.raw"))
	emu.PutObject(bucket, "partial-gib.tar.gz", tarGz(t, tar.FormatGNU, map[string]int64{"disk.raw": 3 * mib}, "disk.raw"))
	emu.PutObject(bucket, "no-disk-raw.tar.gz", tarGz(t, tar.FormatGNU, map[string]int64{"root.img": 4096}, "root.img"))
	tests := []struct {
		name, object, wantCode, wantStatus, wantMsg string
	}{
		{name: "good", object: "good.tar.gz", wantStatus: "READY"},
		{name: "bad", object: "bad.tar.gz", wantCode: "INVALID_IMAGE_FILE", wantStatus: "FAILED", wantMsg: "not gzip"},
		{name: "ustar", object: "ustar.tar.gz", wantCode: "INVALID_IMAGE_FILE", wantStatus: "FAILED", wantMsg: "not oldgnu"},
		{name: "partial-gib", object: "partial-gib.tar.gz", wantCode: "INVALID_IMAGE_FILE", wantStatus: "FAILED", wantMsg: "not a whole number of GiB"},
		{name: "no-disk-raw", object: "no-disk-raw.tar.gz", wantCode: "INVALID_IMAGE_FILE", wantStatus: "FAILED", wantMsg: `"root.img"`},
		{name: "missing", object: "none.tar.gz", wantCode: "RESOURCE_NOT_FOUND", wantStatus: "FAILED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := insertAndWait(t, svc, image("img-"+tc.name, tc.object))
			var code, msg string
			if op.Error != nil {
				code, msg = op.Error.Errors[0].Code, op.Error.Errors[0].Message
			}
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("operation error message %q, want it to say %q", msg, tc.wantMsg)
			}
			got, err := svc.Images.Get(project, "img-"+tc.name).Do()
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || got.Status != tc.wantStatus {
				t.Errorf("operation error %q, image %s; want %q, %s", code, got.Status, tc.wantCode, tc.wantStatus)
			}
			if tc.wantStatus == "READY" && (got.DiskSizeGb != 1 || got.ArchiveSizeBytes == 0) {
				t.Errorf("disk %d GB, archive %d bytes", got.DiskSizeGb, got.ArchiveSizeBytes)
			}
		})
	}
}

func TestImagesAPI(t *testing.T) {
	emu, svc := start(t, gcpemu.Options{})
	emu.PutObject(bucket, "good.tar.gz", goodArchive(t))
	for _, n := range []string{"fam-1", "fam-2", "other"} {
		img := image(n, "good.tar.gz")
		if n != "other" {
			img.Family, img.Labels = "fam", map[string]string{"k": n}
		}
		insertAndWait(t, svc, img)
	}
	var gerr *googleapi.Error
	if _, err := svc.Images.Insert(project, image("fam-1", "good.tar.gz")).Do(); !errors.As(err, &gerr) || gerr.Code != http.StatusConflict {
		t.Errorf("duplicate insert: %v, want 409", err)
	}
	if _, err := svc.Images.Insert(project, image("Bad_Name", "good.tar.gz")).Do(); !errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest {
		t.Errorf("bad name: %v, want 400", err)
	}
	bad := image("labels", "good.tar.gz")
	bad.Labels = map[string]string{"Upper": "x"}
	if _, err := svc.Images.Insert(project, bad).Do(); !errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest {
		t.Errorf("bad label: %v, want 400", err)
	}
	names := func(filter string) string {
		list, err := svc.Images.List(project).Filter(filter).Do()
		if err != nil {
			t.Fatalf("list %q: %v", filter, err)
		}
		var out []string
		for _, img := range list.Items {
			out = append(out, img.Name)
		}
		return strings.Join(out, ",")
	}
	for filter, want := range map[string]string{
		"": "fam-1,fam-2,other", `family = "fam"`: "fam-1,fam-2", `name = "other"`: "other",
		`labels.k = "fam-2"`: "fam-2", `family = "fam" AND name != "fam-1"`: "fam-2",
	} {
		if got := names(filter); got != want {
			t.Errorf("list %q = %s, want %s", filter, got, want)
		}
	}
	// the newest non-deprecated image of a family
	if got, err := svc.Images.GetFromFamily(project, "fam").Do(); err != nil || got.Name != "fam-2" {
		t.Errorf("getFromFamily = %v, %v; want fam-2", got, err)
	}
	op, err := svc.Images.Deprecate(project, "fam-2", &compute.DeprecationStatus{State: "DEPRECATED", Obsolete: "2030-01-01T00:00:00Z"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	wait(t, svc, op)
	if got, err := svc.Images.GetFromFamily(project, "fam").Do(); err != nil || got.Name != "fam-1" {
		t.Errorf("getFromFamily after deprecating fam-2 = %v, %v; want fam-1", got, err)
	}
	if got, _ := svc.Images.Get(project, "fam-2").Do(); got.Deprecated == nil || got.Deprecated.State != "DEPRECATED" || got.Deprecated.Obsolete != "2030-01-01T00:00:00Z" {
		t.Errorf("deprecation status = %+v", got.Deprecated)
	}
	if _, err := svc.Images.Deprecate(project, "fam-1", &compute.DeprecationStatus{State: "GONE"}).Do(); !errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest {
		t.Errorf("bad deprecation state: %v, want 400", err)
	}
	// a repeated request id returns the first operation, not a second delete
	first, err := svc.Images.Delete(project, "other").RequestId("r-1").Do()
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Images.Delete(project, "other").RequestId("r-1").Do()
	if err != nil || again.Name != first.Name {
		t.Errorf("repeated request id: %v, %v; want operation %s", again, err, first.Name)
	}
	wait(t, svc, first)
	if _, err := svc.Images.Get(project, "other").Do(); !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Errorf("get after delete: %v, want 404", err)
	}
	if _, err := svc.GlobalOperations.Get(project, "operation-none").Do(); !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Errorf("unknown operation: %v, want 404", err)
	}
}

// TestUploadCRC32C uploads with the real storage client: a correct
// checksum is compared and accepted, a wrong one is refused and leaves no
// object.
func TestUploadCRC32C(t *testing.T) {
	emu, _ := start(t, gcpemu.Options{})
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithEndpoint(emu.StorageEndpoint()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	data := []byte(strings.Repeat("elemental ", 100000)) // 1 MB: four 256 KiB chunks
	tests := []struct {
		name    string
		setCRC  func(*storage.Writer)
		wantErr bool
	}{
		{name: "automatic checksum in X-Goog-Hash", setCRC: func(*storage.Writer) {}},
		{name: "wrong checksum in metadata", setCRC: func(w *storage.Writer) { w.CRC32C, w.SendCRC32C = 12345, true }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := emu.CRC32CChecked()
			name := strings.ReplaceAll(tc.name, " ", "-")
			w := client.Bucket(bucket).Object(name).NewWriter(ctx)
			w.ChunkSize = 256 << 10
			tc.setCRC(w)
			_, werr := w.Write(data)
			err := errors.Join(werr, w.Close())
			got, gerr := emu.Object(bucket, name)
			if tc.wantErr {
				if err == nil || gerr == nil {
					t.Fatalf("upload with a wrong CRC32C: err %v, object err %v; want both", err, gerr)
				}
				return
			}
			if err != nil || string(got) != string(data) || emu.CRC32CChecked() != before+1 {
				t.Fatalf("upload: %v; object %d bytes; checked %d→%d", err, len(got), before, emu.CRC32CChecked())
			}
		})
	}
}
