package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// yipConfig is one cloud-config file in yip's format.
type yipConfig struct {
	Name   string               `yaml:"name"`
	Stages map[string][]yipStep `yaml:"stages"`
}

// yipStep holds the step keys the stand-in understands; Other collects
// the rest so they can be reported.
type yipStep struct {
	Name     string         `yaml:"name"`
	If       string         `yaml:"if"`
	Commands []string       `yaml:"commands"`
	Files    []yipFile      `yaml:"files"`
	Layout   *yipLayout     `yaml:"layout"`
	Other    map[string]any `yaml:",inline"`
}

type yipFile struct {
	Path        string `yaml:"path"`
	Content     string `yaml:"content"`
	Permissions uint32 `yaml:"permissions"`
	Owner       int    `yaml:"owner"`
	Group       int    `yaml:"group"`
}

type yipLayout struct {
	Device struct {
		Label string `yaml:"label"`
		Path  string `yaml:"path"`
	} `yaml:"device"`
	Expand *struct {
		Size int64 `yaml:"size"` // MiB; 0 means to the end of the disk
	} `yaml:"expand_partition"`
	Other map[string]any `yaml:",inline"`
}

// cloudConfigDirs are read in this order; files in each by name.
var cloudConfigDirs = []string{"/system/oem", "/oem", "/usr/local/cloud-config"}

// loadYip reads every .yaml/.yml file of the cloud-config directories.
func loadYip(e *env, extra []string) ([]yipConfig, []string, error) {
	var cfgs []yipConfig
	var names []string
	for _, dir := range append(append([]string(nil), cloudConfigDirs...), extra...) {
		entries, err := os.ReadDir(e.path(dir))
		if err != nil {
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, d := range entries {
			ext := filepath.Ext(d.Name())
			if d.IsDir() || (ext != ".yaml" && ext != ".yml") {
				continue
			}
			p := filepath.Join(dir, d.Name())
			b, err := os.ReadFile(e.path(p))
			if err != nil {
				return nil, nil, fmt.Errorf("reading %s: %w", p, err)
			}
			var c yipConfig
			if err := yaml.Unmarshal(b, &c); err != nil {
				return nil, nil, fmt.Errorf("parsing %s: %w", p, err)
			}
			cfgs = append(cfgs, c)
			names = append(names, p)
		}
	}
	return cfgs, names, nil
}

// runStage is `elemental run-stage [--strict] [--cloud-init-paths DIR] STAGE`.
func runStage(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("run-stage")
	strict := fs.Bool("strict", false, "fail on the first step error")
	paths := fs.String("cloud-init-paths", "", "extra cloud-config directories (comma separated)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parsing run-stage flags: %w", err)
	}
	if fs.NArg() != 1 {
		return errors.New("usage: elemental run-stage [--strict] STAGE")
	}
	var extra []string
	if *paths != "" {
		extra = strings.Split(*paths, ",")
	}
	cfgs, names, err := loadYip(e, extra)
	if err != nil {
		return err
	}
	stage := fs.Arg(0)
	var errs []error
	for _, s := range []string{stage + ".before", stage, stage + ".after"} {
		for i, c := range cfgs {
			for _, step := range c.Stages[s] {
				e.logf("Running stage %s step %q from %s", s, step.Name, names[i])
				if err := runStep(ctx, e, step); err != nil {
					err = fmt.Errorf("stage %s step %q (%s): %w", s, step.Name, names[i], err)
					if *strict {
						return err
					}
					e.warnf("%v", err)
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) > 0 {
		e.warnf("%d step(s) failed; not fatal without --strict", len(errs))
	}
	return nil
}

func runStep(ctx context.Context, e *env, s yipStep) error {
	for k := range s.Other {
		e.logf("ignoring unsupported step key %q", k)
	}
	if s.If != "" {
		if err := exec.CommandContext(ctx, "sh", "-c", s.If).Run(); err != nil {
			e.logf("skipping step %q: condition %q is false", s.Name, s.If)
			return nil
		}
	}
	var errs []error
	for _, f := range s.Files {
		errs = append(errs, writeYipFile(e, f))
	}
	if s.Layout != nil {
		errs = append(errs, runLayout(ctx, e, s.Layout))
	}
	for _, c := range s.Commands {
		out, err := exec.CommandContext(ctx, "sh", "-c", c).CombinedOutput()
		e.logf("command %q output: %s", c, strings.TrimSpace(string(out)))
		if err != nil {
			errs = append(errs, fmt.Errorf("command %q: %w", c, err))
		}
	}
	return errors.Join(errs...)
}

func writeYipFile(e *env, f yipFile) error {
	if f.Path == "" {
		return errors.New("file without path")
	}
	p := e.path(f.Path)
	mode := os.FileMode(f.Permissions)
	if mode == 0 {
		mode = 0o644
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("creating directory of %s: %w", f.Path, err)
	}
	if err := os.WriteFile(p, []byte(f.Content), mode); err != nil {
		return fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", f.Path, err)
	}
	if f.Owner != 0 || f.Group != 0 {
		if err := os.Chown(p, f.Owner, f.Group); err != nil {
			return fmt.Errorf("setting owner of %s: %w", f.Path, err)
		}
	}
	return nil
}

func runLayout(ctx context.Context, e *env, l *yipLayout) error {
	for k := range l.Other {
		e.logf("ignoring unsupported layout key %q", k)
	}
	if l.Expand == nil {
		return nil
	}
	if l.Expand.Size != 0 {
		return fmt.Errorf("expand_partition size %d MiB: only size 0 (to the end of the disk) is supported", l.Expand.Size)
	}
	part := l.Device.Path
	if l.Device.Label != "" {
		if part = findDevice(ctx, "LABEL", l.Device.Label); part == "" {
			return fmt.Errorf("no device labelled %q", l.Device.Label)
		}
	}
	if part == "" {
		return errors.New("layout device has neither label nor path")
	}
	return expandPartition(ctx, e, part)
}
