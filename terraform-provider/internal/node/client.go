package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Output is what a remote command printed and how it exited.
type Output struct {
	Stdout, Stderr string
	Code           int
}

// Runner runs shell commands on a node.
type Runner interface {
	Run(ctx context.Context, cmd string) (Output, error)
}

// ErrDisconnected means the session ended without an exit status: the
// connection dropped (for instance because the node rebooted).
var ErrDisconnected = errors.New("connection lost before the command exited")

// Client is an SSH connection to a node.
type Client struct {
	conn    *ssh.Client
	bastion *ssh.Client
	closers []func()
}

var _ Runner = (*Client)(nil)

// Dial connects to the node described by cfg, through its bastion if any.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c := &Client{}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if cfg.Bastion != nil {
		b, err := Dial(ctx, *cfg.Bastion)
		if err != nil {
			return nil, fmt.Errorf("connecting to bastion %s: %w", cfg.Bastion.Host, err)
		}
		c.bastion = b.conn
		c.closers = append(c.closers, b.closers...)
		dial = b.conn.DialContext
	} else {
		d := &net.Dialer{Timeout: cfg.timeout()}
		dial = d.DialContext
	}
	conn, err := c.handshake(ctx, cfg, dial)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.conn = conn
	return c, nil
}

func (c *Client) handshake(ctx context.Context, cfg Config, dial func(context.Context, string, string) (net.Conn, error)) (*ssh.Client, error) {
	ccfg, closeAgent, err := cfg.ClientConfig()
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, closeAgent)
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	addr := cfg.addr()
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, ccfg)
	if err != nil {
		nc.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			// x/crypto/ssh has no error value for this; its message is stable.
			return nil, fmt.Errorf("ssh handshake with %s as %s: %w: %v", addr, ccfg.User, ErrAuthRejected, err)
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// Close closes the connection and the bastion's.
func (c *Client) Close() error {
	var err error
	if c.conn != nil {
		err = c.conn.Close()
	}
	if c.bastion != nil {
		c.bastion.Close()
	}
	for _, f := range c.closers {
		f()
	}
	return err
}

// Run runs cmd in a new session. A non-zero exit is not an error (see
// Output.Code); a dropped connection is ErrDisconnected. Cancelling ctx
// closes the session.
func (c *Client) Run(ctx context.Context, cmd string) (Output, error) {
	return c.run(ctx, cmd, false)
}

// RunHangup is Run on a pseudo-terminal, for long toolkit commands: when
// the session ends early (ctx cancelled, the provider killed, the
// connection lost) sshd closes the terminal and the kernel hangs up the
// command's whole process group (SIGHUP), so it never runs on unattended.
// (The SSH "signal" request is not enough: OpenSSH refuses it for many
// sessions, root logins among them.) The terminal merges stderr into
// stdout; line ends are turned back into "\n".
func (c *Client) RunHangup(ctx context.Context, cmd string) (Output, error) {
	out, err := c.run(ctx, cmd, true)
	out.Stdout = strings.ReplaceAll(out.Stdout, "\r\n", "\n")
	return out, err
}

func (c *Client) run(ctx context.Context, cmd string, tty bool) (Output, error) {
	s, err := c.conn.NewSession()
	if err != nil {
		return Output{}, fmt.Errorf("opening session: %w", err)
	}
	defer s.Close()
	if tty {
		modes := ssh.TerminalModes{ssh.ECHO: 0, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
		if err := s.RequestPty("dumb", 50, 200, modes); err != nil {
			return Output{}, fmt.Errorf("requesting a terminal: %w", err)
		}
	}
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		var out Output
		select { // the output is complete (and safe to read) once Run returned
		case <-done:
			out = Output{Stdout: stdout.String(), Stderr: stderr.String()}
		case <-time.After(5 * time.Second):
		}
		return out, fmt.Errorf("running %q: %w", firstWords(cmd), ctx.Err())
	case err = <-done:
	}
	out := Output{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		out.Code = exit.ExitStatus()
	case errors.As(err, &missing), errors.Is(err, net.ErrClosed):
		return out, fmt.Errorf("running %q: %w", firstWords(cmd), ErrDisconnected)
	default:
		return out, fmt.Errorf("running %q: %w", firstWords(cmd), err)
	}
	return out, nil
}

// firstWords shortens a command for error messages.
func firstWords(cmd string) string {
	if len(cmd) > 60 {
		return cmd[:60] + "…"
	}
	return cmd
}
