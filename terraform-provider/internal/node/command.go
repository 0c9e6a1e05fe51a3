package node

import (
	"strings"
)

// quote single-quotes s for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// asRoot prefixes cmd with non-interactive sudo when sudo is set.
func asRoot(sudo bool, cmd string) string {
	if sudo {
		return "sudo -n " + cmd
	}
	return cmd
}

// UpgradeCommands are the toolkit commands that move a node to
// u.Ref@u.Digest, with the generation's flags (contract §4.1). v1's
// --recovery upgrades only recovery, so v1 needs a second command for it.
// No --reboot: it would kill the SSH session (§4.5).
func UpgradeCommands(generation string, u Upgrade) []string {
	pinned := u.Ref + "@" + u.Digest
	tls := ""
	if u.InsecureRegistry {
		tls = " --tls-verify=false"
	}
	if generation == "v1" {
		cmds := []string{"elemental upgrade --system.uri " + quote("docker:"+pinned) + tls}
		if u.Recovery {
			cmds = append(cmds, "elemental upgrade --recovery --recovery-system.uri "+quote("docker:"+pinned)+tls)
		}
		return cmds
	}
	cmd := "elemental upgrade --system " + quote("oci:"+pinned)
	if u.Recovery {
		cmd += " --recovery"
	}
	return []string{cmd + tls}
}

// ResetCommand is the toolkit command that resets a node booted into
// recovery.
func ResetCommand(persistent, oem bool) string {
	cmd := "elemental reset"
	if persistent {
		cmd += " --reset-persistent"
	}
	if oem {
		cmd += " --reset-oem"
	}
	return cmd
}

// RebootCommand schedules a graceful reboot a few seconds later and
// returns at once, so the session ends cleanly before the node goes down.
const RebootCommand = `sh -c 'if command -v systemd-run >/dev/null 2>&1 && systemd-run --on-active=3 systemctl reboot >/dev/null 2>&1; then exit 0; fi; nohup sh -c "sleep 3; reboot" >/dev/null 2>&1 </dev/null & exit 0'`

// RecoveryNextBootCommand makes the next boot (only) go to the recovery
// entry, through the OEM grubenv (contract §2.2, §4.5).
const RecoveryNextBootCommand = `sh -c 'if command -v grub2-editenv >/dev/null 2>&1; then grub2-editenv /oem/grubenv set next_entry=recovery; else grub-editenv /oem/grubenv set next_entry=recovery; fi'`
