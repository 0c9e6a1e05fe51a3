package node

import (
	"fmt"
	"strings"
)

// exitMeanings are the toolkit's exit codes (docs/elemental_exit-codes.md,
// disk contract §4.5).
var exitMeanings = map[int]string{
	1:   "the command failed (not a toolkit error code; e.g. wrong mode, invalid flags or spec)",
	11:  "a command the toolkit ran failed",
	18:  "pulling or extracting the image failed: check the reference, the registry credentials on the node and its network",
	31:  "reading the run configuration failed",
	33:  "reading the spec failed",
	34:  "mounting the state partition failed",
	35:  "mounting the recovery partition failed",
	36:  "the before-upgrade hook failed",
	37:  "the after-upgrade-chroot hook failed",
	38:  "the after-upgrade hook failed",
	39:  "an upgrade hook failed",
	41:  "cleanup failed",
	42:  "reboot failed",
	44:  "labelling the image failed",
	45:  "setting the default GRUB entry failed",
	48:  "deploying the image failed",
	49:  "installing GRUB failed",
	54:  "mounting partitions failed",
	58:  "the toolkit needs root: connect as root or as a user with passwordless sudo",
	59:  "unmounting failed",
	60:  "formatting a partition failed",
	61:  "the before-reset hook failed",
	62:  "the after-reset-chroot hook failed",
	63:  "the after-reset hook failed",
	72:  "the post-upgrade hook failed",
	73:  "the post-reset hook failed",
	76:  "creating the image file failed (is the state partition full?)",
	78:  "setting GRUB variables failed",
	84:  "initialising the snapshotter failed",
	85:  "starting the snapshotter transaction failed",
	86:  "mounting the EFI partition failed",
	87:  "mounting the persistent partition failed",
	88:  "upgrading the recovery system failed",
	89:  "showing the install state failed",
	126: "the command is not executable",
	127: "command not found: is this an Elemental node (elemental in PATH)?",
	255: "unknown toolkit error",
}

// ExitMeaning explains a toolkit exit code.
func ExitMeaning(code int) string {
	if m, ok := exitMeanings[code]; ok {
		return m
	}
	return "unexpected exit code"
}

// ExitError is a toolkit command that exited non-zero.
type ExitError struct {
	Command string
	Code    int
	Output  string // the last lines of stdout and stderr
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited %d: %s", e.Command, e.Code, ExitMeaning(e.Code))
	if e.Output != "" {
		msg += "\n" + e.Output
	}
	return msg
}

// tail returns the last n non-empty lines of s.
func tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// check turns a non-zero exit into an *ExitError named what.
func check(what string, out Output, err error) error {
	if err != nil {
		return err
	}
	if out.Code != 0 {
		return &ExitError{Command: what, Code: out.Code, Output: tail(out.Stdout+"\n"+out.Stderr, 15)}
	}
	return nil
}
