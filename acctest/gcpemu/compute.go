package gcpemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	compute "google.golang.org/api/compute/v1"
)

// imageRecord is a stored image and what insert learnt of its archive.
type imageRecord struct {
	img     compute.Image
	archive ArchiveInfo
}

// computeState is the images API: images and operations per project.
type computeState struct {
	mu          sync.Mutex
	images      map[string]*imageRecord // project/name
	ops         map[string]*opRecord    // project/name
	requests    map[string]string       // project/requestId → op key
	nextID      uint64
	base        string // URL prefix of selfLinks, ending in /compute/v1/
	opDelay     time.Duration
	waitTimeout time.Duration
	gcs         *fakestorage.Server
	stop        chan struct{}
	now         func() time.Time
}

func (c *computeState) link(project, kind, name string) string {
	return fmt.Sprintf("%sprojects/%s/global/%s/%s", c.base, project, kind, name)
}

func (c *computeState) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := parseCompute(r)
	if !ok {
		writeError(w, http.StatusNotFound, "notFound", "no such compute method: "+r.Method+" "+r.URL.Path)
		return
	}
	switch rt.op {
	case OpImagesInsert:
		c.insert(w, r, rt)
	case OpImagesGet:
		c.get(w, rt)
	case OpImagesList:
		c.list(w, r, rt)
	case OpImagesFamily:
		c.fromFamily(w, rt)
	case OpImagesDelete:
		c.delete(w, r, rt)
	case OpImagesDeprecate:
		c.deprecate(w, r, rt)
	case OpOperationsGet:
		c.opGet(w, rt)
	case OpOperationsWait:
		c.opWait(w, r, rt)
	}
}

// replay answers a repeated requestId with the operation it started.
// Call with c.mu held.
func (c *computeState) replay(w http.ResponseWriter, r *http.Request, project string) bool {
	id := r.URL.Query().Get("requestId")
	if id == "" {
		return false
	}
	key, ok := c.requests[project+"/"+id]
	if !ok {
		return false
	}
	writeJSON(w, http.StatusOK, c.ops[key].op)
	return true
}

func (c *computeState) notFound(w http.ResponseWriter, project, name string) {
	writeError(w, http.StatusNotFound, "notFound",
		fmt.Sprintf("The resource 'projects/%s/global/images/%s' was not found", project, name))
}

func (c *computeState) get(w http.ResponseWriter, rt computeRoute) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.images[rt.project+"/"+rt.name]
	if !ok {
		c.notFound(w, rt.project, rt.name)
		return
	}
	writeJSON(w, http.StatusOK, rec.img)
}

func (c *computeState) list(w http.ResponseWriter, r *http.Request, rt computeRoute) {
	match, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	items := []*compute.Image{}
	for key, rec := range c.images {
		if strings.HasPrefix(key, rt.project+"/") && match(&rec.img) {
			img := rec.img
			items = append(items, &img)
		}
	}
	slices.SortFunc(items, func(a, b *compute.Image) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, compute.ImageList{
		Kind: "compute#imageList", Id: "projects/" + rt.project + "/global/images",
		Items: items, SelfLink: strings.TrimSuffix(c.link(rt.project, "images", ""), "/"),
	})
}

// fromFamily returns the newest READY, non-deprecated image of a family.
func (c *computeState) fromFamily(w http.ResponseWriter, rt computeRoute) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *compute.Image
	for key, rec := range c.images {
		img := &rec.img
		if !strings.HasPrefix(key, rt.project+"/") || img.Family != rt.name || img.Status != "READY" {
			continue
		}
		if img.Deprecated != nil && img.Deprecated.State != "" && img.Deprecated.State != "ACTIVE" {
			continue
		}
		if best == nil || img.CreationTimestamp > best.CreationTimestamp ||
			(img.CreationTimestamp == best.CreationTimestamp && img.Id > best.Id) {
			best = img
		}
	}
	if best == nil {
		writeError(w, http.StatusNotFound, "notFound",
			fmt.Sprintf("The resource 'projects/%s/global/images/family/%s' was not found", rt.project, rt.name))
		return
	}
	writeJSON(w, http.StatusOK, best)
}

func (c *computeState) delete(w http.ResponseWriter, r *http.Request, rt computeRoute) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replay(w, r, rt.project) {
		return
	}
	key := rt.project + "/" + rt.name
	rec, ok := c.images[key]
	if !ok {
		c.notFound(w, rt.project, rt.name)
		return
	}
	if rec.img.Status == "PENDING" {
		writeError(w, http.StatusBadRequest, "resourceNotReady",
			fmt.Sprintf("The resource 'projects/%s/global/images/%s' is not ready", rt.project, rt.name))
		return
	}
	op := c.startOp(rt.project, "delete", r.URL.Query().Get("requestId"), rec, func() *compute.OperationErrorErrors {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.images[key] == rec {
			delete(c.images, key)
		}
		return nil
	})
	writeJSON(w, http.StatusOK, op.op)
}

var deprecationStates = []string{"", "ACTIVE", "DEPRECATED", "OBSOLETE", "DELETED"}

func (c *computeState) deprecate(w http.ResponseWriter, r *http.Request, rt computeRoute) {
	var st compute.DeprecationStatus
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		writeError(w, http.StatusBadRequest, "parseError", "decoding DeprecationStatus: "+err.Error())
		return
	}
	if err := checkDeprecation(&st); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replay(w, r, rt.project) {
		return
	}
	rec, ok := c.images[rt.project+"/"+rt.name]
	if !ok {
		c.notFound(w, rt.project, rt.name)
		return
	}
	op := c.startOp(rt.project, "setDeprecation", r.URL.Query().Get("requestId"), rec, func() *compute.OperationErrorErrors {
		c.mu.Lock()
		defer c.mu.Unlock()
		if st.State == "ACTIVE" && st.Deprecated == "" && st.Obsolete == "" && st.Deleted == "" {
			rec.img.Deprecated = nil // un-deprecate, as gcloud --state=ACTIVE does
			return nil
		}
		rec.img.Deprecated = &st
		return nil
	})
	writeJSON(w, http.StatusOK, op.op)
}

func checkDeprecation(st *compute.DeprecationStatus) error {
	if !slices.Contains(deprecationStates, st.State) {
		return fmt.Errorf("invalid value for field 'state': %q", st.State)
	}
	for field, v := range map[string]string{"deprecated": st.Deprecated, "obsolete": st.Obsolete, "deleted": st.Deleted} {
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return fmt.Errorf("invalid value for field '%s': %q is not an RFC3339 timestamp", field, v)
		}
	}
	return nil
}

// filterRe matches one "field op value" term of a list filter.
var filterRe = lazyRegexp(`^\(?\s*([a-zA-Z.]+[a-zA-Z0-9_.-]*)\s*(=|!=|eq|ne)\s*"?([^"()]*)"?\s*\)?$`)

// parseFilter understands what the publisher and tests use: terms
// `name = "x"`, `family = "x"`, `status = "x"`, `labels.k = "v"` (also
// with != , eq, ne) joined by AND or spaces.
func parseFilter(f string) (func(*compute.Image) bool, error) {
	var terms [][]string
	for _, t := range splitTerms(f) {
		m := filterRe().FindStringSubmatch(t)
		if m == nil {
			return nil, fmt.Errorf("invalid list filter expression %q", t)
		}
		terms = append(terms, m[1:])
	}
	return func(img *compute.Image) bool {
		for _, t := range terms {
			var got string
			switch field := t[0]; {
			case field == "name":
				got = img.Name
			case field == "family":
				got = img.Family
			case field == "status":
				got = img.Status
			case strings.HasPrefix(field, "labels."):
				got = img.Labels[strings.TrimPrefix(field, "labels.")]
			default:
				return false
			}
			if (got == t[2]) != (t[1] == "=" || t[1] == "eq") {
				return false
			}
		}
		return true
	}, nil
}

// termSepRe separates the terms of a list filter.
var termSepRe = lazyRegexp(`\s+AND\s+|\)\s*\(`)

func splitTerms(f string) []string {
	var out []string
	for _, part := range termSepRe().Split(strings.TrimSpace(f), -1) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
