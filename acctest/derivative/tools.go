package derivative

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// run runs a tool, sending its output to the build log.
func (b *builder) run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	cmd.Env = append(os.Environ(), env...)
	b.logf("running %s %s", name, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s: %w", name, err)
	}
	return nil
}

// output runs a tool and returns its standard output.
func (b *builder) output(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, b.log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running %s: %w", name, err)
	}
	return out.Bytes(), nil
}

// debianMirror is the Debian archive URL this machine's apt uses (so that a
// proxy or snapshot mirror configured there is used too), overridable with
// ELEMENTAL_DEBIAN_MIRROR.
func debianMirror() string {
	if m := os.Getenv("ELEMENTAL_DEBIAN_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		if m := mirrorIn(f); m != "" {
			return m
		}
	}
	return "http://deb.debian.org/debian"
}

// mirrorIn returns the first main-archive URL (not security, not a
// third-party repository) in a one-line or deb822 sources file.
func mirrorIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		var url string
		switch {
		case len(fields) >= 3 && fields[0] == "deb":
			url = fields[1]
			if strings.HasPrefix(url, "[") { // deb [opts] url
				for i, w := range fields {
					if strings.HasSuffix(w, "]") && i+1 < len(fields) {
						url = fields[i+1]
						break
					}
				}
			}
		case len(fields) >= 2 && fields[0] == "URIs:":
			url = fields[1]
		}
		if strings.HasSuffix(strings.TrimSuffix(url, "/"), "/debian") {
			return strings.TrimSuffix(url, "/")
		}
	}
	return ""
}

// buildStandin builds the stand-in elemental CLI as a static binary in the
// cache. It is built from source on every Build (Go's build cache makes
// that cheap) and its bytes are part of the cache key, so a changed stand-in
// rebuilds the images that carry it.
func (b *builder) buildStandin(ctx context.Context) (string, error) {
	out := filepath.Join(b.cache, "elemental")
	pkg := b.standinDir
	if _, err := os.Stat(pkg); err != nil {
		b.logf("WARNING: %s does not exist; building a placeholder elemental", pkg)
		if pkg, err = writePlaceholder(filepath.Join(b.cache, "placeholder")); err != nil {
			return "", err
		}
	}
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod", "GOWORK=off"}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the stand-in elemental from %s: %w", pkg, err)
	}
	return out, nil
}

// writePlaceholder writes a tiny module whose binary only says what it is,
// so images can be built before the real stand-in exists.
func writePlaceholder(dir string) (string, error) {
	files := map[string]string{
		"go.mod": "module placeholder\n\ngo 1.22\n",
		"main.go": `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "elemental: placeholder stand-in, args:", os.Args[1:])
}
`,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating placeholder dir: %w", err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return "", fmt.Errorf("writing placeholder %s: %w", name, err)
		}
	}
	return dir, nil
}

// sshKeys makes the per-cache keys once: the client key root accepts and the
// guest's fixed host key, so tests can pin it.
func (b *builder) sshKeys(ctx context.Context) (client, host string, err error) {
	dir := filepath.Join(b.cache, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("creating key dir: %w", err)
	}
	client = filepath.Join(dir, "id_ed25519")
	host = filepath.Join(dir, "ssh_host_ed25519_key")
	for _, k := range []struct{ path, comment string }{
		{client, "elemental-test-client"},
		{host, "root@elemental-test"},
	} {
		if _, err := os.Stat(k.path + ".pub"); err == nil {
			continue
		}
		_ = os.Remove(k.path)
		if err := b.run(ctx, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
			"-C", k.comment, "-f", k.path); err != nil {
			return "", "", err
		}
	}
	return client, host, nil
}
