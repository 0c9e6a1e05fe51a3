package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// Clients are the API clients Publish uses. Retry tunes retries of
// transient failures (429, 5xx, resets); its zero value gives defaults.
type Clients struct {
	Storage *storage.Client
	Compute *compute.Service
	Retry   Retry
}

// Retry is an exponential backoff: Initial, doubled up to Max, for at most
// Attempts tries per request.
type Retry struct {
	Initial, Max time.Duration
	Attempts     int
}

func (r Retry) withDefaults() Retry {
	if r.Initial <= 0 {
		r.Initial = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 16 * time.Second
	}
	if r.Attempts <= 0 {
		r.Attempts = 10
	}
	return r
}

// ClientOptions chooses credentials and endpoints. With no credentials
// set, Application Default Credentials are used.
type ClientOptions struct {
	// CredentialsFile is a path to a credentials JSON (service account,
	// authorized user, external account or impersonated service account).
	CredentialsFile string
	// CredentialsJSON is the content of such a file.
	CredentialsJSON []byte
	// ImpersonateServiceAccount is the e-mail of a service account to act
	// as, using the other credentials (or ADC) as the caller.
	ImpersonateServiceAccount string
	// ComputeEndpoint overrides the compute API base URL, e.g. an
	// emulator's http://127.0.0.1:4443/compute/v1/ ("/compute/v1/" is
	// appended when the path is empty).
	ComputeEndpoint string
	// StorageEndpoint overrides the storage JSON API base URL
	// (".../storage/v1/" likewise). STORAGE_EMULATOR_HOST, which the
	// storage client reads itself, also works.
	StorageEndpoint string
	// WithoutAuthentication sends no credentials, for emulators.
	WithoutAuthentication bool
}

const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// NewClients builds the storage and compute clients.
func NewClients(ctx context.Context, o ClientOptions) (Clients, error) {
	auth, err := o.authOptions(ctx)
	if err != nil {
		return Clients{}, err
	}
	var sopts, copts []option.ClientOption
	sopts, copts = append(sopts, auth...), append(copts, auth...)
	if o.StorageEndpoint != "" {
		sopts = append(sopts, option.WithEndpoint(withAPIPath(o.StorageEndpoint, "/storage/v1/")))
	}
	if o.ComputeEndpoint != "" {
		copts = append(copts, option.WithEndpoint(withAPIPath(o.ComputeEndpoint, "/compute/v1/")))
	}
	st, err := storage.NewClient(ctx, sopts...)
	if err != nil {
		return Clients{}, fmt.Errorf("creating storage client: %w", err)
	}
	cs, err := compute.NewService(ctx, copts...)
	if err != nil {
		_ = st.Close()
		return Clients{}, fmt.Errorf("creating compute client: %w", err)
	}
	return Clients{Storage: st, Compute: cs}, nil
}

// Close releases the storage client.
func (c Clients) Close() error {
	if c.Storage == nil {
		return nil
	}
	return c.Storage.Close()
}

func withAPIPath(endpoint, path string) string {
	trimmed := strings.TrimRight(endpoint, "/")
	if i := strings.Index(trimmed, "://"); i >= 0 && !strings.Contains(trimmed[i+3:], "/") {
		return trimmed + path
	}
	return trimmed + "/"
}

// authOptions turns the credential settings into client options.
func (o ClientOptions) authOptions(ctx context.Context) ([]option.ClientOption, error) {
	if o.WithoutAuthentication {
		return []option.ClientOption{option.WithoutAuthentication()}, nil
	}
	var base []option.ClientOption
	switch {
	case o.CredentialsFile != "" && len(o.CredentialsJSON) > 0:
		return nil, errors.New("credentials: set a credentials file or credentials JSON, not both")
	case o.CredentialsFile != "":
		data, err := os.ReadFile(o.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("reading credentials file: %w", err)
		}
		t, err := credentialsType(data)
		if err != nil {
			return nil, fmt.Errorf("credentials file %s: %w", o.CredentialsFile, err)
		}
		base = append(base, option.WithAuthCredentialsJSON(t, data))
	case len(o.CredentialsJSON) > 0:
		t, err := credentialsType(o.CredentialsJSON)
		if err != nil {
			return nil, fmt.Errorf("credentials JSON: %w", err)
		}
		base = append(base, option.WithAuthCredentialsJSON(t, o.CredentialsJSON))
	}
	if o.ImpersonateServiceAccount == "" {
		return base, nil
	}
	ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
		TargetPrincipal: o.ImpersonateServiceAccount, Scopes: []string{cloudPlatformScope},
	}, base...)
	if err != nil {
		return nil, fmt.Errorf("impersonating %s: %w", o.ImpersonateServiceAccount, err)
	}
	return []option.ClientOption{option.WithTokenSource(ts)}, nil
}

// credentialsType reads the "type" of a credentials JSON.
func credentialsType(data []byte) (option.CredentialsType, error) {
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("parsing credentials JSON: %w", err)
	}
	switch t := option.CredentialsType(f.Type); t {
	case option.ServiceAccount, option.AuthorizedUser, option.ImpersonatedServiceAccount, option.ExternalAccount:
		return t, nil
	}
	return "", fmt.Errorf("unsupported credentials type %q", f.Type)
}
