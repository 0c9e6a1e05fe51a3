package gcp_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// BenchmarkPublish reports, per disk shape, the bytes sent against the
// disk size and its allocated data, and the throughput in allocated data
// per second from raw disk to READY image (emulator on loopback).
func BenchmarkPublish(b *testing.B) {
	shapes := []struct {
		name string
		size int64
		runs []extent
	}{
		{name: "200MiB-disk-8MiB-data", size: 200 * mib, runs: []extent{{0, 4 * mib}, {100 * mib, 4 * mib}}},
		{name: "200MiB-disk-32MiB-data", size: 200 * mib, runs: []extent{{0, 16 * mib}, {150 * mib, 16 * mib}}},
		{name: "2GiB-disk-16MiB-data", size: 2 * gib, runs: []extent{{0, 8 * mib}, {gib, 8 * mib}}},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			f := newFixture(b, gcpemu.Options{})
			raw := writeRawDisk(b, s.size, s.runs, 11)
			var res *gcp.Result
			i := 0
			for b.Loop() {
				spec := baseSpec(fmt.Sprintf("bench-%d", i))
				spec.ChunkSize = 8 << 20
				var err error
				if res, err = gcp.Publish(context.Background(), f.clients, raw, spec, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.SetBytes(res.DataSize)
			b.ReportMetric(float64(res.BytesUploaded), "bytes-sent")
			b.ReportMetric(float64(res.DiskSize), "disk-bytes")
			b.ReportMetric(float64(res.DataSize), "data-bytes")
			b.ReportMetric(float64(res.BytesUploaded)/float64(res.DataSize), "sent/data")
		})
	}
}

// BenchmarkUploadChunkSize measures upload throughput against the chunk
// size of the resumable upload (one request per chunk).
func BenchmarkUploadChunkSize(b *testing.B) {
	raw := writeRawDisk(b, 128*mib, []extent{{0, 16 * mib}, {64 * mib, 16 * mib}}, 12)
	for _, chunk := range []int{256 << 10, 2 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("chunk-%dKiB", chunk>>10), func(b *testing.B) {
			f := newFixture(b, gcpemu.Options{})
			i := 0
			var res *gcp.Result
			for b.Loop() {
				spec := baseSpec(fmt.Sprintf("chunk-%d", i))
				spec.ChunkSize = chunk
				var err error
				if res, err = gcp.Publish(context.Background(), f.clients, raw, spec, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.SetBytes(res.BytesUploaded)
		})
	}
}

// BenchmarkPublishWorkers measures throughput (allocated data per second,
// raw disk to READY image) against the gzip concurrency, the only
// parallel stage: a resumable upload sends its chunks in order.
func BenchmarkPublishWorkers(b *testing.B) {
	raw := writeRawDisk(b, 256*mib, []extent{{0, 24 * mib}, {64 * mib, 24 * mib}, {128 * mib, 16 * mib}}, 13)
	for _, workers := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("workers-%d", workers), func(b *testing.B) {
			f := newFixture(b, gcpemu.Options{})
			var res *gcp.Result
			i := 0
			for b.Loop() {
				spec := baseSpec(fmt.Sprintf("workers-%d", i))
				spec.ChunkSize, spec.Workers = 8<<20, workers
				var err error
				if res, err = gcp.Publish(context.Background(), f.clients, raw, spec, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.SetBytes(res.DataSize)
			b.ReportMetric(float64(res.BytesUploaded), "bytes-sent")
		})
	}
}

// BenchmarkSourceToImage measures the time from a derivative (an OCI
// layout) to a READY image: the installer builds the raw disk, Publish
// uploads it and creates the image.
func BenchmarkSourceToImage(b *testing.B) {
	src := imagetest.WriteLayoutRef(b, imagetest.Derivative(2, "A")...)
	f := newFixture(b, gcpemu.Options{})
	i := 0
	var res *gcp.Result
	for b.Loop() {
		built, err := installer.Run(context.Background(), installer.Spec{Source: src, SourceDateEpoch: 1700000000, OutputDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		spec := baseSpec(fmt.Sprintf("source-%d", i))
		spec.SourceDigest = built.Digest
		if res, err = gcp.Publish(context.Background(), f.clients, built.Outputs[0].Path, spec, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(res.BytesUploaded), "bytes-sent")
	b.ReportMetric(float64(res.DiskSize), "disk-bytes")
	b.ReportMetric(float64(res.DataSize), "data-bytes")
}
