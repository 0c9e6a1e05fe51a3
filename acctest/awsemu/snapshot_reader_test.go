package awsemu_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"

	"github.com/elemental-suite/elemental/acctest/awsemu"
)

const bs = awsemu.BlockSize

// blockDisk is a disk of n blocks with block i filled with byte i+1 for
// each i in data.
func blockDisk(n int64, data ...int64) []byte {
	disk := make([]byte, n*bs)
	for _, i := range data {
		copy(disk[i*bs:(i+1)*bs], bytes.Repeat([]byte{byte(i + 1)}, bs))
	}
	return disk
}

// putDisk writes the given blocks of disk into a new completed 1 GiB
// snapshot through the SDK and returns its id.
func putDisk(t *testing.T, cfg aws.Config, disk []byte, blocks ...int64) string {
	t.Helper()
	ctx := context.Background()
	c := ebs.NewFromConfig(cfg)
	out, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ClientToken: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range blocks {
		b := disk[i*bs : (i+1)*bs]
		if err := putBlock(ctx, c, *out.SnapshotId, int32(i), b, sum(b)); err != nil {
			t.Fatal(err)
		}
	}
	n := int32(len(blocks))
	if _, err := c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: out.SnapshotId, ChangedBlocksCount: &n}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // completed after the emulator's delay
	return *out.SnapshotId
}

// TestReadSnapshotCompare reads a snapshot of blocks 0, 3 and 5 back and
// compares it with disks that hold it and with disks that do not.
func TestReadSnapshotCompare(t *testing.T) {
	emu := awsemu.New(awsemu.Options{Delay: 10 * time.Millisecond})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := awsemu.Config(srv.URL)
	disk := blockDisk(6, 0, 3, 5)
	id := putDisk(t, cfg, disk, 0, 3, 5)
	snap, err := awsemu.ReadSnapshot(context.Background(), cfg, "us-east-1", id)
	if err != nil {
		t.Fatal(err)
	}
	if snap.VolumeSize != 1<<30 || len(snap.Blocks) != 3 || snap.Unread != 0 {
		t.Fatalf("read back volume %d bytes, %d blocks, %d unread; want 1 GiB, 3, 0", snap.VolumeSize, len(snap.Blocks), snap.Unread)
	}
	changed := slices.Clone(disk)
	changed[3*bs+7]++
	short := disk[:5*bs+100]
	tests := []struct {
		name    string
		disk    []byte
		size    int64 // for CompareReaderAt when not len(disk)
		wantErr string
	}{
		{name: "same disk", disk: disk},
		{name: "same disk ending mid block", disk: blockDisk(6, 0, 3)[:4*bs+1], wantErr: "block 5 lies past"},
		{name: "one byte differs", disk: changed, wantErr: "block 3 (held: true) differs"},
		{name: "disk holds data the snapshot lacks", disk: blockDisk(6, 0, 2, 3, 5), wantErr: "block 2 (held: false) differs"},
		{name: "snapshot holds data the disk has as zeros", disk: blockDisk(6, 0, 5), wantErr: "block 3 (held: true) differs"},
		{name: "snapshot holds data past the disk", disk: blockDisk(4, 0, 3), wantErr: "block 5 lies past"},
		{name: "block ends past the disk with data", disk: short, wantErr: "block 5 (held: true) differs"},
		{name: "volume smaller than the disk", disk: disk, size: 1<<30 + 1, wantErr: "want 2147483648"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.size == 0 {
				err = snap.Compare(tc.disk)
			} else {
				err = snap.CompareReaderAt(bytes.NewReader(tc.disk), tc.size)
			}
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Compare = %v, want an error with %q", err, tc.wantErr)
			}
			if tc.size != 0 {
				return
			}
			path := filepath.Join(t.TempDir(), "disk.raw")
			if err := os.WriteFile(path, tc.disk, 0o600); err != nil {
				t.Fatal(err)
			}
			if fileErr := snap.CompareFile(path); fmt.Sprint(fileErr) != fmt.Sprint(err) {
				t.Errorf("CompareFile = %v, Compare = %v; want the same", fileErr, err)
			}
		})
	}
	if err := snap.CompareFile(filepath.Join(t.TempDir(), "missing.raw")); err == nil || !strings.Contains(err.Error(), "missing.raw") {
		t.Errorf("CompareFile of a missing file = %v, want an error naming it", err)
	}
	part, err := awsemu.ReadSnapshotUpTo(context.Background(), cfg, "us-east-1", id, 4*bs)
	if err != nil {
		t.Fatal(err)
	}
	if part.Unread != 1 || len(part.Blocks) != 2 || part.Blocks[5] != nil {
		t.Errorf("read up to block 4: %d blocks, %d unread; want 2 and 1", len(part.Blocks), part.Unread)
	}
}

// badChecksum rewrites the checksum header of every response.
type badChecksum struct {
	http.ResponseWriter
	wrote bool
}

func (w *badChecksum) WriteHeader(code int) {
	if w.Header().Get("x-amz-Checksum") != "" {
		w.Header().Set("x-amz-Checksum", *sum([]byte("other")))
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *badChecksum) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// TestReadSnapshotChecksum: a block whose data does not match the
// checksum of its response is an error.
func TestReadSnapshotChecksum(t *testing.T) {
	emu := awsemu.New(awsemu.Options{Delay: 10 * time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blocks/") {
			w = &badChecksum{ResponseWriter: w}
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := awsemu.Config(srv.URL)
	id := putDisk(t, cfg, blockDisk(1, 0), 0)
	if _, err := awsemu.ReadSnapshot(context.Background(), cfg, "us-east-1", id); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("ReadSnapshot with a wrong checksum = %v, want a checksum error", err)
	}
}

// TestWatchPuts: a PUT sees the raw disks under the directory then (and
// not files of other names), a GET does not count.
func TestWatchPuts(t *testing.T) {
	dir := t.TempDir()
	emu := awsemu.New(awsemu.Options{Delay: 10 * time.Millisecond})
	w := awsemu.WatchPuts(emu, dir)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	for _, n := range []string{"disk.raw.part", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := awsemu.Config(srv.URL)
	id := putDisk(t, cfg, blockDisk(1, 0), 0)
	if err := os.Remove(filepath.Join(dir, "disk.raw.part")); err != nil {
		t.Fatal(err)
	}
	if _, err := awsemu.ReadSnapshot(context.Background(), cfg, "us-east-1", id); err != nil {
		t.Fatal(err)
	}
	seen, puts := w.Seen()
	if want := []string{filepath.Join(dir, "disk.raw.part")}; puts != 1 || !slices.Equal(seen, want) {
		t.Errorf("Seen = %v, %d PUTs; want %v, 1", seen, puts, want)
	}
	if left := awsemu.RawDisks(dir); len(left) != 0 {
		t.Errorf("RawDisks after removal = %v", left)
	}
}
