package gcp

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"time"

	"cloud.google.com/go/storage"
	compute "google.golang.org/api/compute/v1"
)

// Result describes a published image.
type Result struct {
	ImageName string
	SelfLink  string
	// ObjectURI is gs://bucket/object; the object is gone unless SkipClean.
	ObjectURI string
	// BytesUploaded is the size of the tar.gz sent (retries not counted).
	BytesUploaded int64
	// DiskSize is disk.raw's size (the raw disk rounded up to a GiB);
	// DataSize is the raw disk's allocated data.
	DiskSize, DataSize int64
	// CRC32C of the uploaded object, as GCS confirmed it.
	CRC32C uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrChecksum marks an object whose CRC32C differs from what was sent.
var ErrChecksum = errors.New("object checksum mismatch")

// publication tracks what a Publish call created, for cleanup.
type publication struct {
	c         Clients
	spec      Spec
	progress  func(Event)
	source    string // the image's rawDisk source URL
	uploading bool   // the object may exist
	inserting bool   // images.insert was sent: the image may exist
	insertOp  string // images.insert operation, once known
	published bool   // the image is complete and must be kept
}

// Publish uploads rawDisk (a sparse raw disk) and creates spec.ImageName
// from it. progress may be nil. On error nothing it created is left
// (except the object with SkipClean); the error from a failed cleanup is
// joined to the original one. The one exception: when the image is
// complete but deleting the object fails, Publish returns the Result and
// an error naming the object left behind.
func Publish(ctx context.Context, c Clients, rawDisk string, spec Spec, progress func(Event)) (res *Result, err error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	if progress == nil {
		progress = func(Event) {}
	}
	raw, err := os.Open(rawDisk)
	if err != nil {
		return nil, fmt.Errorf("opening raw disk: %w", err)
	}
	defer raw.Close()
	p := &publication{c: c, spec: spec, progress: progress,
		source: "https://storage.googleapis.com/" + spec.Bucket + "/" + spec.ObjectName}
	defer func() {
		if err != nil && !p.published {
			err = errors.Join(err, p.cleanup(ctx))
			res = nil
		}
	}()
	res = &Result{ImageName: spec.ImageName, ObjectURI: "gs://" + spec.Bucket + "/" + spec.ObjectName}
	// Fail before uploading if the name is taken; this also makes an image
	// of that name found after an unanswered insert ours.
	if exists, err := Exists(ctx, c, spec.ProjectID, spec.ImageName); err != nil || exists {
		if err == nil {
			err = fmt.Errorf("image %s/%s: %w", spec.ProjectID, spec.ImageName, ErrImageExists)
		}
		return nil, err
	}
	if err := p.upload(ctx, raw, res); err != nil {
		return nil, err
	}
	if err := p.createImage(ctx, res); err != nil {
		return nil, err
	}
	p.published = true // from here on the image stays, whatever happens
	if !spec.SkipClean {
		progress(Event{Phase: PhaseCleanup, Message: "deleting " + res.ObjectURI})
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spec.CleanupTimeout)
		defer cancel()
		if err := p.deleteObject(dctx); err != nil {
			return res, fmt.Errorf("image %s published, but: %w", spec.ImageName, err)
		}
	}
	progress(Event{Phase: PhaseDone, Bytes: res.BytesUploaded, Message: res.SelfLink})
	return res, nil
}

// createImage inserts the image, waits for it and deprecates it.
func (p *publication) createImage(ctx context.Context, res *Result) error {
	s := p.spec
	img := &compute.Image{
		Name: s.ImageName, Family: s.Family, Description: s.Description,
		RawDisk:          &compute.ImageRawDisk{Source: p.source},
		StorageLocations: s.StorageLocations, Architecture: s.Architecture, Licenses: s.Licenses,
		ShieldedInstanceInitialState: s.ShieldedInitialState.initialState(),
	}
	img.Labels, _ = mergeLabels(s.Labels, s.provenance()) // checked by Validate
	for _, f := range s.GuestOSFeatures {
		img.GuestOsFeatures = append(img.GuestOsFeatures, &compute.GuestOsFeature{Type: f})
	}
	p.progress(Event{Phase: PhaseInsert, Message: "creating image " + s.ImageName})
	p.inserting = true
	op, err := insertImage(ctx, p.c, s.ProjectID, img)
	if errors.Is(err, ErrImageExists) {
		p.inserting = false // someone else's image, made since we looked
	}
	if err != nil {
		return err
	}
	p.insertOp = op
	p.progress(Event{Phase: PhaseWait, Message: "waiting for operation " + op})
	if err := waitOperation(ctx, p.c, s.ProjectID, op); err != nil {
		return fmt.Errorf("creating image %s/%s: %w", s.ProjectID, s.ImageName, err)
	}
	if st := s.deprecation(time.Now()); st != nil {
		p.progress(Event{Phase: PhaseDeprecate, Message: "deprecation state " + st.State})
		if err := deprecateImage(ctx, p.c, s.ProjectID, s.ImageName, st); err != nil {
			return err
		}
	}
	got, err := getImage(ctx, p.c, s.ProjectID, s.ImageName)
	if err == nil && got == nil {
		err = fmt.Errorf("image %s/%s vanished after creation", s.ProjectID, s.ImageName)
	}
	if err != nil {
		return err
	}
	if got.Status != "READY" {
		return fmt.Errorf("image %s/%s is %s after its insert operation ended: %w", s.ProjectID, s.ImageName, got.Status, ErrOperationFailed)
	}
	res.SelfLink = got.SelfLink
	return nil
}

// cleanup removes what this call created, with its own deadline so that
// it also runs after ctx is cancelled.
func (p *publication) cleanup(parent context.Context) error {
	if !p.uploading && !p.inserting {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), p.spec.CleanupTimeout)
	defer cancel()
	p.progress(Event{Phase: PhaseCleanup, Message: "removing what was created"})
	var errs []error
	if p.inserting {
		errs = append(errs, p.deleteOwnImage(ctx))
	}
	if p.uploading && !p.spec.SkipClean {
		errs = append(errs, p.deleteObject(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up after failure: %w", err)
	}
	return nil
}

// deleteOwnImage waits for our insert to finish and deletes the image if
// it was made from our object (so an image someone else made is kept).
// When the insert's answer was lost, the image is polled until it is no
// longer PENDING.
func (p *publication) deleteOwnImage(ctx context.Context) error {
	s := p.spec
	if p.insertOp != "" {
		if err := waitOperation(ctx, p.c, s.ProjectID, p.insertOp); err != nil && !errors.Is(err, ErrOperationFailed) {
			return err
		}
	}
	img, err := getImage(ctx, p.c, s.ProjectID, s.ImageName)
	for wait := time.Second; err == nil && img != nil && img.Status == "PENDING"; wait = min(2*wait, 30*time.Second) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for image %s/%s to leave PENDING: %w", s.ProjectID, s.ImageName, ctx.Err())
		case <-time.After(wait):
		}
		img, err = getImage(ctx, p.c, s.ProjectID, s.ImageName)
	}
	if err != nil || img == nil {
		return err
	}
	if img.RawDisk == nil || img.RawDisk.Source != p.source {
		return nil
	}
	return Delete(ctx, p.c, s.ProjectID, s.ImageName)
}

// deleteObject deletes the object; a missing object is not an error.
func (p *publication) deleteObject(ctx context.Context) error {
	obj := p.c.Storage.Bucket(p.spec.Bucket).Object(p.spec.ObjectName).Retryer(p.c.Retry.storageRetry()...)
	if err := obj.Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("deleting gs://%s/%s: %w", p.spec.Bucket, p.spec.ObjectName, err)
	}
	return nil
}
