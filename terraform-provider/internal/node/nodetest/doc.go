// Package nodetest runs Debian's sshd on a loopback port with a fake
// elemental toolkit, so the SSH layer and the elemental_node resource can
// be tested against a real SSH server without a VM. It never reboots the
// machine: reboot, systemctl and systemd-run are replaced by loggers.
package nodetest
