package adhoc

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

const (
	alice       = "alice@example.org/phone"
	aliceLaptop = "alice@example.org/laptop"
	bob         = "bob@example.org/phone"
	root        = "root@example.org/console"
)

// testProvider has a two-stage command "ask", a one-stage "once", an admin
// command "stats" (root is the admin) and a command "fails" whose step
// fails with a legacy error. steps counts the steps run.
func testProvider(t *testing.T) (*Provider, *clock, *int) {
	t.Helper()
	s, c := testSessions(t, 15*time.Minute, 0)
	steps := new(int)
	cmds := []Command{
		{Node: "ask", Name: "Ask", Step: func(_ context.Context, from jid.JID, sub *regform.Submitted) (Result, error) {
			*steps++
			if sub == nil {
				return Result{Next: true, Form: &regform.Form{Type: "form", Title: "Name?"}}, nil
			}
			return Result{Note: fmt.Sprintf("%s answered %q", from.Bare(), sub.Values["name"])}, nil
		}},
		{Node: "once", Name: "Once", Step: func(context.Context, jid.JID, *regform.Submitted) (Result, error) {
			*steps++
			return Result{Note: "done", NoteType: commands.NoteWarn}, nil
		}},
		{Node: "stats", Name: "Statistics", Admin: true, Step: func(context.Context, jid.JID, *regform.Submitted) (Result, error) {
			*steps++
			return Result{Form: regform.Result("Statistics", [][2]string{{"users", "2"}})}, nil
		}},
		{Node: "fails", Name: "Fails", Step: func(context.Context, jid.JID, *regform.Submitted) (Result, error) {
			*steps++
			return Result{}, fmt.Errorf("%w: the server said no", transports.ErrForbidden)
		}},
	}
	p := &Provider{
		Commands: func() []Command { return cmds },
		IsAdmin:  func(from jid.JID) bool { return from.Bare().String() == "root@example.org" },
		Sessions: s,
	}
	return p, c, steps
}

// do sends req from from through Accept and, if accepted, Run.
func do(t *testing.T, p *Provider, from string, req Request) (*Response, error) {
	t.Helper()
	call, res, err := p.Accept(must(t, from), req)
	if n := btoi(call != nil) + btoi(res != nil) + btoi(err != nil); n != 1 {
		t.Fatalf("Accept(%+v) returned %d of call, response, error; want exactly one", req, n)
	}
	if call == nil {
		return res, err
	}
	return call.Run(context.Background())
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// start opens a session of "ask" for from and returns its ID.
func start(t *testing.T, p *Provider, from string) string {
	t.Helper()
	res, err := do(t, p, from, Request{Node: "ask", Action: ActionExecute})
	if err != nil {
		t.Fatalf("starting ask: %v", err)
	}
	if res.Status != StatusExecuting || res.SessionID == "" || res.Actions != commands.Complete|commands.Complete<<3 || res.Form == nil {
		t.Fatalf("first stage of ask: %+v", res)
	}
	return res.SessionID
}

func answer(sid string) Request {
	return Request{Node: "ask", SessionID: sid, Action: ActionComplete,
		Form: &regform.Submitted{Type: "submit", Values: map[string]string{"name": "Alice"}}}
}

// TestProviderRefuses: the requests XEP-0050 §4.6 answers with an error,
// and that none of them runs a step or ends the requester's session.
func TestProviderRefuses(t *testing.T) {
	tests := []struct {
		name  string
		from  string
		req   func(sid string) Request // sid: alice's open session of "ask"
		after time.Duration
		want  cond
		kept  bool // alice's session survives
	}{
		{"unknown node", alice, func(string) Request { return Request{Node: "nope", Action: ActionExecute} },
			0, cond{"cancel", "item-not-found", ""}, true},
		{"admin command for a user", alice, func(string) Request { return Request{Node: "stats", Action: ActionExecute} },
			0, cond{"auth", "forbidden", ""}, true},
		{"start with complete", alice, func(string) Request { return Request{Node: "once", Action: ActionComplete} },
			0, cond{"modify", "bad-request", "bad-action"}, true},
		{"start with next", alice, func(string) Request { return Request{Node: "once", Action: ActionNext} },
			0, cond{"modify", "bad-request", "bad-action"}, true},
		{"next where only complete is offered", alice, func(sid string) Request { return Request{Node: "ask", SessionID: sid, Action: ActionNext} },
			0, cond{"modify", "bad-request", "bad-action"}, true},
		{"prev where only complete is offered", alice, func(sid string) Request { return Request{Node: "ask", SessionID: sid, Action: ActionPrev} },
			0, cond{"modify", "bad-request", "bad-action"}, true},
		{"unknown session", alice, func(string) Request { return answer("no-such-session") },
			0, cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"another resource's session", aliceLaptop, answer,
			0, cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"another user's session", bob, answer,
			0, cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"the session of another command", alice, func(sid string) Request { return Request{Node: "once", SessionID: sid, Action: ActionComplete} },
			0, cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"expired session", alice, answer,
			15 * time.Minute, cond{"cancel", "not-allowed", "session-expired"}, false},
		{"the step fails", alice, func(string) Request { return Request{Node: "fails", Action: ActionExecute} },
			0, cond{"auth", "forbidden", ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, c, steps := testProvider(t)
			sid := start(t, p, alice)
			before := *steps
			c.add(tt.after)
			res, err := do(t, p, tt.from, tt.req(sid))
			if err == nil {
				t.Fatalf("answered %+v, want error %+v", res, tt.want)
			}
			if got := wireCond(t, err); got != tt.want {
				t.Errorf("error %v reads %+v, want %+v", err, got, tt.want)
			}
			wantSteps := before
			if tt.req(sid).Node == "fails" {
				wantSteps++
			}
			if *steps != wantSteps {
				t.Errorf("%d steps ran, want %d", *steps-before, wantSteps-before)
			}
			c.t = c.t.Add(-tt.after)
			_, err = do(t, p, alice, answer(sid))
			if (err == nil) != tt.kept {
				t.Errorf("alice's answer afterwards: %v, want kept=%v", err, tt.kept)
			}
		})
	}
}

// TestProviderTwoStages: execute asks, complete answers with the
// submitted values under the same session, which then is over.
func TestProviderTwoStages(t *testing.T) {
	p, _, _ := testProvider(t)
	sid := start(t, p, alice)
	res, err := do(t, p, alice, answer(sid))
	if err != nil {
		t.Fatal(err)
	}
	want := &Response{Node: "ask", SessionID: sid, Status: StatusCompleted,
		Note: &commands.Note{Type: commands.NoteInfo, Value: `alice@example.org answered "Alice"`}}
	if res.Node != want.Node || res.SessionID != want.SessionID || res.Status != want.Status || res.Actions != 0 || res.Form != nil || *res.Note != *want.Note {
		t.Errorf("second stage: %+v (note %+v), want %+v (note %+v)", res, res.Note, want, want.Note)
	}
	if _, err := do(t, p, alice, answer(sid)); err == nil {
		t.Error("a completed session was continued")
	}
	if p.Sessions.Len() != 0 {
		t.Errorf("%d sessions left", p.Sessions.Len())
	}
}

// TestProviderNoForm: a second stage sent without a form gets an empty
// submit form, not nil (nil means the first stage).
func TestProviderNoForm(t *testing.T) {
	p, _, _ := testProvider(t)
	for _, act := range []Action{ActionExecute, ActionComplete} {
		t.Run(string(act), func(t *testing.T) {
			sid := start(t, p, alice)
			res, err := do(t, p, alice, Request{Node: "ask", SessionID: sid, Action: act})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusCompleted || res.Note == nil || res.Note.Value != `alice@example.org answered ""` {
				t.Errorf("%+v", res)
			}
		})
	}
}

// TestProviderCancel: cancel always answers canceled and ends the
// requester's own session only.
func TestProviderCancel(t *testing.T) {
	tests := []struct {
		name string
		from string
		sid  func(sid string) string
		kept bool
	}{
		{"own session", alice, func(sid string) string { return sid }, false},
		{"no session", alice, func(string) string { return "" }, true},
		{"unknown session", alice, func(string) string { return "x" }, true},
		{"another resource's session", aliceLaptop, func(sid string) string { return sid }, true},
		{"another user's session", bob, func(sid string) string { return sid }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, steps := testProvider(t)
			sid := start(t, p, alice)
			before := *steps
			res, err := do(t, p, tt.from, Request{Node: "ask", SessionID: tt.sid(sid), Action: ActionCancel})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusCanceled || res.Node != "ask" || res.SessionID != tt.sid(sid) {
				t.Errorf("cancel: %+v", res)
			}
			if *steps != before {
				t.Error("cancel ran a step")
			}
			if _, err := do(t, p, alice, answer(sid)); (err == nil) != tt.kept {
				t.Errorf("alice's answer afterwards: %v, want kept=%v", err, tt.kept)
			}
		})
	}
}

// TestProviderOneStage: a command without a form completes at once, with
// no session; the note type is the step's.
func TestProviderOneStage(t *testing.T) {
	p, _, _ := testProvider(t)
	res, err := do(t, p, alice, Request{Node: "once", Action: ActionExecute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusCompleted || res.SessionID != "" || res.Actions != 0 || res.Note == nil || *res.Note != (commands.Note{Type: commands.NoteWarn, Value: "done"}) {
		t.Errorf("%+v", res)
	}
	if p.Sessions.Len() != 0 {
		t.Errorf("%d sessions opened", p.Sessions.Len())
	}
}

// TestProviderList: admin commands are listed and run for admins only.
func TestProviderList(t *testing.T) {
	p, _, _ := testProvider(t)
	tests := []struct {
		from string
		want []string
	}{
		{alice, []string{"ask", "once", "fails"}},
		{root, []string{"ask", "once", "stats", "fails"}},
	}
	for _, tt := range tests {
		var nodes []string
		for _, c := range p.List(must(t, tt.from)) {
			nodes = append(nodes, c.Node)
		}
		if !slices.Equal(nodes, tt.want) {
			t.Errorf("List(%s) = %v, want %v", tt.from, nodes, tt.want)
		}
	}
	res, err := do(t, p, root, Request{Node: "stats", Action: ActionExecute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusCompleted || res.Form == nil || res.Form.Type != "result" {
		t.Errorf("stats for root: %+v", res)
	}
}

// TestProviderStepError: a step's *stanzaerr.Error is answered as is.
func TestProviderStepError(t *testing.T) {
	p, _, _ := testProvider(t)
	want := stanzaerr.New("auth", "registration-required", "Register first.")
	p.Commands = func() []Command {
		return []Command{{Node: "x", Step: func(context.Context, jid.JID, *regform.Submitted) (Result, error) {
			return Result{}, fmt.Errorf("settings: %w", want)
		}}}
	}
	_, err := do(t, p, alice, Request{Node: "x", Action: ActionExecute})
	if got := stanzaerr.From(err); got != want {
		t.Errorf("error %v, want %v", err, want)
	}
}
