package diskbuild

import (
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/elemental-suite/elemental/internal/installer"
)

// State bag keys shared by the builders.
const (
	// StateResult holds the *installer.Result of StepBuildDisk.
	StateResult = "elemental_result"
	// StateUI and StateHook are the SDK's own keys.
	StateUI   = "ui"
	StateHook = "hook"
	// StateError is where a failing step leaves its error.
	StateError = "error"
)

// Generated data keys a build exports as `build.<Key>`.
const (
	GenSourceImageDigest = "SourceImageDigest"
	GenGeneration        = "Generation"
	GenKernelVersion     = "KernelVersion"
	GenOSVersion         = "OSVersion"
)

// GeneratedDataKeys lists what Prepare announces to Packer.
func GeneratedDataKeys() []string {
	return []string{GenSourceImageDigest, GenGeneration, GenKernelVersion, GenOSVersion}
}

// Result returns the disk StepBuildDisk built, or nil before it ran.
func Result(state multistep.StateBag) *installer.Result {
	r, _ := state.Get(StateResult).(*installer.Result)
	return r
}

// UI returns the build's UI.
func UI(state multistep.StateBag) packersdk.Ui {
	return state.Get(StateUI).(packersdk.Ui)
}

// Halt records err as the build's error, shows it and halts the build.
func Halt(state multistep.StateBag, err error) multistep.StepAction {
	state.Put(StateError, err)
	UI(state).Error(err.Error())
	return multistep.ActionHalt
}

// Failed reports whether the build was cancelled or halted: the case in
// which Cleanup methods undo their step's work.
func Failed(state multistep.StateBag) bool {
	_, cancelled := state.GetOk(multistep.StateCancelled)
	_, halted := state.GetOk(multistep.StateHalted)
	return cancelled || halted
}

// OSVersion is the os-release VERSION_ID, else VERSION, of a build.
func OSVersion(osRelease map[string]string) string {
	if v := osRelease["VERSION_ID"]; v != "" {
		return v
	}
	return osRelease["VERSION"]
}
