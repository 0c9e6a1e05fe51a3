// Package cmdtest runs a command's main as a real process in its own
// package's tests: the test binary re-executes itself with a variable set,
// and TestMain then runs main instead of the tests.
//
// Why it exists: the emulator commands (`make awsemu`, `make gcpemu`) are
// meant for real packer and terraform binaries and a person at a shell, so
// their tests must see what a shell sees: flags, the variables printed to
// export, the exit status and the handling of SIGTERM. Re-executing the
// test binary gives that without a separate `go build` step.
package cmdtest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	runVar  = "CMDTEST_RUN_MAIN"
	argsVar = "CMDTEST_ARGS"
	argSep  = "\x1f" // ASCII unit separator: arguments may hold spaces
)

// Main is called from a command package's TestMain. When the binary was
// started by Command it runs main with the arguments given there and
// exits 0 when main returns; otherwise it runs the tests.
func Main(m *testing.M, name string, main func()) {
	if os.Getenv(runVar) == name {
		os.Args = []string{name}
		if a := os.Getenv(argsVar); a != "" {
			os.Args = append(os.Args, strings.Split(a, argSep)...)
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Command returns the command that runs main of the package under test,
// named name, with args.
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runVar+"="+name, argsVar+"="+strings.Join(args, argSep))
	return cmd
}

// Process is a running command and the variables it printed as
// `export KEY=VALUE` lines.
type Process struct {
	Cmd  *exec.Cmd
	Env  map[string]string
	name string
	done chan error
}

// Start runs the command and waits until it has printed the variable
// last, the final one it exports. The process is killed when the test
// ends.
func Start(t *testing.T, name, last string, args ...string) *Process {
	t.Helper()
	cmd := Command(name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, Env: map[string]string{}, name: name, done: make(chan error, 1)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	ready := make(chan map[string]string, 1)
	go func() {
		env := map[string]string{}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			kv, ok := strings.CutPrefix(sc.Text(), "export ")
			if !ok || env == nil {
				continue // later lines are read only to keep the pipe flowing
			}
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
			if k == last {
				ready <- env
				env = nil
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.Env = <-ready:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("%s exited before printing %s: %v", name, last, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed no %s within 30 s", name, last)
	}
	return p
}

// Stop sends SIGTERM and fails the test unless the process then exits 0
// within 20 s.
func (p *Process) Stop(t *testing.T) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signalling %s: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit 0", p.name, err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s still running 20 s after SIGTERM", p.name)
	}
}
