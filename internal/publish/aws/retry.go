package aws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// retryable reports whether err, returned while ctx is still live, is
// worth another attempt: throttling (with the EBS direct APIs'
// ConcurrentLimitExceededException, a 400 the SDK does not retry), 5xx,
// per-request timeouts and connection errors (resets, EOF) are; other API
// errors are not.
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		_, throttled := retry.DefaultThrottleErrorCodes[ae.ErrorCode()]
		return throttled || ae.ErrorCode() == "ConcurrentLimitExceededException"
	}
	return true
}

// withRetries runs fn up to attempts times, sleeping with jittered
// exponential backoff (base, doubling, capped at 10s) between retryable
// failures. Each attempt gets its own timeout.
func withRetries(ctx context.Context, attempts int, base, timeout time.Duration, fn func(context.Context) error) error {
	var err error
	delay := base
	for i := 0; i < attempts; i++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err = fn(actx)
		cancel()
		if !retryable(ctx, err) || i == attempts-1 {
			return err
		}
		if serr := sleep(ctx, delay/2+rand.N(delay/2+1)); serr != nil {
			return errors.Join(err, serr)
		}
		delay = min(2*delay, 10*time.Second)
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// poll calls check until it reports done, waiting 100ms at first and
// doubling up to 5s between calls, for at most timeout.
func poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		done, err := check(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if err := sleep(ctx, delay); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// errorCode returns the API error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// notFound reports whether err says the resource does not exist.
func notFound(err error) bool {
	switch errorCode(err) {
	case "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidSnapshot.NotFound", "NoSuchKey",
		"NoSuchUpload", "NotFound", "InvalidConversionTaskId.Malformed", "InvalidConversionTaskId":
		return true
	}
	return false
}
