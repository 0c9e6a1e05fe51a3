package installer

import (
	"log/slog"
	"time"
)

// Phase names a stage of a build.
type Phase string

// Phases reported through Event.
const (
	PhaseOpen      Phase = "open"      // resolving the reference
	PhaseInspect   Phase = "inspect"   // first pass: headers and boot files
	PhaseWrite     Phase = "write"     // second pass: file data into the images
	PhasePartition Phase = "partition" // one partition finished
	PhaseConvert   Phase = "convert"   // one output format written
	PhaseDone      Phase = "done"
)

// Event is one progress report. Bytes counts compressed layer bytes read in
// the inspect and write phases; Files counts entries written.
type Event struct {
	Phase   Phase
	Message string
	Bytes   int64
	Total   int64
	Files   int64
	Elapsed time.Duration
}

// Option changes how Run works, not what it builds.
type Option func(*options)

type options struct {
	progress func(Event)
	logger   *slog.Logger
}

// WithProgress sends progress events to fn. fn runs on the build goroutine
// and must return quickly.
func WithProgress(fn func(Event)) Option { return func(o *options) { o.progress = fn } }

// WithLogger sends debug logs to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

func makeOptions(opts []Option) *options {
	o := &options{progress: func(Event) {}, logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(o)
	}
	return o
}
