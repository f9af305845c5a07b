package testenv

import "syscall"

// serverProcAttr is how a peer server is started: in its own process
// group (so that stopping it stops its children), running as cred when
// set, and killed by the kernel if the test process dies first.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
}
