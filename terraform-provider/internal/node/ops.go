package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Node drives the toolkit on one node. Each operation opens its own
// connections, because reboots drop them.
type Node struct {
	Config Config
	// PollInterval is the pause between attempts while waiting for a node
	// to come back (default 5s).
	PollInterval time.Duration
	// AttemptTimeout bounds one status read while polling (default 1m):
	// a connection opened just before the node went down can hang with
	// no error, as user-mode NAT and some firewalls keep it open.
	AttemptTimeout time.Duration
	// AuthWindow is how long rejected credentials are retried (default
	// AuthRetryWindow).
	AuthWindow time.Duration
	// Progress, when set, receives one line per step.
	Progress func(msg string)

	// dial connects; tests replace it.
	dial func(ctx context.Context, cfg Config) (runCloser, error)
}

type runCloser interface {
	Runner
	Close() error
}

// Upgrade says which image a node should run.
type Upgrade struct {
	Ref    string // repository, without tag or digest
	Digest string // manifest digest for the node's platform
	// Recovery upgrades the recovery system too.
	Recovery bool
	// Reboot reboots into the new image and verifies it (otherwise the
	// image is active from the next boot on).
	Reboot bool
	// InsecureRegistry lets the toolkit pull over plain HTTP or without
	// verifying TLS (--tls-verify=false).
	InsecureRegistry bool
}

// hangupRunner runs commands that die with the session (Client.RunHangup).
type hangupRunner interface {
	RunHangup(ctx context.Context, cmd string) (Output, error)
}

// runHangup runs a long toolkit command so that it ends when the
// session does (an interrupted apply), where the runner can.
func runHangup(ctx context.Context, c Runner, cmd string) (Output, error) {
	if h, ok := c.(hangupRunner); ok {
		return h.RunHangup(ctx, cmd)
	}
	return c.Run(ctx, cmd)
}

func (n *Node) sudo() bool { return n.Config.User != "" && n.Config.User != "root" }

func (n *Node) interval() time.Duration {
	if n.PollInterval > 0 {
		return n.PollInterval
	}
	return 5 * time.Second
}

func (n *Node) authWindow() time.Duration {
	if n.AuthWindow > 0 {
		return n.AuthWindow
	}
	return AuthRetryWindow
}

// attempt reads the status once, within AttemptTimeout.
func (n *Node) attempt(ctx context.Context) (*Status, error) {
	d := n.AttemptTimeout
	if d <= 0 {
		d = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return n.Status(ctx)
}

func (n *Node) say(format string, a ...any) {
	if n.Progress != nil {
		n.Progress(fmt.Sprintf(format, a...))
	}
}

func (n *Node) connect(ctx context.Context) (runCloser, error) {
	if n.dial != nil {
		return n.dial(ctx, n.Config)
	}
	return Dial(ctx, n.Config)
}

// Status connects once and reads the node's status.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	c, err := n.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return ReadStatus(ctx, c, n.sudo())
}

// AuthRetryWindow bounds how long StatusRetry keeps trying credentials the
// node rejects: a node that has just booted may run sshd a moment before
// its cloud-config installs the keys, but wrong credentials must not
// hammer sshd until a 30-minute timeout.
const AuthRetryWindow = time.Minute

// StatusRetry reads the status, retrying connection and read failures
// until it works or ctx ends (a node may be rebooting). Host key
// mismatches are not retried; rejected credentials only for
// AuthRetryWindow.
func (n *Node) StatusRetry(ctx context.Context) (*Status, error) {
	var last error
	var rejectedSince time.Time
	for {
		st, err := n.attempt(ctx)
		if err == nil {
			return st, nil
		}
		if errors.Is(err, ErrHostKey) || errors.Is(err, ErrNoHostKey) || errors.Is(err, ErrNoAuth) {
			return nil, err
		}
		if errors.Is(err, ErrAuthRejected) {
			if rejectedSince.IsZero() {
				rejectedSince = time.Now()
			} else if time.Since(rejectedSince) >= n.authWindow() {
				return nil, err
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s not reachable: %w (last error: %v)", n.Config.Host, ctx.Err(), last)
		case <-time.After(n.interval()):
		}
	}
}

// Apply upgrades the node to u unless it already runs u.Digest, reboots
// and checks that it booted u.Digest. It returns the final status.
func (n *Node) Apply(ctx context.Context, u Upgrade) (*Status, error) {
	st, err := n.StatusRetry(ctx)
	if err != nil {
		return nil, err
	}
	if st.ActiveDigest == u.Digest {
		n.say("node already runs %s", u.Digest)
		return st, nil
	}
	c, err := n.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, cmd := range UpgradeCommands(st.Generation, u) {
		n.say("running %s", cmd)
		out, err := runHangup(ctx, c, asRoot(n.sudo(), cmd))
		if err := check("elemental upgrade", out, err); err != nil {
			return nil, err
		}
	}
	if u.Reboot {
		if st, err = n.rebootAndWait(ctx, c, st.BootID); err != nil {
			return nil, err
		}
	} else if st, err = ReadStatus(ctx, c, n.sudo()); err != nil {
		return nil, err
	}
	if st.ActiveDigest != u.Digest {
		return st, fmt.Errorf("node %s is active on %s after the upgrade, want %s (did the boot fall back to a passive snapshot?)",
			n.Config.Host, st.ActiveDigest, u.Digest)
	}
	return st, nil
}

// rebootAndWait schedules a graceful reboot over c and waits for a boot
// with a boot ID other than old.
func (n *Node) rebootAndWait(ctx context.Context, c Runner, old string) (*Status, error) {
	n.say("rebooting")
	out, err := c.Run(ctx, asRoot(n.sudo(), RebootCommand))
	if !errors.Is(err, ErrDisconnected) {
		if err := check("scheduling a reboot", out, err); err != nil {
			return nil, err
		}
	}
	return n.WaitForBoot(ctx, old)
}

// WaitForBoot polls until the node answers with a boot ID other than old.
func (n *Node) WaitForBoot(ctx context.Context, old string) (*Status, error) {
	var last error = errors.New("still running the previous boot")
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s did not come back with a new boot: %w (last: %v)", n.Config.Host, ctx.Err(), last)
		case <-time.After(n.interval()):
		}
		st, err := n.attempt(ctx)
		switch {
		case errors.Is(err, ErrHostKey):
			return nil, err
		case err != nil:
			last = err
		case st.BootID != old:
			n.say("node is back (boot %s, %s)", st.BootID, st.Mode)
			return st, nil
		}
	}
}

// Reset reboots the node into recovery (next_entry=recovery in the OEM
// grubenv), runs elemental reset there, reboots and checks that the node
// left recovery.
func (n *Node) Reset(ctx context.Context, persistent, oem bool) (*Status, error) {
	st, err := n.StatusRetry(ctx)
	if err != nil {
		return nil, err
	}
	if st.Mode != "recovery" {
		if st, err = n.bootRecovery(ctx, st.BootID); err != nil {
			return nil, err
		}
	}
	c, err := n.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cmd := ResetCommand(persistent, oem)
	n.say("running %s", cmd)
	out, err := runHangup(ctx, c, asRoot(n.sudo(), cmd))
	if err := check("elemental reset", out, err); err != nil {
		return nil, err
	}
	if st, err = n.rebootAndWait(ctx, c, st.BootID); err != nil {
		return nil, err
	}
	if st.Mode == "recovery" {
		return st, fmt.Errorf("node %s booted recovery again after the reset", n.Config.Host)
	}
	return st, nil
}

func (n *Node) bootRecovery(ctx context.Context, old string) (*Status, error) {
	c, err := n.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	n.say("setting next_entry=recovery")
	out, err := c.Run(ctx, asRoot(n.sudo(), RecoveryNextBootCommand))
	if err := check("setting next_entry=recovery in /oem/grubenv", out, err); err != nil {
		return nil, err
	}
	st, err := n.rebootAndWait(ctx, c, old)
	if err != nil {
		return nil, err
	}
	if st.Mode != "recovery" {
		return nil, fmt.Errorf("node %s booted %s, not recovery, after next_entry=recovery", n.Config.Host, st.Mode)
	}
	return st, nil
}
