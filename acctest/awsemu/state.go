package awsemu

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"time"
)

// BlockSize is the EBS direct API block size.
const BlockSize = 512 << 10

const gib = int64(1) << 30

var zeroBlock = make([]byte, BlockSize)

// snapshot is an EBS snapshot, shared by the EBS direct and EC2 sides.
type snapshot struct {
	id, region, description string
	kmsKey, parent          string
	clientToken             string
	volumeSize              int64 // GiB
	encrypted               bool
	blocks                  map[int32][]byte // nil data: an all-zero block
	written                 map[int32]bool   // blocks PutSnapshotBlock wrote; the others came from the parent
	state                   string           // pending, completing, completed, error
	readyAt                 time.Time        // completing → completed
	started, lastWrite      time.Time
	timeout                 time.Duration // StartSnapshot's Timeout: since the start or the last written block
	users, groups           map[string]bool
	start                   *SnapshotStart // the StartSnapshot request; nil for copies and imports
}

// status is the state the EC2 API reports at now.
func (s *snapshot) status(now time.Time) string {
	switch s.state {
	case "completing":
		if now.Before(s.readyAt) {
			return "pending"
		}
		return "completed"
	case "pending":
		if s.timeout > 0 && now.After(later(s.started, s.lastWrite).Add(s.timeout)) {
			return "error"
		}
	}
	return s.state
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// block returns the data of block i (zeros if absent).
func (s *snapshot) block(i int32) []byte {
	b := s.blocks[i]
	if b == nil {
		b = zeroBlock
	}
	return append([]byte(nil), b...)
}

// putBlock stores a copy of data, sharing one zero block for all-zero
// data so that encrypted uploads of mostly empty disks stay small.
func (s *snapshot) putBlock(i int32, data []byte) {
	if s.written == nil {
		s.written = map[int32]bool{}
	}
	s.written[i] = true
	s.lastWrite = time.Now()
	if bytes.Equal(data, zeroBlock) {
		s.blocks[i] = nil
		return
	}
	s.blocks[i] = append([]byte(nil), data...)
}

// sortedBlocks returns the indices of the blocks s holds, ascending.
func (s *snapshot) sortedBlocks() []int32 {
	out := make([]int32, 0, len(s.blocks))
	for i := range s.blocks {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// bdm is one block device mapping of an image.
type bdm struct {
	device, snapshot, volumeType, kmsKey string
	size                                 int64
	deleteOnTermination, encrypted       bool
}

// image is a registered AMI.
type image struct {
	id, region, name, description   string
	arch, bootMode, sriov, imds     string
	tpm, uefiData, rootDevice, virt string
	ena                             bool
	bdms                            []bdm
	created, readyAt                time.Time
	users, groups, orgs, ous        map[string]bool
	deprecation                     string
	protection                      string    // disabled, enabled, enabled-with-cooldown
	protectedUntil                  time.Time // a cooldown: deregistration is refused until then
	sourceID, sourceRegion          string
	clientToken                     string
}

func (im *image) state(now time.Time) string {
	if now.Before(im.readyAt) {
		return "pending"
	}
	return "available"
}

// importTask is an ImportSnapshot task.
type importTask struct {
	id, region, description string
	bucket, key, format     string
	clientToken, kmsKey     string
	encrypted               bool
	readyAt                 time.Time
	snapshotID, message     string
	cancelled               bool
	size                    int64
}

func (t *importTask) status(now time.Time) string {
	switch {
	case t.cancelled || t.message != "":
		return "deleted"
	case t.snapshotID != "" || !now.Before(t.readyAt):
		return "completed"
	}
	return "active"
}

// multipart is an unfinished S3 multipart upload.
type multipart struct {
	bucket, key string
	parts       map[int]*object
	tags        map[string]string // x-amz-tagging, given to the object
}

// release closes the files of the upload's parts.
func (m *multipart) release() {
	for _, p := range m.parts {
		p.release()
	}
}

// setTags merges tags into the tags of id. Callers hold e.mu.
func (e *Emulator) setTags(id string, tags map[string]string) {
	if len(tags) == 0 {
		return
	}
	if e.tags[id] == nil {
		e.tags[id] = map[string]string{}
	}
	for k, v := range tags {
		e.tags[id][k] = v
	}
}

// resourceType names the EC2 resource type of an id.
func resourceType(id string) string {
	switch {
	case len(id) > 4 && id[:4] == "ami-":
		return "image"
	case len(id) > 5 && id[:5] == "snap-":
		return "snapshot"
	case len(id) > 11 && id[:11] == "import-snap":
		return "import-snapshot-task"
	}
	return "unknown"
}

// match reports whether value matches an EC2 filter pattern (* and ?).
func match(pattern, value string) bool {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\*`, ".*")
	q = strings.ReplaceAll(q, `\?`, ".")
	ok, err := regexp.MatchString("^"+q+"$", value)
	return err == nil && ok
}

// sortedKeys returns the keys of a set, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
