package awsemu

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"
)

func (e *Emulator) importSnapshot(region string, f url.Values) (*ec2Response, *ec2Err) {
	if token := f.Get("ClientToken"); token != "" {
		for _, t := range e.tasks {
			if t.clientToken == token && t.region == region {
				x := e.taskXML(t, time.Now())
				return &ec2Response{ImportTaskID: t.id, TaskDetail: &x.Detail}, nil
			}
		}
	}
	t := &importTask{
		region: region, description: f.Get("Description"), format: strings.ToUpper(f.Get("DiskContainer.Format")),
		bucket: f.Get("DiskContainer.UserBucket.S3Bucket"), key: f.Get("DiskContainer.UserBucket.S3Key"),
		clientToken: f.Get("ClientToken"), kmsKey: f.Get("KmsKeyId"), encrypted: boolForm(f, "Encrypted"),
	}
	switch {
	case f.Get("DiskContainer.Url") != "":
		return nil, badParam("DiskContainer.Url is not supported by the emulator; use UserBucket")
	case t.bucket == "" || t.key == "":
		return nil, errCode("MissingParameter", "DiskContainer.UserBucket.S3Bucket and S3Key are required")
	case t.format != "RAW" && t.format != "VHD" && t.format != "VMDK":
		return nil, badParam("Value (%s) for parameter DiskContainer.Format is invalid", t.format)
	case e.buckets[t.bucket] == nil:
		return nil, errCode("InvalidParameter", "The given S3 bucket %s does not exist", t.bucket)
	}
	now := time.Now()
	t.id = e.nextID("import-snap")
	t.readyAt = now.Add(e.delay)
	e.tasks[t.id] = t
	e.setTags(t.id, tagSpecs(f)["import-snapshot-task"])
	x := e.taskXML(t, now)
	return &ec2Response{ImportTaskID: t.id, TaskDetail: &x.Detail}, nil
}

// settle turns a task whose time has come into a snapshot read from its
// S3 object (or an error message). Callers hold e.mu.
func (e *Emulator) settle(t *importTask, now time.Time) {
	if t.status(now) != "completed" || t.snapshotID != "" {
		return
	}
	data, ok := e.buckets[t.bucket][t.key]
	switch {
	case !ok:
		t.message = "ClientError: Disk validation failed [Unable to read S3 object " + t.bucket + "/" + t.key + "]"
		return
	case t.format != "RAW":
		t.message = "ClientError: Disk validation failed [only RAW images are emulated]"
		return
	case data.size == 0:
		t.message = "ClientError: Disk validation failed [empty disk image]"
		return
	}
	t.size = data.size
	s := &snapshot{
		id: e.nextID("snap"), region: t.region, description: "Created by AWS-VMImport service for " + t.id,
		volumeSize: (t.size + gib - 1) / gib, encrypted: t.encrypted, kmsKey: t.kmsKey,
		blocks: map[int32][]byte{}, state: "completed", started: now,
	}
	if s.encrypted && s.kmsKey == "" {
		s.kmsKey = "arn:aws:kms:" + t.region + ":" + AccountID + ":alias/aws/ebs"
	}
	blk := make([]byte, BlockSize)
	for off := int64(0); off < t.size; off += BlockSize {
		clear(blk)
		if _, err := data.ReadAt(blk[:min(BlockSize, t.size-off)], off); err != nil && !errors.Is(err, io.EOF) {
			t.message = "ClientError: Disk validation failed [reading the S3 object: " + err.Error() + "]"
			return
		}
		if !bytes.Equal(blk, zeroBlock) {
			s.blocks[int32(off/BlockSize)] = append([]byte(nil), blk...)
		}
	}
	e.snaps[s.id] = s
	t.snapshotID = s.id
}

func (e *Emulator) taskXML(t *importTask, now time.Time) importTaskXML {
	st := t.status(now)
	progress := ""
	if st == "active" {
		progress = "50"
	}
	return importTaskXML{
		ImportTaskID: t.id, Description: t.description, Tags: e.tagsXML(t.id),
		Detail: taskDetailXML{
			Description: t.description, DiskImageSize: float64(t.size), Encrypted: t.encrypted, Format: t.format,
			KmsKeyID: t.kmsKey, Progress: progress, SnapshotID: t.snapshotID, Status: st, StatusMessage: t.message,
			UserBucket: userBucketXML{t.bucket, t.key},
		},
	}
}

func (e *Emulator) describeImportSnapshotTasks(region string, f url.Values) (*ec2Response, *ec2Err) {
	ids := list(f, "ImportTaskId")
	now := time.Now()
	resp := &ec2Response{ImportTasks: []importTaskXML{}}
	for _, id := range ids {
		if t, ok := e.tasks[id]; !ok || t.region != region {
			return nil, errCode("InvalidConversionTaskId.Malformed", "The import task %s does not exist", id)
		}
	}
	for _, t := range e.tasks {
		if t.region != region || len(ids) > 0 && !contains(ids, t.id) {
			continue
		}
		e.settle(t, now)
		resp.ImportTasks = append(resp.ImportTasks, e.taskXML(t, now))
	}
	sort.Slice(resp.ImportTasks, func(a, b int) bool { return resp.ImportTasks[a].ImportTaskID < resp.ImportTasks[b].ImportTaskID })
	return resp, nil
}

func (e *Emulator) cancelImportTask(region string, f url.Values) (*ec2Response, *ec2Err) {
	id := f.Get("ImportTaskId")
	t, ok := e.tasks[id]
	if !ok || t.region != region {
		return nil, errCode("InvalidConversionTaskId.Malformed", "The import task %s does not exist", id)
	}
	now := time.Now()
	e.settle(t, now)
	prev := t.status(now)
	if prev != "active" {
		return nil, errCode("IncorrectState", "The import task %s is %s and cannot be cancelled", id, prev)
	}
	t.cancelled = true
	return &ec2Response{ImportTaskID: id, PreviousState: prev, State: "deleting"}, nil
}
