package gcp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
)

// transient reports whether err is worth retrying: throttling, server
// errors, timeouts of the request and broken connections, but never the
// caller's own cancellation.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code == http.StatusTooManyRequests || gerr.Code == http.StatusRequestTimeout || gerr.Code >= 500
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "connection refused", "EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return storage.ShouldRetry(err)
}

// do runs fn until it succeeds, fails for good, runs out of attempts or
// ctx ends.
func (r Retry) do(ctx context.Context, fn func() error) error {
	r = r.withDefaults()
	wait := r.Initial
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || !transient(err) || attempt >= r.Attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, r.Max)
	}
}

// storageRetry makes the storage client retry uploads and deletes of our
// own object (which we alone write) like any idempotent call.
func (r Retry) storageRetry() []storage.RetryOption {
	r = r.withDefaults()
	return []storage.RetryOption{
		storage.WithPolicy(storage.RetryAlways),
		storage.WithBackoff(gax.Backoff{Initial: r.Initial, Max: r.Max, Multiplier: 2}),
		storage.WithErrorFunc(transient),
		storage.WithMaxAttempts(r.Attempts),
	}
}

// isNotFound reports a 404 from either API.
func isNotFound(err error) bool {
	var gerr *googleapi.Error
	return errors.Is(err, storage.ErrObjectNotExist) || (errors.As(err, &gerr) && gerr.Code == http.StatusNotFound)
}
