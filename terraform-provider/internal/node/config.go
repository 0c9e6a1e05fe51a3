package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Config says how to reach a node.
type Config struct {
	Host string
	Port int // default 22
	User string
	// PrivateKey is a PEM or OpenSSH private key; Password authenticates
	// with password and keyboard-interactive; Agent uses SSH_AUTH_SOCK.
	PrivateKey []byte
	Password   string
	Agent      bool
	// HostKey pins the node's public host key, in authorized_keys format
	// ("ssh-ed25519 AAAA…"). KnownHostsFile verifies against a
	// known_hosts file instead. One of them is required unless
	// InsecureIgnoreHostKey is set.
	HostKey               string
	KnownHostsFile        string
	InsecureIgnoreHostKey bool
	// ConnectTimeout bounds the TCP connect and SSH handshake (default 30s).
	ConnectTimeout time.Duration
	// Bastion, when set, is the jump host the connection goes through.
	Bastion *Config
}

// Errors callers can test with errors.Is.
var (
	ErrNoHostKey      = errors.New("no host key to verify the node against")
	ErrNoAuth         = errors.New("no SSH authentication method")
	ErrHostKey        = errors.New("host key verification failed")
	ErrAuthRejected   = errors.New("the node rejected every SSH authentication method offered")
	ErrKeyPassphrase  = errors.New("private key is protected by a passphrase")
	ErrInvalidHostKey = errors.New("invalid host key")
)

// HostKeyError says that the node presented a key that is not the
// expected one (Want empty: the host is unknown).
type HostKeyError struct {
	Host      string
	Got, Want string // SHA256 fingerprints
}

func (e *HostKeyError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("host key of %s (%s) is not known: add it to host_key or the known_hosts file", e.Host, e.Got)
	}
	return fmt.Sprintf("REMOTE HOST IDENTIFICATION HAS CHANGED for %s: got %s, want %s; "+
		"if the node was reinstalled, update host_key or the known_hosts file", e.Host, e.Got, e.Want)
}

func (e *HostKeyError) Unwrap() error { return ErrHostKey }

func (c Config) addr() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

func (c Config) timeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout
	}
	return 30 * time.Second
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("host: required"))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: want 1-65535", c.Port))
	}
	if c.HostKey == "" && c.KnownHostsFile == "" && !c.InsecureIgnoreHostKey {
		errs = append(errs, fmt.Errorf("%s: %w: set host_key or known_hosts_file (or insecure_ignore_host_key = true)", c.Host, ErrNoHostKey))
	}
	if c.HostKey != "" {
		if _, err := parseHostKey(c.HostKey); err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.PrivateKey) == 0 && c.Password == "" && !c.Agent {
		errs = append(errs, fmt.Errorf("%s: %w: set a private key, a password or agent = true", c.Host, ErrNoAuth))
	}
	if c.Bastion != nil {
		if err := c.Bastion.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("bastion: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ClientConfig builds the SSH client configuration; it refuses to build
// one without host key verification unless InsecureIgnoreHostKey is set.
// close releases the agent connection, if any.
func (c Config) ClientConfig() (cfg *ssh.ClientConfig, close func(), err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = &ssh.ClientConfig{User: c.User, Timeout: c.timeout()}
	if cfg.User == "" {
		cfg.User = "root"
	}
	if cfg.HostKeyCallback, cfg.HostKeyAlgorithms, err = c.hostKeyCallback(); err != nil {
		return nil, nil, err
	}
	cfg.Auth, close, err = c.authMethods()
	if err != nil {
		return nil, nil, err
	}
	return cfg, close, nil
}

func parseHostKey(s string) (ssh.PublicKey, error) {
	fields := strings.Fields(s)
	// Accept a known_hosts line too ("host ssh-ed25519 AAAA…").
	if len(fields) >= 3 && !strings.Contains(fields[0], "ssh-") && !strings.HasPrefix(fields[0], "ecdsa-") {
		s = strings.Join(fields[1:], " ")
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidHostKey, s, err)
	}
	return k, nil
}

func (c Config) hostKeyCallback() (ssh.HostKeyCallback, []string, error) {
	switch {
	case c.HostKey != "":
		want, err := parseHostKey(c.HostKey)
		if err != nil {
			return nil, nil, err
		}
		return func(host string, _ net.Addr, got ssh.PublicKey) error {
			if string(got.Marshal()) != string(want.Marshal()) {
				return &HostKeyError{Host: host, Got: ssh.FingerprintSHA256(got), Want: ssh.FingerprintSHA256(want)}
			}
			return nil
		}, algorithmsFor(want.Type()), nil
	case c.KnownHostsFile != "":
		return knownHostsCallback(c.KnownHostsFile, c.addr())
	default:
		return ssh.InsecureIgnoreHostKey(), nil, nil //nolint:gosec // explicit opt-out, insecure_ignore_host_key = true
	}
}

// algorithmsFor lists the host key algorithms that verify a key of type t
// (RSA keys sign with SHA-2 variants).
func algorithmsFor(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

func knownHostsCallback(file, addr string) (ssh.HostKeyCallback, []string, error) {
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, fmt.Errorf("reading known_hosts file: %w", err)
	}
	wrapped := func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(host, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			he := &HostKeyError{Host: host, Got: ssh.FingerprintSHA256(key)}
			if len(ke.Want) > 0 {
				he.Want = ssh.FingerprintSHA256(ke.Want[0].Key)
			}
			return he
		}
		return err
	}
	// Offer only the algorithms of keys known for this host, so the
	// server does not pick a key type the file has no entry for.
	var algos []string
	var ke *knownhosts.KeyError
	if err := cb(knownhosts.Normalize(addr), textAddr(addr), dummyKey{}); errors.As(err, &ke) {
		for _, k := range ke.Want {
			algos = append(algos, algorithmsFor(k.Key.Type())...)
		}
	}
	return wrapped, algos, nil
}

// textAddr is a net.Addr of a "host:port" string.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// dummyKey is a key no known_hosts entry matches; asking the callback
// about it returns the known keys of the host.
type dummyKey struct{}

func (dummyKey) Type() string                        { return "dummy" }
func (dummyKey) Marshal() []byte                     { return []byte("dummy") }
func (dummyKey) Verify([]byte, *ssh.Signature) error { return errors.New("dummy key") }

func (c Config) authMethods() ([]ssh.AuthMethod, func(), error) {
	var methods []ssh.AuthMethod
	closeFn := func() {}
	if c.Agent {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				return nil, nil, fmt.Errorf("connecting to the SSH agent: %w", err)
			}
			closeFn = func() { conn.Close() }
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	if len(c.PrivateKey) > 0 {
		signer, err := ssh.ParsePrivateKey(c.PrivateKey)
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			closeFn()
			return nil, nil, fmt.Errorf("%w: decrypt it first or use the SSH agent", ErrKeyPassphrase)
		}
		if err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("parsing private key: %w", err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		pw := c.Password
		methods = append(methods, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		closeFn()
		return nil, nil, fmt.Errorf("%s: %w (the SSH agent has no socket: SSH_AUTH_SOCK is empty)", c.Host, ErrNoAuth)
	}
	return methods, closeFn, nil
}
