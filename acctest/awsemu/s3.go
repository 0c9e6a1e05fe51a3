package awsemu

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	type errXML struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}
	out, _ := xml.Marshal(errXML{Code: code, Message: msg, RequestID: "emulated"})
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func writeS3XML(w http.ResponseWriter, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// bucketKey splits a path-style or virtual-hosted request into bucket and
// key.
func bucketKey(r *http.Request) (bucket, key string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if net.ParseIP(host) == nil && strings.Count(host, ".") >= 1 && host != "localhost" {
		if b, _, ok := strings.Cut(host, "."); ok && b != "s3" {
			return b, p
		}
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// s3Op names the S3 operation of a request.
func s3Op(r *http.Request, key string) string {
	q := r.URL.Query()
	_, uploads := q["uploads"]
	switch r.Method {
	case http.MethodPut:
		switch {
		case key == "":
			return "CreateBucket"
		case q.Get("uploadId") != "":
			return "UploadPart"
		}
		return "PutObject"
	case http.MethodPost:
		if uploads {
			return "CreateMultipartUpload"
		}
		return "CompleteMultipartUpload"
	case http.MethodDelete:
		if q.Get("uploadId") != "" {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	case http.MethodHead:
		if key == "" {
			return "HeadBucket"
		}
		return "HeadObject"
	case http.MethodGet:
		switch {
		case key == "" && uploads:
			return "ListMultipartUploads"
		case key == "":
			return "ListObjectsV2"
		case q.Has("tagging"):
			return "GetObjectTagging"
		}
		return "GetObject"
	}
	return "Unknown"
}

// serveS3 answers the S3 object subset used by uploads.
func (e *Emulator) serveS3(w http.ResponseWriter, r *http.Request, _ string) {
	bucket, key := bucketKey(r)
	op := s3Op(r, key)
	f, leave := e.count(op, bucket+"/"+key+"?"+r.URL.Query().Get("partNumber"))
	defer leave()
	if f.apply(r, w, "s3", s3Error) {
		return
	}
	w, done := f.intercept(w)
	defer done()
	if bucket == "" {
		s3Error(w, http.StatusBadRequest, "InvalidBucketName", "bucket name is required")
		return
	}
	if op == "CreateBucket" {
		e.CreateBucket(bucket)
		w.Header().Set("Location", "/"+bucket)
		return
	}
	// Data (PutObject, UploadPart) goes to an object file; the only other
	// body read, CompleteMultipartUpload's, is a small XML document.
	var data *object
	var body []byte
	switch r.Method {
	case http.MethodPut:
		if op == "PutObject" && tagsErr(w, r) {
			return
		}
		var err error
		if data, err = newObject(s3Body(r)); err != nil {
			s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
	case http.MethodPost:
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxXMLBody)); err != nil {
			s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	objs, ok := e.buckets[bucket]
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	switch op {
	case "PutObject":
		objs[key].release()
		data.tags, _ = objectTags(r)
		objs[key] = data
		w.Header().Set("ETag", data.etag)
	case "HeadBucket":
	case "HeadObject", "GetObject":
		obj, ok := objs[key]
		if !ok {
			s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		}
		w.Header().Set("ETag", obj.etag)
		w.Header().Set("Content-Length", strconv.FormatInt(obj.size, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		if op == "GetObject" {
			_, _ = io.Copy(w, obj.reader())
		}
	case "GetObjectTagging":
		e.getObjectTagging(w, objs, key)
	case "DeleteObject":
		objs[key].release()
		delete(objs, key)
		w.WriteHeader(http.StatusNoContent)
	case "ListObjectsV2":
		e.listObjects(w, bucket, r.URL.Query().Get("prefix"))
	case "ListMultipartUploads":
		e.listUploads(w, bucket, r.URL.Query().Get("prefix"))
	default:
		e.serveMultipart(w, r, op, bucket, key, data, body)
	}
}

func (e *Emulator) listObjects(w http.ResponseWriter, bucket, prefix string) {
	type obj struct {
		Key  string `xml:"Key"`
		Size int64  `xml:"Size"`
		ETag string `xml:"ETag"`
	}
	type result struct {
		XMLName  xml.Name `xml:"ListBucketResult"`
		Name     string   `xml:"Name"`
		Prefix   string   `xml:"Prefix"`
		KeyCount int      `xml:"KeyCount"`
		Contents []obj    `xml:"Contents"`
	}
	res := result{Name: bucket, Prefix: prefix}
	for k, v := range e.buckets[bucket] {
		if strings.HasPrefix(k, prefix) {
			res.Contents = append(res.Contents, obj{k, v.size, v.etag})
		}
	}
	sort.Slice(res.Contents, func(a, b int) bool { return res.Contents[a].Key < res.Contents[b].Key })
	res.KeyCount = len(res.Contents)
	writeS3XML(w, res)
}

// listUploads answers ListMultipartUploads (one page: every upload of
// the bucket whose key starts with prefix). Callers hold e.mu.
func (e *Emulator) listUploads(w http.ResponseWriter, bucket, prefix string) {
	type upload struct {
		Key      string `xml:"Key"`
		UploadID string `xml:"UploadId"`
	}
	type result struct {
		XMLName     xml.Name `xml:"ListMultipartUploadsResult"`
		Bucket      string   `xml:"Bucket"`
		Prefix      string   `xml:"Prefix"`
		MaxUploads  int      `xml:"MaxUploads"`
		IsTruncated bool     `xml:"IsTruncated"`
		Uploads     []upload `xml:"Upload"`
	}
	res := result{Bucket: bucket, Prefix: prefix, MaxUploads: 1000}
	for id, up := range e.uploads {
		if up.bucket == bucket && strings.HasPrefix(up.key, prefix) {
			res.Uploads = append(res.Uploads, upload{up.key, id})
		}
	}
	sort.Slice(res.Uploads, func(a, b int) bool {
		return res.Uploads[a].Key+"\x00"+res.Uploads[a].UploadID < res.Uploads[b].Key+"\x00"+res.Uploads[b].UploadID
	})
	writeS3XML(w, res)
}

// serveMultipart answers the multipart upload operations. Callers hold
// e.mu.
func (e *Emulator) serveMultipart(w http.ResponseWriter, r *http.Request, op, bucket, key string, data *object, body []byte) {
	q := r.URL.Query()
	if op == "CreateMultipartUpload" {
		if tagsErr(w, r) {
			return
		}
		tags, _ := objectTags(r)
		id := e.nextID("upload")
		e.uploads[id] = &multipart{bucket: bucket, key: key, parts: map[int]*object{}, tags: tags}
		writeS3XML(w, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string   `xml:"Bucket"`
			Key      string   `xml:"Key"`
			UploadID string   `xml:"UploadId"`
		}{Bucket: bucket, Key: key, UploadID: id})
		return
	}
	up, ok := e.uploads[q.Get("uploadId")]
	if !ok || up.bucket != bucket || up.key != key {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist.")
		return
	}
	switch op {
	case "UploadPart":
		n, err := strconv.Atoi(q.Get("partNumber"))
		if err != nil || n < 1 || n > 10000 {
			s3Error(w, http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000")
			return
		}
		up.parts[n].release()
		up.parts[n] = data
		w.Header().Set("ETag", data.etag)
	case "AbortMultipartUpload":
		up.release()
		delete(e.uploads, q.Get("uploadId"))
		w.WriteHeader(http.StatusNoContent)
	case "CompleteMultipartUpload":
		e.completeMultipart(w, q.Get("uploadId"), up, body)
	}
}

func (e *Emulator) completeMultipart(w http.ResponseWriter, id string, up *multipart, body []byte) {
	var req struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	if err := xml.Unmarshal(body, &req); err != nil || len(req.Parts) == 0 {
		s3Error(w, http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed")
		return
	}
	parts := make([]*object, 0, len(req.Parts))
	for i, p := range req.Parts {
		part, ok := up.parts[p.PartNumber]
		switch {
		case !ok || strings.Trim(p.ETag, `"`) != strings.Trim(part.etag, `"`):
			s3Error(w, http.StatusBadRequest, "InvalidPart", fmt.Sprintf("part %d was not uploaded or its ETag does not match", p.PartNumber))
			return
		case i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber:
			s3Error(w, http.StatusBadRequest, "InvalidPartOrder", "parts must be in ascending order")
			return
		case i < len(req.Parts)-1 && part.size < 5<<20:
			s3Error(w, http.StatusBadRequest, "EntityTooSmall", "parts other than the last must be at least 5 MiB")
			return
		}
		parts = append(parts, part)
	}
	obj, err := concatObjects(parts)
	if err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	e.buckets[up.bucket][up.key].release()
	obj.tags = up.tags
	e.buckets[up.bucket][up.key] = obj
	up.release()
	delete(e.uploads, id)
	writeS3XML(w, struct {
		XMLName xml.Name `xml:"CompleteMultipartUploadResult"`
		Bucket  string   `xml:"Bucket"`
		Key     string   `xml:"Key"`
		ETag    string   `xml:"ETag"`
	}{Bucket: up.bucket, Key: up.key, ETag: obj.etag})
}

// maxXMLBody bounds the CompleteMultipartUpload document (10 000 parts).
const maxXMLBody = 4 << 20

// s3Body is a request's data, with aws-chunked framing (used by the SDKs
// for streaming checksums) decoded when present.
func s3Body(r *http.Request) io.Reader {
	chunked := strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") ||
		strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-")
	if !chunked {
		return r.Body
	}
	return &awsChunked{br: bufio.NewReader(r.Body)}
}

// awsChunked decodes aws-chunked framing: hex size;extensions CRLF, data,
// CRLF, ... up to a zero-size chunk (trailers follow; checksums are not
// verified).
type awsChunked struct {
	br   *bufio.Reader
	left int64 // data bytes left in the current chunk
	done bool
}

func (c *awsChunked) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("reading aws-chunked header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad aws-chunked size %q", sizeHex)
		}
		if n == 0 {
			c.done = true
			continue
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		if _, err := c.br.ReadString('\n'); err != nil {
			return n, fmt.Errorf("reading aws-chunked terminator: %w", err)
		}
	}
	if errors.Is(err, io.EOF) && c.left > 0 {
		err = fmt.Errorf("reading aws-chunked data: %w", io.ErrUnexpectedEOF)
	}
	return n, err
}
