package gcpemu

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// uploadState is what the checker knows of one resumable upload session.
type uploadState struct {
	received int64
	crc      uint32
	declared string // base64 CRC32C from the initiation metadata, if any
}

// uploadChecker sits in front of fake-gcs-server and makes resumable
// uploads as strict as GCS: chunks must continue where the session is
// (bytes already persisted are dropped, as GCS does), and a full-object
// CRC32C sent at initiation or in X-Goog-Hash on the final chunk must
// match the data, or the upload fails with 400.
type uploadChecker struct {
	next     http.Handler
	mu       sync.Mutex
	sessions map[string]*uploadState
	finished map[string]*savedResponse // final answers, replayed to retries
	checked  int                       // uploads finalised with a CRC32C that was compared
}

// savedResponse is a recorded answer.
type savedResponse struct {
	status int
	header http.Header
	body   []byte
}

func newUploadChecker(next http.Handler) *uploadChecker {
	return &uploadChecker{next: next, sessions: map[string]*uploadState{}, finished: map[string]*savedResponse{}}
}

func (c *uploadChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch operationOf(r) {
	case OpUploadStart:
		if r.URL.Query().Get("uploadType") == "resumable" {
			c.start(w, r)
			return
		}
	case OpUploadChunk:
		c.chunk(w, r)
		return
	}
	c.next.ServeHTTP(w, r)
}

// start records the CRC32C declared in the metadata and the session id
// from the Location header of the answer.
func (c *uploadChecker) start(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "reading upload metadata: "+err.Error())
		return
	}
	var meta struct {
		Crc32c string `json:"crc32c"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &meta); err != nil {
			writeError(w, http.StatusBadRequest, "parseError", "upload metadata: "+err.Error())
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rec := &headerHook{ResponseWriter: w, hook: func(h http.Header) {
		if loc, err := url.Parse(h.Get("Location")); err == nil {
			if id := loc.Query().Get(resumableUploadArg); id != "" {
				c.mu.Lock()
				c.sessions[id] = &uploadState{declared: meta.Crc32c}
				c.mu.Unlock()
			}
		}
	}}
	c.next.ServeHTTP(rec, r)
}

// chunk checks the offset and the running CRC32C of one chunk.
func (c *uploadChecker) chunk(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(resumableUploadArg)
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.sessions[id]
	if saved, done := c.finished[id]; !ok && done {
		saved.replay(w) // GCS answers a retry of a finished upload again
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "notFound", "no such upload session "+id)
		return
	}
	start, total, err := parseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "reading chunk: "+err.Error())
		return
	}
	if start < 0 { // "bytes */N": no data, just the total
		start = st.received
	}
	if start > st.received {
		writeError(w, http.StatusBadRequest, "invalid",
			fmt.Sprintf("chunk starts at %d but the session holds %d bytes", start, st.received))
		return
	}
	data = data[min(st.received-start, int64(len(data))):] // drop what is held
	crc := crc32.Update(st.crc, castagnoli, data)
	end := st.received + int64(len(data))
	final := total >= 0 && end == total
	if final {
		if err := checkCRC(crc, st.declared, r.Header.Get("X-Goog-Hash")); err != nil {
			delete(c.sessions, id)
			writeError(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		if st.declared != "" || r.Header.Get("X-Goog-Hash") != "" {
			c.checked++
		}
	}
	if len(data) == 0 && !final { // a chunk GCS already holds
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", end-1))
		w.Header().Set("X-Http-Status-Code-Override", "308")
		w.WriteHeader(http.StatusOK)
		return
	}
	if saved := c.forward(w, r, st, data, total, final); saved != nil {
		st.received, st.crc = end, crc
		if final {
			delete(c.sessions, id)
			c.finished[id] = saved
		}
	}
}

// forward hands the (trimmed) chunk to fake-gcs-server with a matching
// Content-Range and returns its answer when it accepted the chunk.
func (c *uploadChecker) forward(w http.ResponseWriter, r *http.Request, st *uploadState, data []byte, total int64, final bool) *savedResponse {
	end := st.received + int64(len(data))
	rng := fmt.Sprintf("bytes %d-%d/*", st.received, end-1)
	switch {
	case final && len(data) == 0:
		rng = fmt.Sprintf("bytes */%d", end)
	case final:
		rng = fmt.Sprintf("bytes %d-%d/%d", st.received, end-1, total)
	}
	r.Header.Set("Content-Range", rng)
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	rec := &headerHook{ResponseWriter: w, keep: final}
	c.next.ServeHTTP(rec, r)
	if rec.status >= 400 {
		return nil
	}
	return &savedResponse{status: rec.status, header: w.Header().Clone(), body: rec.body.Bytes()}
}

func (s *savedResponse) replay(w http.ResponseWriter) {
	for k, v := range s.header {
		w.Header()[k] = v
	}
	w.WriteHeader(s.status)
	_, _ = w.Write(s.body)
}

// checkCRC compares the data's CRC32C with the declared ones.
func checkCRC(crc uint32, declared, xGoogHash string) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc)
	got := base64.StdEncoding.EncodeToString(b[:])
	if declared != "" && declared != got {
		return fmt.Errorf("crc32c mismatch: metadata says %s, data is %s", declared, got)
	}
	for _, part := range strings.Split(xGoogHash, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "crc32c="); ok && v != got {
			return fmt.Errorf("crc32c mismatch: X-Goog-Hash says %s, data is %s", v, got)
		}
	}
	return nil
}

// parseContentRange parses "bytes a-b/t", "bytes a-b/*" and "bytes */t";
// start is -1 for "*", total -1 for "*".
func parseContentRange(s string) (start, total int64, err error) {
	spec, ok := strings.CutPrefix(s, "bytes ")
	rangePart, totalPart, ok2 := strings.Cut(spec, "/")
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", s)
	}
	start, total = -1, -1
	if rangePart != "*" {
		a, _, ok := strings.Cut(rangePart, "-")
		if start, err = strconv.ParseInt(a, 10, 64); !ok || err != nil {
			return 0, 0, fmt.Errorf("invalid Content-Range %q", s)
		}
	}
	if totalPart != "*" {
		if total, err = strconv.ParseInt(totalPart, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("invalid Content-Range %q", s)
		}
	}
	return start, total, nil
}

// headerHook calls hook with the headers just before they are sent and
// remembers the status (and, with keep, the body).
type headerHook struct {
	http.ResponseWriter
	hook   func(http.Header)
	status int
	wrote  bool
	keep   bool
	body   bytes.Buffer
}

func (h *headerHook) WriteHeader(code int) {
	if !h.wrote {
		h.wrote, h.status = true, code
		if h.hook != nil {
			h.hook(h.Header())
		}
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerHook) Write(p []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	if h.keep {
		h.body.Write(p)
	}
	return h.ResponseWriter.Write(p)
}
