package aws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestRetryable(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	resp := func(code int, err error) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: err}
	}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"nil", context.Background(), nil, false},
		{"5xx", context.Background(), resp(503, &smithy.GenericAPIError{Code: "Unavailable"}), true},
		{"throttling", context.Background(), resp(400, &smithy.GenericAPIError{Code: "RequestThrottledException"}), true},
		{"ebs concurrency limit", context.Background(), resp(400, &smithy.GenericAPIError{Code: "ConcurrentLimitExceededException"}), true},
		{"access denied", context.Background(), resp(403, &smithy.GenericAPIError{Code: "AccessDeniedException"}), false},
		{"validation", context.Background(), &smithy.GenericAPIError{Code: "ValidationException"}, false},
		{"connection reset", context.Background(), errors.New("read: connection reset by peer"), true},
		{"eof", context.Background(), io.ErrUnexpectedEOF, true},
		{"per-request timeout", context.Background(), context.DeadlineExceeded, true},
		{"caller cancelled", cancelled, errors.New("anything"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.ctx, tc.err); got != tc.want {
				t.Fatalf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWithRetriesStopsOnPermanentErrors(t *testing.T) {
	tests := []struct {
		name  string
		errs  []error
		calls int
		ok    bool
	}{
		{"first try", []error{nil}, 1, true},
		{"after resets", []error{io.EOF, io.EOF, nil}, 3, true},
		{"permanent", []error{&smithy.GenericAPIError{Code: "AccessDenied"}}, 1, false},
		{"gives up", []error{io.EOF, io.EOF, io.EOF, io.EOF}, 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := withRetries(context.Background(), 3, time.Millisecond, time.Second, func(context.Context) error {
				calls++
				return tc.errs[calls-1]
			})
			if calls != tc.calls || (err == nil) != tc.ok {
				t.Fatalf("calls %d err %v, want %d calls ok=%v", calls, err, tc.calls, tc.ok)
			}
		})
	}
}
