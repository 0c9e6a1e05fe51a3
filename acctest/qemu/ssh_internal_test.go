package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// fakeGuest is an in-process SSH server standing in for a guest's sshd.
// It understands three commands: "echo hi", "fail" (exit 3) and
// "systemctl reboot" (drops the connection).
type fakeGuest struct {
	l net.Listener
}

func startFakeGuest(t *testing.T, addr string, hostKey, clientAuthorized []byte) *fakeGuest {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	allowed, _, _, _, err := ssh.ParseAuthorizedKey(clientAuthorized)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if c.User() == "root" && bytes.Equal(k.Marshal(), allowed.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("denied")
	}}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveFake(c, cfg)
		}
	}()
	return &fakeGuest{l: l}
}

func serveFake(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	go func() {
		for r := range reqs {
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nc := range chans {
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			for r := range creqs {
				if r.Type != "exec" {
					r.Reply(false, nil)
					continue
				}
				r.Reply(true, nil)
				cmd := string(r.Payload[4:])
				status := uint32(0)
				switch cmd {
				case "echo hi":
					ch.Write([]byte("hi\n"))
				case "cat":
					io.Copy(ch, ch)
				case "fail":
					ch.Stderr().Write([]byte("boom"))
					status = 3
				case "systemctl reboot":
					time.Sleep(100 * time.Millisecond)
					sc.Close()
					return
				}
				ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
				ch.Close()
			}
		}()
	}
}

func keyPairs(t *testing.T) (clientPriv, clientPub, hostPriv, hostPub []byte) {
	t.Helper()
	var err error
	if clientPriv, clientPub, err = NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	if hostPriv, hostPub, err = NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	return
}

func TestSSHRun(t *testing.T) {
	clientPriv, clientPub, hostPriv, hostPub := keyPairs(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conn, err := newSSHConn(addr, clientPriv, hostPub)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.close()
	// The "guest" comes up only after the first connection attempts fail.
	go func() {
		time.Sleep(700 * time.Millisecond)
		startFakeGuest(t, addr, hostPriv, clientPub)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := conn.run(ctx, "echo hi", nil)
	if err != nil || out != "hi\n" {
		t.Fatalf("run(echo hi) = %q, %v", out, err)
	}
	_, err = conn.run(ctx, "fail", nil)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitStatus != 3 || ce.Stderr != "boom" {
		t.Fatalf("run(fail) error = %#v, want exit status 3 with stderr boom", err)
	}
	if err := conn.runUntilGone(ctx, "systemctl reboot"); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	if out, err := conn.run(ctx, "cat", strings.NewReader("uploaded")); err != nil || out != "uploaded" {
		t.Fatalf("run(cat) with stdin = %q, %v", out, err)
	}
	// The next command reconnects.
	if out, err := conn.run(ctx, "echo hi", nil); err != nil || out != "hi\n" {
		t.Fatalf("run after reboot = %q, %v", out, err)
	}
}

func TestSSHRejectsWrongHostKey(t *testing.T) {
	clientPriv, clientPub, hostPriv, _ := keyPairs(t)
	_, otherPub, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	g := startFakeGuest(t, "127.0.0.1:0", hostPriv, clientPub)
	conn, err := newSSHConn(g.l.Addr().String(), clientPriv, otherPub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = conn.run(ctx, "echo hi", nil)
	if !errors.Is(err, ErrHostKeyMismatch) {
		t.Fatalf("run with wrong pinned key = %v, want ErrHostKeyMismatch", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("host key mismatch was retried for %s", time.Since(start))
	}
}

func TestSSHGivesUpWhenContextEnds(t *testing.T) {
	clientPriv, _, _, hostPub := keyPairs(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := newSSHConn(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), clientPriv, hostPub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := conn.run(ctx, "echo hi", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("run with nobody listening = %v, want deadline exceeded", err)
	}
}
