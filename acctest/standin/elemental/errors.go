package main

import (
	"errors"
	"fmt"
)

// Exit codes of the toolkit (docs/elemental_exit-codes.md, contract §4.5)
// that the stand-in produces.
const (
	exitOK          = 0
	exitOther       = 1  // any failure that is not an ElementalError
	exitCommandRun  = 11 // a command the toolkit ran failed
	exitDumpSource  = 18 // pulling or extracting the source image failed
	exitMountState  = 34
	exitMountRecov  = 35
	exitLabelImage  = 44
	exitDeployImage = 48
	exitNeedsRoot   = 58
	exitFormat      = 60
	exitCreateImage = 76
	exitSetGrubVars = 78
	exitMountEFI    = 86
	exitStateShow   = 89
)

// codeError carries an exit code with an error.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// withCode wraps err (nil stays nil) so that exitCode reports code. The
// outermost code wins, as with the toolkit's NewFromError: a failed
// command inside a pull is reported as a pull failure (18).
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codeError{code: code, err: err}
}

// codef is fmt.Errorf with an exit code.
func codef(code int, format string, args ...any) error {
	return &codeError{code: code, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitOther
}

// errNotRecovery is the message upstream prints when reset runs from an
// active or passive system.
var errNotRecovery = errors.New("reset can only be called from the recovery system")
