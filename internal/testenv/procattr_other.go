//go:build unix && !linux

package testenv

import "syscall"

// serverProcAttr is how a peer server is started: in its own process
// group, running as cred when set. Only Linux can have the kernel kill
// it when the test process dies first; the harness needs Debian's
// packages anyway, and this keeps the package building elsewhere.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
