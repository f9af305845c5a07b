package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/internal/testenv"
)

// switchboard is Switchboard running in the demo's process, as its
// command would run it, logging to a file in the demo's directory.
type switchboard struct {
	*app.App
	log  *os.File
	stop context.CancelFunc
	done chan error
	once sync.Once
}

// startSwitchboard shows cfgText (with the lines secret says are secret
// masked) as the admin's switchboard.toml, starts Switchboard with it and
// waits until its first component is connected to the XMPP server. The
// caller stops it.
func startSwitchboard(ctx context.Context, dir, cfgText string, secret func(line string) bool) (*switchboard, error) {
	step("Starting Switchboard with this switchboard.toml")
	for _, l := range strings.Split(strings.TrimSpace(cfgText), "\n") {
		if secret != nil && secret(l) {
			l = l[:strings.Index(l, "=")+1] + ` "•••••"`
		}
		show("%s", l)
	}
	cfg, err := app.ParseConfig("switchboard.toml", []byte(cfgText))
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "switchboard.log"))
	if err != nil {
		return nil, err
	}
	a, err := app.New(app.Options{Config: cfg, Logger: app.NewLogger(config.Log{Level: "debug", Format: "text"}, log), Version: "demo"})
	if err != nil {
		log.Close()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	s := &switchboard{App: a, log: log, stop: stop, done: make(chan error, 1)}
	go func() { s.done <- a.Run(runCtx) }()
	if err := a.Components()[0].WaitConnected(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("switchboard did not connect: %w", err)
	}
	return s, nil
}

// Stop shuts Switchboard down cleanly (once) and closes its log.
func (s *switchboard) Stop() {
	s.once.Do(func() {
		s.stop()
		<-s.done
		s.log.Close()
	})
}

// Logged is what Switchboard logged.
func (s *switchboard) Logged() string {
	b, _ := os.ReadFile(s.log.Name())
	return string(b)
}

// login makes an XMPP account name@localhost and logs it in with resource,
// as an ordinary client would.
func login(ctx context.Context, p *testenv.Prosody, name, resource string) (*testenv.Client, error) {
	j, err := p.AddUser(name, name+"-pw")
	if err != nil {
		return nil, err
	}
	return testenv.Dial(ctx, p.C2SAddr, j, name+"-pw", resource, 0)
}

// joinRoom joins c to room as nick and shows the occupants it sees, each
// with the muc#user item attribute attr ("role", "affiliation"), then the
// subject, which ends the join.
func joinRoom(ctx context.Context, c *testenv.Client, room, nick, attr string) error {
	if err := c.SendRaw(ctx, `<presence to="`+room+`/`+nick+`"><x xmlns="http://jabber.org/protocol/muc"/></presence>`); err != nil {
		return err
	}
	for {
		el, err := c.Next(ctx, func(el *testenv.Element) bool { return strings.HasPrefix(el.Attr("from"), room) })
		if err != nil {
			return err
		}
		if el.Name.Local == "presence" {
			v := ""
			if item := el.Find("{http://jabber.org/protocol/muc#user}x", "item"); item != nil {
				v = item.Attr(attr)
			}
			show("[xmpp %s] occupant %s (%s)", nick, el.Attr("from")[len(room)+1:], v)
			continue
		}
		if el.Child("", "subject") != nil {
			if subject := el.ChildText("", "subject"); subject != "" {
				show("[xmpp %s] subject: %q", nick, subject)
			}
			return nil
		}
	}
}

// register submits the registration form to gateway with fields (data
// form <field/> elements), and, registered, accepts the gateway's
// subscription and sends the client's presence, as a client does.
func register(ctx context.Context, c *testenv.Client, gateway, fields string) error {
	res, err := c.Request(ctx, `<iq type="set" to="`+gateway+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		fields+`</x></query></iq>`)
	if err != nil {
		return err
	}
	if res.Attr("type") != "result" {
		return fmt.Errorf("registration refused: %s", res.Child("", "error"))
	}
	if err := c.SendRaw(ctx, `<presence to="`+gateway+`" type="subscribed"/>`); err != nil {
		return err
	}
	return c.SendRaw(ctx, `<presence/>`)
}
