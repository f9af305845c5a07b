package e2e_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHAPausedHolder: as TestHAKillTheHolder, but the holder is paused
// (SIGSTOP), not killed, so its XMPP stream and IRC connection stay open,
// half-open: Prosody, configured with component_conflict_resolve =
// "kick_old", lets the standby's stream replace it. A second after a
// standby is ready, the old holder is resumed (SIGCONT): it must find
// that its lease is gone and stop (the process exits, for its supervisor
// to start it again as a standby) without flushing. The messages are
// counted at both ends as in TestHAKillTheHolder.
//
// Nothing may be lost either way. IRC-bound from bob, the paused
// process's IRC connection keeps alice's nick until it ends, so what bob
// sends her during the pause goes into that connection's socket: the
// resumed process, stopping, writes QUIT and reads its connection to the
// end, and what it reads then is kept in the outbox (unfenced) for the
// new holder to send.
func TestHAPausedHolder(t *testing.T) {
	var old *instance
	var stopped time.Time
	resumed := make(chan time.Time, 1)
	r := runHA(t, haScenario{
		kickOld: true,
		what:    "the SIGSTOP",
		interrupt: func(t *testing.T, in *instance, standbys []*instance) {
			old, stopped = in, time.Now()
			in.signal(t, syscall.SIGSTOP)
			go func() {
				// Resumed a second after a standby is ready, or after a
				// minute without one.
				for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					if slices.ContainsFunc(standbys, (*instance).ready) {
						time.Sleep(time.Second)
						break
					}
				}
				in.cmd.Process.Signal(syscall.SIGCONT)
				resumed <- time.Now()
			}()
		},
	})
	at := <-resumed
	select {
	case <-old.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the resumed old holder still runs 30 s after SIGCONT\n%s", r.dump())
	}
	t.Logf("old holder paused %s; exited %s after SIGCONT: %v", at.Sub(stopped).Round(10*time.Millisecond),
		old.exited.Sub(at).Round(10*time.Millisecond), old.cmd.ProcessState)
	logs := old.logs.String()
	if !strings.Contains(logs, "stopped: a domain's lease was lost") {
		t.Errorf("the resumed old holder did not stop for its lost lease\n%s", r.dump())
	}
	if strings.Contains(logs, "outbox stanza given up") || strings.Contains(logs, "acknowledging outbox item") {
		t.Errorf("the resumed old holder flushed\n%s", r.dump())
	}
	if xl, il, cl := r.x.lost(), r.i.lost(), r.ch.lost(); len(xl) > 0 || len(il) > 0 || len(cl) > 0 {
		t.Errorf("lost XMPP→IRC %v, IRC→XMPP %v, IRC channel→XMPP %v\n%s", xl, il, cl, r.dump())
	}
	if r.takeover == "" {
		t.Errorf("no standby took over within a minute\n%s", r.dump())
	} else {
		t.Log(r.takeover)
	}
}
