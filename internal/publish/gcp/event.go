package gcp

// Phase is a step of Publish.
type Phase int

// Phases in the order Publish goes through them.
const (
	PhaseUnknown   Phase = iota
	PhaseUpload          // streaming the tar.gz; Bytes is what was sent so far
	PhaseInsert          // images.insert sent
	PhaseWait            // waiting for the image to be READY
	PhaseDeprecate       // setting the deprecation schedule
	PhaseCleanup         // deleting the object, or everything after a failure
	PhaseDone            // published; Bytes is the object size
)

var phaseNames = [...]string{"unknown", "upload", "insert", "wait", "deprecate", "cleanup", "done"}

// String returns the phase's name.
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return "unknown"
	}
	return phaseNames[p]
}

// Event reports progress. Bytes and Total are byte counts where they
// apply (Total is the raw disk's allocated data during the upload).
type Event struct {
	Phase   Phase
	Bytes   int64
	Total   int64
	Message string
}
