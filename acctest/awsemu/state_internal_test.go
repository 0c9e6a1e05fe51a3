package awsemu

import (
	"testing"
	"time"
)

// TestSnapshotTimeout: a pending snapshot fails once Timeout has passed
// since its start or, after a block was written, since the last block
// (the StartSnapshot Timeout of the EBS direct API reference), not since
// its start alone.
func TestSnapshotTimeout(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name               string
		started, lastWrite time.Duration // before now; 0: never written
		want               string
	}{
		{"fresh", time.Minute, 0, "pending"},
		{"no block within the timeout", 11 * time.Minute, 0, "error"},
		{"long upload, recent block", 3 * time.Hour, 5 * time.Minute, "pending"},
		{"long upload, stalled", 3 * time.Hour, 11 * time.Minute, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &snapshot{state: "pending", started: now.Add(-tc.started), timeout: 10 * time.Minute}
			if tc.lastWrite > 0 {
				s.lastWrite = now.Add(-tc.lastWrite)
			}
			if got := s.status(now); got != tc.want {
				t.Fatalf("status = %s, want %s", got, tc.want)
			}
		})
	}
}
