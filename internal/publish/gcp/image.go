package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
)

var (
	// ErrImageExists is returned when an image of that name exists already;
	// Publish leaves that image alone.
	ErrImageExists = errors.New("image already exists")
	// ErrOperationFailed marks a compute operation that ended with errors.
	ErrOperationFailed = errors.New("compute operation failed")
)

// insertImage starts images.insert and returns the operation name. A
// request id makes retries of the same insert safe.
func insertImage(ctx context.Context, c Clients, project string, img *compute.Image) (string, error) {
	reqID := uuid.NewString()
	var op *compute.Operation
	err := c.Retry.do(ctx, func() (err error) {
		op, err = c.Compute.Images.Insert(project, img).RequestId(reqID).Context(ctx).Do()
		return err
	})
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusConflict {
		return "", fmt.Errorf("inserting image %s/%s: %w", project, img.Name, ErrImageExists)
	}
	if err != nil {
		return "", fmt.Errorf("inserting image %s/%s: %w", project, img.Name, err)
	}
	return op.Name, nil
}

// waitOperation waits for a global operation to be DONE and returns its
// error, if any, wrapping ErrOperationFailed.
func waitOperation(ctx context.Context, c Clients, project, name string) error {
	for {
		var op *compute.Operation
		err := c.Retry.do(ctx, func() (err error) {
			op, err = c.Compute.GlobalOperations.Wait(project, name).Context(ctx).Do()
			return err
		})
		if err != nil {
			return fmt.Errorf("waiting for operation %s/%s: %w", project, name, err)
		}
		if op.Status == "DONE" {
			return operationError(op)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for operation %s/%s: %w", project, name, err)
		}
	}
}

func operationError(op *compute.Operation) error {
	if op.Error == nil || len(op.Error.Errors) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(op.Error.Errors))
	for _, e := range op.Error.Errors {
		msgs = append(msgs, e.Code+": "+e.Message)
	}
	return fmt.Errorf("operation %s (%s %s): %w: %s", op.Name, op.OperationType, op.TargetLink,
		ErrOperationFailed, strings.Join(msgs, "; "))
}

// deprecateImage sets the deprecation status and waits for it.
func deprecateImage(ctx context.Context, c Clients, project, image string, st *compute.DeprecationStatus) error {
	reqID := uuid.NewString()
	var op *compute.Operation
	err := c.Retry.do(ctx, func() (err error) {
		op, err = c.Compute.Images.Deprecate(project, image, st).RequestId(reqID).Context(ctx).Do()
		return err
	})
	if err != nil {
		return fmt.Errorf("deprecating image %s/%s: %w", project, image, err)
	}
	return waitOperation(ctx, c, project, op.Name)
}

// getImage returns the image, or nil when it does not exist.
func getImage(ctx context.Context, c Clients, project, image string) (*compute.Image, error) {
	var img *compute.Image
	err := c.Retry.do(ctx, func() (err error) {
		img, err = c.Compute.Images.Get(project, image).Context(ctx).Do()
		return err
	})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting image %s/%s: %w", project, image, err)
	}
	return img, nil
}

// Exists reports whether the image exists (in any status).
func Exists(ctx context.Context, c Clients, project, image string) (bool, error) {
	img, err := getImage(ctx, c, project, image)
	return img != nil, err
}

// Delete deletes the image and waits until it is gone; an image that
// does not exist is not an error.
func Delete(ctx context.Context, c Clients, project, image string) error {
	reqID := uuid.NewString()
	var op *compute.Operation
	err := c.Retry.do(ctx, func() (err error) {
		op, err = c.Compute.Images.Delete(project, image).RequestId(reqID).Context(ctx).Do()
		return err
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting image %s/%s: %w", project, image, err)
	}
	if err := waitOperation(ctx, c, project, op.Name); err != nil {
		return fmt.Errorf("deleting image %s/%s: %w", project, image, err)
	}
	return nil
}
