package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

const usage = `elemental: TEST STAND-IN for the Elemental toolkit CLI (NOT the toolkit).
Built by the Elemental image suite's acceptance tests into test derivatives;
it mimics the toolkit's on-disk effects and exit codes for:

  elemental upgrade     v2: --system oci:REF[@DIGEST] [--recovery] [--snapshot-labels k=v,...]
                        v1: --system.uri docker:REF | --docker-image REF
                            [--recovery --recovery-system.uri docker:REF]  (v1 --recovery = only recovery)
                        common: [--tls-verify=false] [--reboot|--poweroff] [--strict]
  elemental reset       only from recovery; [--system URI] [--reset-persistent]
  elemental state       print state.yaml
  elemental run-stage [--strict] STAGE
                        run yip steps (layout.expand_partition, commands, files)
                        from /system/oem, /oem, /usr/local/cloud-config
  elemental grub-editenv FILE list | set k=v... | unset k...

Global flags --debug, --quiet, --logfile FILE and --config-dir DIR are accepted.
Plain-HTTP registries: --tls-verify=false or ELEMENTAL_INSECURE_REGISTRY=1.
Exit codes: 0 ok, 18 pull/extract failed, 58 not root, 1 other (see §4.5).
`

// env is the stand-in's view of the machine. Tests point root at a
// temporary directory; in a guest it is "".
type env struct {
	root   string // prefix for absolute paths (/proc, /run, /etc, ...)
	stdout io.Writer
	stderr io.Writer
	euid   int
	getenv func(string) string
}

// path maps an absolute guest path into env's root.
func (e *env) path(p string) string {
	if e.root == "" {
		return p
	}
	return filepath.Join(e.root, p)
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.stdout, "INFO[0000] "+format+"\n", args...)
}

func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stdout, "WARN[0000] "+format+"\n", args...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdout: os.Stdout, stderr: os.Stderr, euid: os.Geteuid(), getenv: os.Getenv}
	code := run(ctx, os.Args[1:], e)
	stop()
	os.Exit(code)
}

// globalFlags removes the toolkit's global flags from args.
func globalFlags(args []string) (rest []string, logfile string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--debug" || a == "--quiet" || a == "-q":
		case a == "--logfile" || a == "--config-dir":
			if i+1 < len(args) {
				if a == "--logfile" {
					logfile = args[i+1]
				}
				i++
			}
		case strings.HasPrefix(a, "--logfile="):
			logfile = strings.TrimPrefix(a, "--logfile=")
		case strings.HasPrefix(a, "--config-dir="):
		default:
			rest = append(rest, a)
		}
	}
	return rest, logfile
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	args, logfile := globalFlags(args)
	if logfile != "" {
		if f, err := os.OpenFile(logfile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			defer f.Close()
			e.stdout = io.MultiWriter(e.stdout, f)
		}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(e.stdout, usage)
		return exitOK
	}
	err := dispatch(ctx, args[0], args[1:], e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ERRO[0000] %v\n", err)
	}
	return exitCode(err)
}

func dispatch(ctx context.Context, cmd string, args []string, e *env) error {
	for _, a := range args {
		if a == "--help" || a == "-h" {
			fmt.Fprint(e.stdout, usage)
			return nil
		}
	}
	switch cmd {
	case "version":
		fmt.Fprintln(e.stdout, "elemental TEST STAND-IN (not the Elemental toolkit)")
		return nil
	case "grub-editenv":
		return grubEditenv(e, args)
	case "state":
		return showState(e)
	case "run-stage":
		return runStage(ctx, e, args)
	}
	if e.euid != 0 {
		return codef(exitNeedsRoot, "this command requires root privileges")
	}
	switch cmd {
	case "upgrade":
		return upgrade(ctx, e, args)
	case "reset":
		return reset(ctx, e, args)
	}
	return fmt.Errorf("unknown command %q (this stand-in knows upgrade, reset, state, run-stage, grub-editenv)", cmd)
}
