package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/elemental-suite/elemental/internal/grubenv"
)

// kv is one GRUB environment assignment, kept in order.
type kv struct{ k, v string }

// setGrubEnv sets vars in the GRUB env block at p, creating the block if
// it does not exist.
func setGrubEnv(p string, vars []kv) error {
	env := &grubenv.Env{}
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		if env, err = grubenv.Parse(b); err != nil {
			return fmt.Errorf("parsing %s: %w", p, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading %s: %w", p, err)
	}
	for _, a := range vars {
		env.Set(a.k, a.v)
	}
	out, err := env.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding %s: %w", p, err)
	}
	if err := writeFileAtomic(p, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// grubEditenv is `elemental grub-editenv FILE create|list|set k=v…|unset k…`,
// a grub-editenv replacement for initrds and images without GRUB tools.
func grubEditenv(e *env, args []string) error {
	if len(args) < 2 {
		return errors.New("usage: elemental grub-editenv FILE create|list|set k=v...|unset k...")
	}
	file, op, rest := args[0], args[1], args[2:]
	switch op {
	case "create":
		return setGrubEnv(file, nil)
	case "set":
		var vars []kv
		for _, a := range rest {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return fmt.Errorf("grub-editenv set: %q is not key=value", a)
			}
			vars = append(vars, kv{k, v})
		}
		return setGrubEnv(file, vars)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	env, err := grubenv.Parse(b)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", file, err)
	}
	switch op {
	case "list":
		for _, k := range env.Keys() {
			v, _ := env.Get(k)
			fmt.Fprintf(e.stdout, "%s=%s\n", k, v)
		}
		return nil
	case "unset":
		for _, k := range rest {
			env.Delete(k)
		}
		out, err := env.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encoding %s: %w", file, err)
		}
		return writeFileAtomic(file, out, 0o644)
	}
	return fmt.Errorf("grub-editenv: unknown operation %q", op)
}

// osReleaseEntry returns GRUB_ENTRY_NAME from a tree's /etc/os-release.
func osReleaseEntry(tree string) string {
	b, err := os.ReadFile(tree + "/etc/os-release")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "GRUB_ENTRY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}
