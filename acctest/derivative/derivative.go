package derivative

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

//go:embed recipe
var recipeFS embed.FS

// Variant names one test derivative.
type Variant struct {
	Generation int    // 1 (cOS-style /etc/cos layout) or 2 (/etc/elemental layout)
	Version    string // "A" or "B"
}

// String gives the variant as used in tags and file names, e.g. "v2-A".
func (v Variant) String() string { return fmt.Sprintf("v%d-%s", v.Generation, v.Version) }

// Validate reports whether the variant is one the recipe knows how to build.
func (v Variant) Validate() error {
	var errs []error
	if v.Generation != 1 && v.Generation != 2 {
		errs = append(errs, fmt.Errorf("generation %d: %w", v.Generation, ErrUnknownVariant))
	}
	if v.Version != "A" && v.Version != "B" {
		errs = append(errs, fmt.Errorf("version %q: %w", v.Version, ErrUnknownVariant))
	}
	return errors.Join(errs...)
}

// ErrUnknownVariant is returned for a generation or version the recipe lacks.
var ErrUnknownVariant = errors.New("unknown test derivative variant")

// Options tune Build.
type Options struct {
	// CacheDir holds the base rootfs, keys and built layouts. Default:
	// $ELEMENTAL_CACHE, else <repo>/.cache/derivatives.
	CacheDir string
	// Log receives the output of the tools Build runs. Default: discarded.
	Log io.Writer
	// StandinDir is the package of the stand-in elemental CLI. Default:
	// <repo>/acctest/standin/elemental. When it does not exist a placeholder
	// binary is built instead (and the log says so).
	StandinDir string
}

// Built describes a built test derivative.
type Built struct {
	LayoutDir string // OCI image layout directory holding exactly this image
	Tag       string // the image's org.opencontainers.image.ref.name, e.g. "v2-A"
	Digest    string // manifest digest, "sha256:…"
	SSHKey    string // path to the private key that root accepts
	HostKey   string // the guest's ed25519 host public key line
	Kernel    string // kernel version, e.g. "6.1.0-50-amd64"
}

// sourceDateEpoch is the timestamp of every file and of the image config,
// from SOURCE_DATE_EPOCH when set, so rebuilt layers hash the same.
func sourceDateEpoch() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(1700000000, 0).UTC() // 2023-11-14, any fixed value works
}

// Build builds the variant's image, or returns the cached one when every
// recipe input (recipe files, package list, stand-in binary, mirror, epoch,
// variant) hashes the same as a previous build.
func Build(ctx context.Context, v Variant, opts Options) (*Built, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(b.cache)
	if err != nil {
		return nil, err
	}
	defer unlock()

	standin, err := b.buildStandin(ctx)
	if err != nil {
		return nil, err
	}
	key, err := b.variantKey(v, standin)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.cache, "images", v.String()+"-"+key[:16])
	if built, err := readBuilt(dir); err == nil {
		b.logf("cache hit for %s: %s", v, dir)
		return built, nil
	}
	return b.buildVariant(ctx, v, standin, dir)
}

// builder carries the resolved options through one Build.
type builder struct {
	cache, repo, standinDir, mirror string
	log                             io.Writer
	epoch                           time.Time
}

func newBuilder(opts Options) (*builder, error) {
	b := &builder{log: opts.Log, epoch: sourceDateEpoch(), mirror: debianMirror()}
	if b.log == nil {
		b.log = io.Discard
	}
	repo, err := repoRoot()
	if err != nil {
		return nil, err
	}
	b.repo = repo
	b.cache = opts.CacheDir
	if b.cache == "" {
		b.cache = os.Getenv("ELEMENTAL_CACHE")
	}
	if b.cache == "" {
		b.cache = filepath.Join(repo, ".cache", "derivatives")
	}
	if b.cache, err = filepath.Abs(b.cache); err != nil {
		return nil, fmt.Errorf("resolving cache dir: %w", err)
	}
	b.standinDir = opts.StandinDir
	if b.standinDir == "" {
		b.standinDir = filepath.Join(repo, "acctest", "standin", "elemental")
	}
	if err := os.MkdirAll(b.cache, 0o755); err != nil {
		return nil, fmt.Errorf("creating cache dir %s: %w", b.cache, err)
	}
	return b, nil
}

func (b *builder) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "derivative: "+format+"\n", args...)
}

// repoRoot finds the module root by walking up from the working directory
// (tests run in the package directory, the demo anywhere in the tree).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("finding the repository: no go.mod above %s", dir)
		}
	}
}

// hashInputs hashes named byte slices in name order.
func hashInputs(parts map[string][]byte) string {
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(parts[n]))
		h.Write(parts[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// recipeFiles returns every embedded recipe file by name.
func recipeFiles() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(recipeFS, "recipe", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := recipeFS.ReadFile(p)
		out[p] = data
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded recipe: %w", err)
	}
	return out, nil
}

// recipe returns one embedded recipe file; they are known to exist.
func recipe(name string) []byte {
	data, err := recipeFS.ReadFile("recipe/" + name)
	if err != nil {
		panic("derivative: recipe file missing from the embed: " + name)
	}
	return data
}

// baseKey covers what the base rootfs depends on.
func (b *builder) baseKey() string {
	return hashInputs(map[string][]byte{
		"base.sh":      recipe("base.sh"),
		"packages.txt": recipe("packages.txt"),
		"mirror":       []byte(b.mirror),
		"epoch":        []byte(b.epoch.String()),
	})
}

// variantKey covers everything: the whole recipe, the builder's own layer
// format version, the stand-in binary and the variant.
func (b *builder) variantKey(v Variant, standin string) (string, error) {
	parts, err := recipeFiles()
	if err != nil {
		return "", err
	}
	bin, err := os.ReadFile(standin)
	if err != nil {
		return "", fmt.Errorf("reading stand-in binary %s: %w", standin, err)
	}
	parts["standin"] = bin
	parts["base"] = []byte(b.baseKey())
	parts["variant"] = []byte(v.String())
	parts["format"] = []byte(formatVersion)
	return hashInputs(parts), nil
}

// formatVersion changes when the Go side of the recipe changes what it
// writes, so that caches from older builders are not reused.
const formatVersion = "1"

// builtFile is the metadata stored next to a finished layout.
const builtFile = "built.json"

func readBuilt(dir string) (*Built, error) {
	data, err := os.ReadFile(filepath.Join(dir, builtFile))
	if err != nil {
		return nil, err
	}
	var b Built
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, builtFile), err)
	}
	return &b, nil
}

// lockDir serialises builds sharing a cache (parallel tests, several
// packages): the base tree and keys are written once.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening cache lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking cache %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
