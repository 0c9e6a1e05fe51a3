package gcpemu

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"
)

var (
	// The expressions compile on first use: the Unicode classes cost
	// megabytes that every binary linking the package would otherwise pay
	// at init, the bench binary included.
	nameRe       = lazyRegexp(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	labelKeyRe   = lazyRegexp(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRe = lazyRegexp(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	guestOSTypes = []string{
		"UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "WINDOWS", "MULTI_IP_SUBNET", "SECURE_BOOT",
		"SEV_CAPABLE", "SEV_LIVE_MIGRATABLE", "SEV_LIVE_MIGRATABLE_V2", "SEV_SNP_CAPABLE", "GVNIC",
		"IDPF", "TDX_CAPABLE", "SUSPEND_RESUME_COMPATIBLE", "BARE_METAL_LINUX_COMPATIBLE", "SNP_SVSM_CAPABLE",
	}
	architectures = []string{"", "ARCHITECTURE_UNSPECIFIED", "X86_64", "ARM64"}
)

// checkImage validates what images.insert checks before it answers.
func checkImage(img *compute.Image) error {
	var errs []error
	if !nameRe().MatchString(img.Name) {
		errs = append(errs, fmt.Errorf("invalid value for field 'resource.name': %q", img.Name))
	}
	if img.Family != "" && !nameRe().MatchString(img.Family) {
		errs = append(errs, fmt.Errorf("invalid value for field 'resource.family': %q", img.Family))
	}
	if len(img.Labels) > 64 {
		errs = append(errs, fmt.Errorf("too many labels: %d (at most 64)", len(img.Labels)))
	}
	for k, v := range img.Labels {
		if !labelKeyRe().MatchString(k) || !labelValueRe().MatchString(v) {
			errs = append(errs, fmt.Errorf("invalid value for field 'resource.labels': %q: %q", k, v))
		}
	}
	for _, f := range img.GuestOsFeatures {
		if !slices.Contains(guestOSTypes, f.Type) {
			errs = append(errs, fmt.Errorf("invalid value for field 'resource.guestOsFeatures[].type': %q", f.Type))
		}
	}
	if !slices.Contains(architectures, img.Architecture) {
		errs = append(errs, fmt.Errorf("invalid value for field 'resource.architecture': %q", img.Architecture))
	}
	if img.RawDisk == nil || img.RawDisk.Source == "" {
		errs = append(errs, errors.New("required field 'resource.rawDisk.source' not specified"))
	} else if _, _, err := parseSource(img.RawDisk.Source); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkShielded(img.ShieldedInstanceInitialState))
	return errors.Join(errs...)
}

func checkShielded(st *compute.InitialStateConfig) error {
	if st == nil {
		return nil
	}
	bufs := slices.Concat([]*compute.FileContentBuffer{st.Pk}, st.Keks, st.Dbs, st.Dbxs)
	for _, b := range bufs {
		if b == nil {
			continue
		}
		if _, err := base64.StdEncoding.DecodeString(b.Content); err != nil || b.Content == "" {
			return fmt.Errorf("invalid value for field 'resource.shieldedInstanceInitialState': content is not base64")
		}
		if !slices.Contains([]string{"", "BIN", "X509", "UNDEFINED"}, b.FileType) {
			return fmt.Errorf("invalid value for field 'resource.shieldedInstanceInitialState': fileType %q", b.FileType)
		}
	}
	return nil
}

// parseSource accepts https://storage.googleapis.com/b/o,
// https://storage.cloud.google.com/b/o and gs://b/o.
func parseSource(src string) (bucket, object string, err error) {
	u, err := url.Parse(src)
	if err == nil {
		var path string
		switch {
		case u.Scheme == "gs":
			bucket, path = u.Host, strings.TrimPrefix(u.Path, "/")
		case u.Scheme == "https" && (u.Host == "storage.googleapis.com" || u.Host == "storage.cloud.google.com"):
			bucket, path, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		}
		if bucket != "" && path != "" {
			return bucket, path, nil
		}
	}
	return "", "", fmt.Errorf("invalid value for field 'resource.rawDisk.source': %q", src)
}

func (c *computeState) insert(w http.ResponseWriter, r *http.Request, rt computeRoute) {
	var img compute.Image
	if err := json.NewDecoder(r.Body).Decode(&img); err != nil {
		writeError(w, http.StatusBadRequest, "parseError", "decoding Image: "+err.Error())
		return
	}
	if err := checkImage(&img); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replay(w, r, rt.project) {
		return
	}
	key := rt.project + "/" + img.Name
	if _, ok := c.images[key]; ok {
		writeError(w, http.StatusConflict, "alreadyExists",
			fmt.Sprintf("The resource 'projects/%s/global/images/%s' already exists", rt.project, img.Name))
		return
	}
	c.nextID++
	img.Kind, img.Id, img.Status = "compute#image", c.nextID, "PENDING"
	img.SelfLink = c.link(rt.project, "images", img.Name)
	img.CreationTimestamp = c.now().Format(time.RFC3339Nano)
	img.SourceType = "RAW"
	img.RawDisk.ContainerType = "TAR"
	if len(img.StorageLocations) == 0 {
		img.StorageLocations = []string{"us"}
	}
	if len(img.Labels) > 0 {
		img.LabelFingerprint = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(img.Id)))
	}
	rec := &imageRecord{img: img}
	c.images[key] = rec
	op := c.startOp(rt.project, "insert", r.URL.Query().Get("requestId"), rec, func() *compute.OperationErrorErrors {
		return c.build(rec)
	})
	writeJSON(w, http.StatusOK, op.op)
}

// build reads the archive from GCS and makes the image READY or FAILED.
func (c *computeState) build(rec *imageRecord) *compute.OperationErrorErrors {
	c.mu.Lock()
	bucket, object, _ := parseSource(rec.img.RawDisk.Source)
	c.mu.Unlock()
	info, err := c.readArchive(bucket, object)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		rec.img.Status = "FAILED"
		code := "INVALID_IMAGE_FILE"
		if !errors.Is(err, ErrBadArchive) {
			code = "RESOURCE_NOT_FOUND"
		}
		return &compute.OperationErrorErrors{Code: code, Message: err.Error()}
	}
	rec.archive = info
	rec.img.Status = "READY"
	rec.img.DiskSizeGb = info.DiskSize / gib
	rec.img.ArchiveSizeBytes = info.ArchiveSize
	return nil
}

func (c *computeState) readArchive(bucket, object string) (ArchiveInfo, error) {
	obj, err := c.gcs.GetObjectStreaming(bucket, object)
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("reading gs://%s/%s: %w", bucket, object, err)
	}
	defer obj.Close()
	info, err := CheckArchive(obj.Content)
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("image archive gs://%s/%s: %w", bucket, object, err)
	}
	info.ArchiveSize = obj.Size
	return info, nil
}

// lazyRegexp returns a function that compiles expr once, when first called.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
