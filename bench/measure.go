package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sample is one measured child process.
type sample struct {
	Wall      time.Duration
	User, Sys time.Duration
	MaxRSS    int64 // bytes, largest process of the tree (wait4 ru_maxrss)
	Scratch   int64 // peak bytes taken from the work filesystem
	Apparent  int64 // output file size
	Allocated int64 // output file blocks in bytes
	// PeakFiles is the peak allocated size of the files directly in the
	// scratch directory (sampled for the core only: its temporary disk).
	PeakFiles int64 `json:",omitempty"`
	// Stages are the reference pipeline's steps, in order.
	Stages []stageTime `json:",omitempty"`
}

// stageTime is the wall time of one step of a script.
type stageTime struct {
	Name string
	Secs float64
}

// parseStages reads the "stage NAME SECONDS" lines a script prints.
func parseStages(out string) []stageTime {
	var st []stageTime
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "stage" {
			if v, err := strconv.ParseFloat(f[2], 64); err == nil {
				st = append(st, stageTime{Name: f[1], Secs: v})
			}
		}
	}
	return st
}

// CPU is user plus system time.
func (s sample) CPU() time.Duration { return s.User + s.Sys }

// timeCmd is GNU time, which reports the peak RSS of a child it forked
// itself. wait4's ru_maxrss of a child of this (large) process would
// include the parent's RSS copied at fork, so children run under it when
// it is installed.
const timeCmd = "/usr/bin/time"

// command returns the command for a measured child; with GNU time
// present, it runs under time writing "%M %U %S" to a file in dir.
func command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	if _, err := os.Stat(timeCmd); err != nil {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, timeCmd, append([]string{"-f", "%M %U %S", "-o", filepath.Join(dir, ".time"), name}, args...)...)
}

// measure runs cmd (made by command) to completion, sampling the free
// space of the filesystem holding dir every 50 ms.
func measure(ctx context.Context, cmd *exec.Cmd, dir string, watchFiles bool) (sample, error) {
	var s sample
	var peakFiles int64
	free0, err := freeBytes(dir)
	if err != nil {
		return s, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	minFree := free0
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if f, err := freeBytes(dir); err == nil && f < minFree {
					minFree = f
				}
				if watchFiles {
					peakFiles = max(peakFiles, dirAllocated(dir))
				}
			}
		}
	}()
	start := time.Now()
	err = cmd.Run()
	s.Wall = time.Since(start)
	close(stop)
	wg.Wait()
	if f, ferr := freeBytes(dir); ferr == nil && f < minFree {
		minFree = f
	}
	if err != nil {
		return s, fmt.Errorf("running %s: %w", cmd.Path, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.User = time.Duration(ru.Utime.Nano())
		s.Sys = time.Duration(ru.Stime.Nano())
		s.MaxRSS = ru.Maxrss << 10
	}
	s.Scratch = max(free0-minFree, 0)
	s.PeakFiles = peakFiles
	if cmd.Path == timeCmd {
		if err := readTime(filepath.Join(dir, ".time"), &s); err != nil {
			return s, err
		}
	}
	return s, ctx.Err()
}

// readTime reads GNU time's "%M %U %S" (KiB, seconds, seconds).
func readTime(p string, s *sample) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading time's report: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return fmt.Errorf("time's report %q: want %%M %%U %%S", b)
	}
	kib, err1 := strconv.ParseInt(f[len(f)-3], 10, 64)
	u, err2 := strconv.ParseFloat(f[len(f)-2], 64)
	sy, err3 := strconv.ParseFloat(f[len(f)-1], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("time's report %q: %w", b, err)
	}
	s.MaxRSS = kib << 10
	s.User = time.Duration(u * float64(time.Second))
	s.Sys = time.Duration(sy * float64(time.Second))
	return nil
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// dirAllocated sums the allocated bytes of the files directly in dir.
func dirAllocated(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if _, a, err := fileSizes(filepath.Join(dir, e.Name())); err == nil {
			n += a
		}
	}
	return n
}

// fileSizes returns the apparent and allocated size of a file.
func fileSizes(p string) (apparent, allocated int64, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.Size(), fi.Size(), nil
	}
	return fi.Size(), st.Blocks * 512, nil
}

// settle writes back dirty pages so one run's writeback does not land in
// the next run's time.
func settle() { syscall.Sync() }
