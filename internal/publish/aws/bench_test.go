package aws_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// BenchmarkPublishConcurrency measures upload throughput (MB/s of disk
// data) and the time from raw disk to registered AMI against the
// emulator, for several PutSnapshotBlock worker counts.
func BenchmarkPublishConcurrency(b *testing.B) {
	path := makeSparse(b, 128*mib, []chunk{{0, 32 * mib}, {64 * mib, 16 * mib}}, 20)
	for _, conc := range []int{1, 8, 32, 64} {
		b.Run(fmt.Sprintf("workers=%d", conc), func(b *testing.B) {
			_, cfg := newEmulator(b, awsemu.Options{Delay: time.Millisecond})
			b.SetBytes(allocated(b, path))
			b.ResetTimer()
			for i := range b.N {
				res, err := publish.Publish(context.Background(), cfg, path,
					publish.Spec{Name: fmt.Sprintf("bench-%d-%d", conc, i), UploadConcurrency: conc}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := publish.Delete(context.Background(), cfg, res, true); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkBytesSent reports bytes uploaded against disk size and
// allocated data: the EBS direct path sends only blocks holding data,
// the encrypted path every block of the volume, the S3 path the whole
// disk.
func BenchmarkBytesSent(b *testing.B) {
	tests := []struct {
		name   string
		size   int64
		chunks []chunk
		method string
		enc    bool
	}{
		{"1GiB-8MiB-data-direct", 1 << 30, []chunk{{0, 4 * mib}, {512 * mib, 4 * mib}}, publish.ImportEBSDirect, false},
		{"1GiB-64MiB-data-direct", 1 << 30, []chunk{{0, 32 * mib}, {900 * mib, 32 * mib}}, publish.ImportEBSDirect, false},
		{"1GiB-8MiB-data-encrypted", 1 << 30, []chunk{{0, 4 * mib}, {512 * mib, 4 * mib}}, publish.ImportEBSDirect, true},
		{"256MiB-8MiB-data-s3", 256 * mib, []chunk{{0, 4 * mib}, {128 * mib, 4 * mib}}, publish.ImportS3, false},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			emu, cfg := newEmulator(b, awsemu.Options{Delay: time.Millisecond})
			emu.CreateBucket("bench")
			path := makeSparse(b, tc.size, tc.chunks, 21)
			alloc := allocated(b, path)
			var sent int64
			for i := range b.N {
				res, err := publish.Publish(context.Background(), cfg, path, publish.Spec{
					Name: fmt.Sprintf("bytes-%d", i), ImportMethod: tc.method, S3Bucket: "bench", Encrypted: tc.enc, UploadConcurrency: 32,
				}, nil)
				if err != nil {
					b.Fatal(err)
				}
				sent = res.BytesUploaded
				b.StopTimer()
				if err := publish.Delete(context.Background(), cfg, res, true); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(tc.size)/float64(mib), "disk-MiB")
			b.ReportMetric(float64(alloc)/float64(mib), "allocated-MiB")
			b.ReportMetric(float64(sent)/float64(mib), "sent-MiB")
			b.ReportMetric(float64(sent)/float64(alloc), "sent/allocated")
		})
	}
}
