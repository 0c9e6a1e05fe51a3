package awsemu

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2Err is an EC2 API error: code and message, answered with status.
type ec2Err struct {
	status        int
	code, message string
}

func badParam(format string, args ...any) *ec2Err {
	return &ec2Err{http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

func errCode(code, format string, args ...any) *ec2Err {
	return &ec2Err{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

type ec2Handler func(e *Emulator, region string, f url.Values) (*ec2Response, *ec2Err)

var ec2Handlers = map[string]ec2Handler{
	"RegisterImage":                        (*Emulator).registerImage,
	"DescribeImages":                       (*Emulator).describeImages,
	"DeregisterImage":                      (*Emulator).deregisterImage,
	"CopyImage":                            (*Emulator).copyImage,
	"ModifyImageAttribute":                 (*Emulator).modifyImageAttribute,
	"DescribeImageAttribute":               (*Emulator).describeImageAttribute,
	"EnableImageDeprecation":               (*Emulator).enableImageDeprecation,
	"EnableImageDeregistrationProtection":  (*Emulator).enableProtection,
	"DisableImageDeregistrationProtection": (*Emulator).disableProtection,
	"DescribeSnapshots":                    (*Emulator).describeSnapshots,
	"DeleteSnapshot":                       (*Emulator).deleteSnapshot,
	"ModifySnapshotAttribute":              (*Emulator).modifySnapshotAttribute,
	"DescribeSnapshotAttribute":            (*Emulator).describeSnapshotAttribute,
	"CreateTags":                           (*Emulator).createTags,
	"DescribeTags":                         (*Emulator).describeTags,
	"ImportSnapshot":                       (*Emulator).importSnapshot,
	"DescribeImportSnapshotTasks":          (*Emulator).describeImportSnapshotTasks,
	"CancelImportTask":                     (*Emulator).cancelImportTask,
	"DescribeRegions":                      (*Emulator).describeRegions,
}

// serveEC2 answers an EC2 query-protocol request.
func (e *Emulator) serveEC2(w http.ResponseWriter, r *http.Request, region string) {
	if err := r.ParseForm(); err != nil {
		writeEC2Error(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	f := r.PostForm
	action := f.Get("Action")
	h, ok := ec2Handlers[action]
	if !ok {
		writeEC2Error(w, http.StatusBadRequest, "InvalidAction", "the action "+action+" is not valid for this web service")
		return
	}
	key := region
	for _, k := range []string{"ImageId", "SnapshotId", "SourceImageId", "ImportTaskId", "Name", "ResourceId.1"} {
		if v := f.Get(k); v != "" {
			key += "/" + v
			break
		}
	}
	flt, leave := e.count(action, key)
	defer leave()
	if flt.apply(r, w, "ec2", writeEC2Error) {
		return
	}
	w, done := flt.intercept(w)
	defer done()
	e.mu.Lock()
	resp, eerr := h(e, region, f)
	e.seq++
	reqID := fmt.Sprintf("00000000-0000-4000-8000-%012x", e.seq)
	e.mu.Unlock()
	if eerr != nil {
		writeEC2Error(w, eerr.status, eerr.code, eerr.message)
		return
	}
	resp.wrap()
	resp.XMLName = xml.Name{Local: action + "Response"}
	resp.Xmlns = ec2Namespace
	resp.RequestID = reqID
	out, err := xml.Marshal(resp)
	if err != nil {
		writeEC2Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func writeEC2Error(w http.ResponseWriter, status int, code, msg string) {
	type errXML struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type respXML struct {
		XMLName   xml.Name `xml:"Response"`
		Errors    []errXML `xml:"Errors>Error"`
		RequestID string   `xml:"RequestID"`
	}
	out, _ := xml.Marshal(respXML{Errors: []errXML{{code, msg}}, RequestID: "00000000-0000-4000-8000-000000000000"})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// list returns prefix.1, prefix.2, … until the first missing one.
func list(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + "." + strconv.Itoa(i)
		if _, ok := f[k]; !ok {
			return out
		}
		out = append(out, f.Get(k))
	}
}

// members returns the structures prefix.1.*, prefix.2.*, … as maps from
// the member path (e.g. "Ebs.SnapshotId") to its value.
func members(f url.Values, prefix string) []map[string]string {
	var out []map[string]string
	for i := 1; ; i++ {
		p := prefix + "." + strconv.Itoa(i) + "."
		m := map[string]string{}
		for k, v := range f {
			if strings.HasPrefix(k, p) && len(v) > 0 {
				m[strings.TrimPrefix(k, p)] = v[0]
			}
		}
		if len(m) == 0 {
			return out
		}
		out = append(out, m)
	}
}

// filters parses Filter.N.Name / Filter.N.Value.M (or prefix Filters).
func filters(f url.Values, prefix string) map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		p := prefix + "." + strconv.Itoa(i)
		name := f.Get(p + ".Name")
		if name == "" {
			return out
		}
		out[name] = append(out[name], list(f, p+".Value")...)
	}
}

// tagSpecs parses TagSpecification.N into resource type → tags.
func tagSpecs(f url.Values) map[string]map[string]string {
	out := map[string]map[string]string{}
	for i := 1; ; i++ {
		p := "TagSpecification." + strconv.Itoa(i)
		rt := f.Get(p + ".ResourceType")
		if rt == "" {
			return out
		}
		if out[rt] == nil {
			out[rt] = map[string]string{}
		}
		for _, t := range members(f, p+".Tag") {
			out[rt][t["Key"]] = t["Value"]
		}
	}
}

// tagFilter reports whether the tags of id satisfy the tag:K and tag-key
// filters.
func (e *Emulator) tagFilter(id string, fl map[string][]string) bool {
	tags := e.tags[id]
	for name, vals := range fl {
		switch {
		case strings.HasPrefix(name, "tag:"):
			v, ok := tags[strings.TrimPrefix(name, "tag:")]
			if !ok || !anyMatch(vals, v) {
				return false
			}
		case name == "tag-key":
			found := false
			for k := range tags {
				found = found || anyMatch(vals, k)
			}
			if !found {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns []string, v string) bool {
	for _, p := range patterns {
		if match(p, v) {
			return true
		}
	}
	return false
}

// filterOK applies a plain filter when present.
func filterOK(fl map[string][]string, name, value string) bool {
	vals, ok := fl[name]
	return !ok || anyMatch(vals, value)
}

func (e *Emulator) tagsXML(id string) []tagXML {
	var out []tagXML
	for _, k := range sortedKeys(keysOf(e.tags[id])) {
		out = append(out, tagXML{k, e.tags[id][k]})
	}
	return out
}

func keysOf(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func boolForm(f url.Values, k string) bool { return strings.EqualFold(f.Get(k), "true") }

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func ok() *ec2Response {
	t := true
	return &ec2Response{Return: &t}
}
