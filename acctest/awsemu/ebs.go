package awsemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// zeroSum is the checksum of an all-zero block.
var zeroSum = func() string {
	sum := sha256.Sum256(zeroBlock)
	return base64.StdEncoding.EncodeToString(sum[:])
}()

type ebsTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type startSnapshotInput struct {
	VolumeSize       int64    `json:"VolumeSize"`
	ParentSnapshotID string   `json:"ParentSnapshotId"`
	Tags             []ebsTag `json:"Tags"`
	Description      *string  `json:"Description"`
	ClientToken      string   `json:"ClientToken"`
	Encrypted        bool     `json:"Encrypted"`
	KmsKeyArn        string   `json:"KmsKeyArn"`
	Timeout          int32    `json:"Timeout"`
}

// SnapshotStart is what a StartSnapshot request asked for, as the
// emulator received it (zero values for members that were not sent).
type SnapshotStart struct {
	VolumeSize       int64
	Description      string
	Tags             map[string]string
	Timeout          int32 // minutes
	Encrypted        bool
	KmsKeyArn        string
	ParentSnapshotID string
	ClientToken      string
}

// kmsKeyARN is the KmsKeyArn pattern of the EBS direct API reference: a
// key ARN, not a key id or alias.
var kmsKeyARN = regexp.MustCompile(`^arn:aws[a-z\-]*:kms:.*:[0-9]{12}:key/.*$`)

// check applies the StartSnapshot constraints of the EBS direct API
// reference and returns the ValidationException message, or "".
func (in startSnapshotInput) check() string {
	switch {
	case in.VolumeSize < 1 || in.VolumeSize > 65536:
		return fmt.Sprintf("VolumeSize %d out of range 1..65536", in.VolumeSize)
	case in.Timeout != 0 && (in.Timeout < 10 || in.Timeout > 4320):
		return fmt.Sprintf("Timeout %d out of range 10..4320", in.Timeout)
	case in.Description != nil && (*in.Description == "" || utf8.RuneCountInString(*in.Description) > 255):
		return "Description must have 1 to 255 characters"
	case in.KmsKeyArn != "" && !kmsKeyARN.MatchString(in.KmsKeyArn):
		return "KmsKeyArn " + strconv.Quote(in.KmsKeyArn) + " is not a KMS key ARN"
	case len(in.Tags) > 50:
		return "a snapshot takes at most 50 tags"
	}
	for _, t := range in.Tags {
		if t.Key == "" || utf8.RuneCountInString(t.Key) > 127 || utf8.RuneCountInString(t.Value) > 255 {
			return fmt.Sprintf("tag %q=%q: keys have 1 to 127 characters, values at most 255", t.Key, t.Value)
		}
	}
	return ""
}

// ebsError is a REST-JSON error reply.
func ebsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("X-Amzn-RequestId", "emulated")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "Message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "emulated")
	_ = json.NewEncoder(w).Encode(v)
}

// serveEBS answers the EBS direct APIs.
func (e *Emulator) serveEBS(w http.ResponseWriter, r *http.Request, region string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var op string
	switch {
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "snapshots":
		op = "StartSnapshot"
	case r.Method == http.MethodPost && len(parts) == 3 && parts[1] == "completion":
		op = "CompleteSnapshot"
	case r.Method == http.MethodPut && len(parts) == 4 && parts[2] == "blocks":
		op = "PutSnapshotBlock"
	case r.Method == http.MethodGet && len(parts) == 3 && parts[2] == "blocks":
		op = "ListSnapshotBlocks"
	case r.Method == http.MethodGet && len(parts) == 4 && parts[2] == "blocks":
		op = "GetSnapshotBlock"
	default:
		ebsError(w, http.StatusNotFound, "ResourceNotFoundException", "no such EBS direct API route "+r.Method+" "+r.URL.Path)
		return
	}
	f, leave := e.count(op, region+r.URL.Path)
	defer leave()
	if e.overLimit(op) {
		ebsError(w, http.StatusBadRequest, "ConcurrentLimitExceededException", "You have reached the limit for concurrent API requests")
		return
	}
	if f.apply(r, w, "ebs", ebsError) {
		return
	}
	w, done := f.intercept(w)
	defer done()
	switch op {
	case "StartSnapshot":
		e.startSnapshot(w, r, region)
	case "CompleteSnapshot":
		e.completeSnapshot(w, r, region, parts[2])
	case "PutSnapshotBlock":
		e.putSnapshotBlock(w, r, region, parts[1], parts[3])
	case "ListSnapshotBlocks":
		e.listSnapshotBlocks(w, r, region, parts[1])
	case "GetSnapshotBlock":
		e.getSnapshotBlock(w, r, region, parts[1], parts[3])
	}
}

func (e *Emulator) startSnapshot(w http.ResponseWriter, r *http.Request, region string) {
	var in startSnapshotInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		ebsError(w, http.StatusBadRequest, "ValidationException", "malformed StartSnapshot body: "+err.Error())
		return
	}
	if msg := in.check(); msg != "" {
		ebsError(w, http.StatusBadRequest, "ValidationException", msg)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if in.ClientToken != "" {
		for _, s := range e.snaps {
			if s.clientToken == in.ClientToken && s.region == region {
				writeJSON(w, e.snapshotJSON(s))
				return
			}
		}
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[t.Key] = t.Value
	}
	s := &snapshot{
		id: e.nextID("snap"), region: region, description: deref(in.Description), parent: in.ParentSnapshotID,
		clientToken: in.ClientToken, volumeSize: in.VolumeSize, encrypted: in.Encrypted, kmsKey: in.KmsKeyArn,
		blocks: map[int32][]byte{}, state: "pending", started: time.Now(), timeout: time.Duration(in.Timeout) * time.Minute,
	}
	if s.timeout == 0 {
		s.timeout = 60 * time.Minute
	}
	if s.encrypted && s.kmsKey == "" {
		s.kmsKey = fmt.Sprintf("arn:aws:kms:%s:%s:alias/aws/ebs", region, AccountID)
	}
	if in.ParentSnapshotID != "" {
		if msg := inherit(s, e.snaps[in.ParentSnapshotID], in); msg != "" {
			ebsError(w, http.StatusBadRequest, "ValidationException", msg)
			return
		}
	}
	s.start = &SnapshotStart{
		VolumeSize: in.VolumeSize, Description: s.description, Tags: tags, Timeout: in.Timeout, Encrypted: in.Encrypted,
		KmsKeyArn: in.KmsKeyArn, ParentSnapshotID: in.ParentSnapshotID, ClientToken: in.ClientToken,
	}
	e.snaps[s.id] = s
	e.setTags(s.id, tags)
	writeJSON(w, e.snapshotJSON(s))
}

// inherit makes s a child of parent: it starts with the parent's blocks
// (written blocks replace them, the others are inherited) and its
// encryption follows the EBS direct encryption outcomes: Encrypted may
// not be given with a parent; an encrypted parent's child is encrypted
// with KmsKeyArn or else the parent's key; an unencrypted parent's child
// is unencrypted and takes no key. It returns the ValidationException
// message, or "". Callers hold e.mu.
func inherit(s, parent *snapshot, in startSnapshotInput) string {
	switch {
	case parent == nil || parent.region != s.region || parent.status(time.Now()) != "completed":
		return "parent snapshot " + in.ParentSnapshotID + " not found or not completed"
	case in.Encrypted:
		return "ParentSnapshotId and Encrypted cannot be specified in the same request"
	case !parent.encrypted && in.KmsKeyArn != "":
		return "KmsKeyArn needs an encrypted parent snapshot; " + parent.id + " is not encrypted"
	case in.VolumeSize < parent.volumeSize:
		return fmt.Sprintf("VolumeSize %d is smaller than the %d GiB of parent snapshot %s", in.VolumeSize, parent.volumeSize, parent.id)
	}
	s.encrypted, s.kmsKey = parent.encrypted, parent.kmsKey
	if in.KmsKeyArn != "" {
		s.kmsKey = in.KmsKeyArn
	}
	for i, b := range parent.blocks {
		s.blocks[i] = b
	}
	return ""
}

// snapshotJSON is the StartSnapshot reply. Callers hold e.mu.
func (e *Emulator) snapshotJSON(s *snapshot) map[string]any {
	var tags []ebsTag
	for k, v := range e.tags[s.id] {
		tags = append(tags, ebsTag{k, v})
	}
	sse := "none"
	if s.encrypted {
		sse = "sse-kms"
	}
	out := map[string]any{
		"SnapshotId": s.id, "OwnerId": AccountID, "Status": "pending", "StartTime": float64(s.started.UnixMilli()) / 1000,
		"VolumeSize": s.volumeSize, "BlockSize": BlockSize, "Tags": tags, "Description": s.description, "SseType": sse,
	}
	if s.parent != "" {
		out["ParentSnapshotId"] = s.parent
	}
	if s.kmsKey != "" {
		out["KmsKeyArn"] = s.kmsKey
	}
	return out
}

// pendingSnapshot finds a snapshot still accepting blocks. Callers hold
// e.mu; on failure the error reply is written.
func (e *Emulator) ebsSnapshot(w http.ResponseWriter, region, id string) *snapshot {
	s, ok := e.snaps[id]
	if !ok || s.region != region {
		ebsError(w, http.StatusNotFound, "ResourceNotFoundException", "snapshot "+id+" does not exist in "+region)
		return nil
	}
	return s
}

func (e *Emulator) putSnapshotBlock(w http.ResponseWriter, r *http.Request, region, id, idx string) {
	index, err := strconv.ParseInt(idx, 10, 32)
	if err != nil || index < 0 {
		ebsError(w, http.StatusBadRequest, "ValidationException", "invalid block index "+idx)
		return
	}
	length, err := strconv.Atoi(r.Header.Get("x-amz-Data-Length"))
	if err != nil || length != BlockSize {
		ebsError(w, http.StatusBadRequest, "ValidationException", "x-amz-Data-Length must be 524288")
		return
	}
	// One exact-size read (not io.ReadAll's growing copies): cheaper,
	// notably under the race detector.
	data := make([]byte, BlockSize+1)
	n, err := io.ReadFull(r.Body, data)
	if data = data[:n]; (err != nil && err != io.ErrUnexpectedEOF) || n != BlockSize {
		ebsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("block data has %d bytes, want %d", n, BlockSize))
		return
	}
	if alg := r.Header.Get("x-amz-Checksum-Algorithm"); alg != "SHA256" {
		ebsError(w, http.StatusBadRequest, "ValidationException", "unsupported checksum algorithm "+strconv.Quote(alg))
		return
	}
	want := zeroSum
	if !bytes.Equal(data, zeroBlock) {
		sum := sha256.Sum256(data)
		want = base64.StdEncoding.EncodeToString(sum[:])
	}
	if got := r.Header.Get("x-amz-Checksum"); got != want {
		ebsError(w, http.StatusBadRequest, "ValidationException", "checksum mismatch: INVALID_CHECKSUM")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.ebsSnapshot(w, region, id)
	if s == nil {
		return
	}
	if st := s.status(time.Now()); s.state != "pending" || st != "pending" {
		ebsError(w, http.StatusBadRequest, "ValidationException", "snapshot "+id+" is "+st+", not accepting blocks")
		return
	}
	if index >= s.volumeSize*gib/BlockSize {
		ebsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("block index %d beyond volume size %d GiB", index, s.volumeSize))
		return
	}
	s.putBlock(int32(index), data)
	w.Header().Set("x-amz-Checksum", want)
	w.Header().Set("x-amz-Checksum-Algorithm", "SHA256")
	writeJSON(w, map[string]any{})
}

func (e *Emulator) completeSnapshot(w http.ResponseWriter, r *http.Request, region, id string) {
	count, err := strconv.Atoi(r.Header.Get("x-amz-ChangedBlocksCount"))
	if err != nil {
		ebsError(w, http.StatusBadRequest, "ValidationException", "x-amz-ChangedBlocksCount is required")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.ebsSnapshot(w, region, id)
	if s == nil {
		return
	}
	now := time.Now()
	switch st := s.status(now); {
	case s.state == "completing" || st == "completed":
		writeJSON(w, map[string]string{"Status": st})
		return
	case st != "pending":
		ebsError(w, http.StatusBadRequest, "ValidationException", "snapshot "+id+" is "+st)
		return
	}
	if count != len(s.written) {
		ebsError(w, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("ChangedBlocksCount %d does not match the %d blocks written", count, len(s.written)))
		return
	}
	if sum := r.Header.Get("x-amz-Checksum"); sum != "" {
		if r.Header.Get("x-amz-Checksum-Aggregation-Method") != "LINEAR" || r.Header.Get("x-amz-Checksum-Algorithm") != "SHA256" {
			ebsError(w, http.StatusBadRequest, "ValidationException", "aggregated checksum must be SHA256 LINEAR")
			return
		}
		if want := linearChecksum(s); sum != want {
			ebsError(w, http.StatusBadRequest, "ValidationException", "aggregated checksum mismatch: INVALID_CHECKSUM")
			return
		}
	}
	s.state = "completing"
	s.readyAt = now.Add(e.delay)
	writeJSON(w, map[string]string{"Status": "pending"})
}

// linearChecksum is the SHA256 of the concatenated per-block SHA256 sums
// of the written blocks (not the inherited ones) in block index order.
func linearChecksum(s *snapshot) string {
	h := sha256.New()
	zero := sha256.Sum256(zeroBlock)
	for _, i := range s.sortedBlocks() {
		if !s.written[i] {
			continue
		}
		if b := s.blocks[i]; b == nil {
			h.Write(zero[:])
		} else {
			sum := sha256.Sum256(b)
			h.Write(sum[:])
		}
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (e *Emulator) listSnapshotBlocks(w http.ResponseWriter, r *http.Request, region, id string) {
	q := r.URL.Query()
	start, _ := strconv.ParseInt(q.Get("startingBlockIndex"), 10, 32)
	if tok := q.Get("pageToken"); tok != "" {
		start, _ = strconv.ParseInt(tok, 10, 32)
	}
	limit, _ := strconv.Atoi(q.Get("maxResults"))
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.ebsSnapshot(w, region, id)
	if s == nil {
		return
	}
	if st := s.status(time.Now()); st != "completed" {
		ebsError(w, http.StatusBadRequest, "ValidationException", "snapshot "+id+" is "+st+", not completed")
		return
	}
	type blk struct {
		BlockIndex int32  `json:"BlockIndex"`
		BlockToken string `json:"BlockToken"`
	}
	blocks := []blk{}
	next := ""
	for _, i := range s.sortedBlocks() {
		if int64(i) < start {
			continue
		}
		if len(blocks) == limit {
			next = strconv.Itoa(int(i))
			break
		}
		blocks = append(blocks, blk{i, blockToken(id, i)})
	}
	out := map[string]any{"Blocks": blocks, "VolumeSize": s.volumeSize, "BlockSize": BlockSize,
		"ExpiryTime": float64(time.Now().Add(time.Hour).Unix())}
	if next != "" {
		out["NextToken"] = next
	}
	writeJSON(w, out)
}

func blockToken(id string, i int32) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s/%d", id, i)))
}

func (e *Emulator) getSnapshotBlock(w http.ResponseWriter, r *http.Request, region, id, idx string) {
	index, err := strconv.ParseInt(idx, 10, 32)
	if err != nil || r.URL.Query().Get("blockToken") != blockToken(id, int32(index)) {
		ebsError(w, http.StatusBadRequest, "ValidationException", "invalid block index or token")
		return
	}
	e.mu.Lock()
	s := e.ebsSnapshot(w, region, id)
	var data []byte
	if s != nil {
		data = s.block(int32(index))
	}
	e.mu.Unlock()
	if s == nil {
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("x-amz-Data-Length", strconv.Itoa(len(data)))
	w.Header().Set("x-amz-Checksum", base64.StdEncoding.EncodeToString(sum[:]))
	w.Header().Set("x-amz-Checksum-Algorithm", "SHA256")
	_, _ = w.Write(data)
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// SnapshotStart returns the StartSnapshot request that made snapshot id
// (its tags as sent, not as later changed), or false when id does not
// exist or was not made by StartSnapshot (a copy, an import).
func (e *Emulator) SnapshotStart(id string) (SnapshotStart, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.snaps[id]
	if !ok || s.start == nil {
		return SnapshotStart{}, false
	}
	out := *s.start
	out.Tags = maps.Clone(s.start.Tags)
	return out, true
}
