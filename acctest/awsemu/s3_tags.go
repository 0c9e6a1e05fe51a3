package awsemu

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"unicode/utf8"
)

// maxObjectTags is the S3 limit of tags per object.
const maxObjectTags = 10

// objectTags parses the x-amz-tagging header (URL-encoded key=value
// pairs) of PutObject and CreateMultipartUpload, with the S3 limits: at
// most 10 tags, keys of 1 to 128 characters, values of at most 256.
func objectTags(r *http.Request) (map[string]string, error) {
	h := r.Header.Get("X-Amz-Tagging")
	if h == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(h)
	if err != nil {
		return nil, fmt.Errorf("malformed x-amz-tagging: %w", err)
	}
	if len(q) > maxObjectTags {
		return nil, fmt.Errorf("object tags cannot be greater than %d", maxObjectTags)
	}
	out := map[string]string{}
	for k, v := range q {
		if k == "" || utf8.RuneCountInString(k) > 128 || len(v) != 1 || utf8.RuneCountInString(v[0]) > 256 {
			return nil, fmt.Errorf("tag %q: keys have 1 to 128 characters, values at most 256, each key once", k)
		}
		out[k] = v[0]
	}
	return out, nil
}

// tagsErr answers a request whose tags break the limits with S3's
// InvalidTag and reports whether it did.
func tagsErr(w http.ResponseWriter, r *http.Request) bool {
	if _, err := objectTags(r); err != nil {
		s3Error(w, http.StatusBadRequest, "InvalidTag", err.Error())
		return true
	}
	return false
}

// getObjectTagging answers GetObjectTagging. Callers hold e.mu.
func (e *Emulator) getObjectTagging(w http.ResponseWriter, objs map[string]*object, key string) {
	obj, ok := objs[key]
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	type tag struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	}
	res := struct {
		XMLName xml.Name `xml:"Tagging"`
		Tags    []tag    `xml:"TagSet>Tag"`
	}{}
	for k, v := range obj.tags {
		res.Tags = append(res.Tags, tag{k, v})
	}
	sort.Slice(res.Tags, func(a, b int) bool { return res.Tags[a].Key < res.Tags[b].Key })
	writeS3XML(w, res)
}
