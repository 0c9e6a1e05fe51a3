package qemu

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// ErrHostKeyMismatch is returned when the guest presents an SSH host key
// other than Options.HostKey. It is never retried.
var ErrHostKeyMismatch = errors.New("ssh host key does not match the pinned key")

// CommandError is a command that ran in the guest and failed.
type CommandError struct {
	Cmd        string
	ExitStatus int // -1 when the command was killed by a signal or the session died
	Stdout     string
	Stderr     string
	Err        error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("running %q in guest: exit status %d: %v; stderr: %s", e.Cmd, e.ExitStatus, e.Err, e.Stderr)
}

func (e *CommandError) Unwrap() error { return e.Err }

// NewKeyPair makes an ed25519 key pair for tests: the private key as an
// OpenSSH PEM block (for Options.SSHKey or a guest's
// /etc/ssh/ssh_host_ed25519_key) and the public key in authorized_keys
// format (for Options.HostKey or /root/.ssh/authorized_keys).
func NewKeyPair() (private, authorized []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "acctest")
	if err != nil {
		return nil, nil, fmt.Errorf("encoding private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(block), ssh.MarshalAuthorizedKey(sshPub), nil
}

// sshConn is a cached SSH client to one address with a pinned host key.
type sshConn struct {
	addr   string
	config *ssh.ClientConfig
	mu     sync.Mutex
	client *ssh.Client
}

func newSSHConn(addr string, key, hostKey []byte) (*sshConn, error) {
	if len(key) == 0 || len(hostKey) == 0 {
		return nil, errors.New("ssh needs Options.SSHKey and Options.HostKey")
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("parsing ssh client key: %w", err)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey(hostKey)
	if err != nil {
		return nil, fmt.Errorf("parsing pinned ssh host key: %w", err)
	}
	check := func(_ string, _ net.Addr, got ssh.PublicKey) error {
		if !bytes.Equal(got.Marshal(), pinned.Marshal()) {
			return fmt.Errorf("%w: got %s %s", ErrHostKeyMismatch, got.Type(), ssh.FingerprintSHA256(got))
		}
		return nil
	}
	return &sshConn{addr: addr, config: &ssh.ClientConfig{
		User:              "root",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   check,
		HostKeyAlgorithms: []string{pinned.Type()},
		Timeout:           30 * time.Second,
	}}, nil
}

// get returns the cached client or dials until one connects, ctx ends or
// the host key is wrong.
func (c *sshConn) get(ctx context.Context) (*ssh.Client, error) {
	c.mu.Lock()
	cached := c.client
	c.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	var last error
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, 3*time.Second) {
		client, err := c.dial(ctx)
		if err == nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.client != nil { // another caller won the race
				client.Close()
				return c.client, nil
			}
			c.client = client
			return client, nil
		}
		if errors.Is(err, ErrHostKeyMismatch) {
			return nil, err
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to guest ssh at %s: %w (last attempt: %v)", c.addr, ctx.Err(), last)
		case <-time.After(delay):
		}
	}
}

func (c *sshConn) dial(ctx context.Context) (*ssh.Client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	// Bound the handshake: user-mode networking accepts the TCP
	// connection before the guest's sshd exists.
	deadline := time.Now().Add(c.config.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr, c.config)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// drop forgets client if it is still the cached one.
func (c *sshConn) drop(client *ssh.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == client {
		c.client.Close()
		c.client = nil
	}
}

func (c *sshConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}

// session opens a session, redialling once if the cached client is dead.
func (c *sshConn) session(ctx context.Context) (*ssh.Client, *ssh.Session, error) {
	for attempt := 0; ; attempt++ {
		client, err := c.get(ctx)
		if err != nil {
			return nil, nil, err
		}
		s, err := client.NewSession()
		if err == nil {
			return client, s, nil
		}
		c.drop(client)
		if attempt > 0 {
			return nil, nil, fmt.Errorf("opening ssh session to %s: %w", c.addr, err)
		}
	}
}

func (c *sshConn) run(ctx context.Context, cmd string, stdin io.Reader) (string, error) {
	client, s, err := c.session(ctx)
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &stdout, &stderr, stdin
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		c.drop(client)
		return stdout.String(), fmt.Errorf("running %q in guest: %w", cmd, ctx.Err())
	}
	if err == nil {
		return stdout.String(), nil
	}
	ce := &CommandError{Cmd: cmd, ExitStatus: -1, Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		ce.ExitStatus = exit.ExitStatus()
	} else {
		c.drop(client)
	}
	return stdout.String(), ce
}

// runUntilGone starts cmd and returns once the connection has died (the
// guest is going down). Keepalives detect a connection that vanished
// without a FIN.
func (c *sshConn) runUntilGone(ctx context.Context, cmd string) error {
	client, s, err := c.session(ctx)
	if err != nil {
		return err
	}
	defer c.drop(client)
	if err := s.Start(cmd); err != nil {
		return fmt.Errorf("starting %q in guest: %w", cmd, err)
	}
	gone := make(chan struct{})
	go func() { _ = client.Wait(); close(gone) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	misses := 0
	for {
		select {
		case <-gone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for the guest to go down after %q: %w", cmd, ctx.Err())
		case <-tick.C:
			if keepalive(client, 5*time.Second) {
				misses = 0
			} else if misses++; misses >= 3 {
				return nil
			}
		}
	}
}

func keepalive(client *ssh.Client, timeout time.Duration) bool {
	res := make(chan error, 1)
	go func() {
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		res <- err
	}()
	select {
	case err := <-res:
		return err == nil
	case <-time.After(timeout):
		return false
	}
}

func (vm *VM) sshConn() (*sshConn, error) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.ssh == nil {
		c, err := newSSHConn(vm.SSHAddr(), vm.opts.SSHKey, vm.opts.HostKey)
		if err != nil {
			return nil, err
		}
		vm.ssh = c
	}
	return vm.ssh, nil
}

// Run runs cmd as root over SSH and returns its stdout. It retries the
// connection until ctx ends, so it can be called while the guest is
// still booting. A command that fails returns a *CommandError carrying
// the exit status and stderr.
func (vm *VM) Run(ctx context.Context, cmd string) (string, error) {
	c, err := vm.sshConn()
	if err != nil {
		return "", err
	}
	return c.run(ctx, cmd, nil)
}

// RunInput is Run with stdin, for example to copy a file into the guest:
// RunInput(ctx, "cat > /run/tool && chmod +x /run/tool", bytes.NewReader(b)).
func (vm *VM) RunInput(ctx context.Context, cmd string, stdin io.Reader) (string, error) {
	c, err := vm.sshConn()
	if err != nil {
		return "", err
	}
	return c.run(ctx, cmd, stdin)
}

// Reboot asks the guest for a graceful reboot (`systemctl reboot`) and
// returns when the SSH connection used for it has died.
func (vm *VM) Reboot(ctx context.Context) error {
	c, err := vm.sshConn()
	if err != nil {
		return err
	}
	return c.runUntilGone(ctx, "systemctl reboot")
}
