package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

const (
	smsGW       = "sms.localhost"
	smsToken    = "demo-kannel-token-0123456789"
	aliceNumber = "+15550100001"
	bobNumber   = "+15551234567"
)

// runSMS is the SMS scene (`make demo-sms`): a real Prosody, a real
// Kannel (bearerbox, smsbox and a fake SMS centre standing in for the
// phone network) and Switchboard; an XMPP user registers, gets a number
// from the operator's pool, and texts with bob, who has a phone.
func runSMS(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	p, err := startProsody(dir, smsGW)
	if err != nil {
		return err
	}
	defer p.Shutdown()

	// Switchboard's webhook listener: its port is chosen now, so Kannel
	// can be told where to deliver texts.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	listen := l.Addr().String()
	l.Close()
	public := "http://" + listen
	step("Starting Kannel (Debian package): bearerbox, smsbox and a fake SMS centre")
	k, err := testenv.LaunchKannel(testenv.KannelOptions{
		MOURL: public + "/hooks/sms/kannel/" + smsToken + "/inbound?from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"})
	if err != nil {
		return err
	}
	defer k.Close()
	show("smsbox's sendsms interface: %s; texts it receives go to %s/hooks/sms/kannel/…", k.SendSMSURL, public)

	cfgText := fmt.Sprintf(`[xmpp]
server = %q
[storage]
path = %q
[security]
key_file = %q
allowed_domains = ["localhost"]
[http]
listen = %q
public_url = %q
[sms]
domain = %q
secret = "s3cret"
provider = "kannel"
numbers = [%q]            # the operator's pool: one number for each user
default_country = "US"
[sms.kannel]
sendsms_url = %q
username = %q
password = %q
token = %q
allow_from = ["127.0.0.1"]
`, p.ComponentAddr, filepath.Join(dir, "switchboard.db"), filepath.Join(dir, "switchboard.key"), listen, public,
		smsGW, aliceNumber, k.SendSMSURL, k.Username, k.Password, smsToken)
	sw, err := startSwitchboard(ctx, dir, cfgText, func(l string) bool { return strings.HasPrefix(l, "password") || strings.HasPrefix(l, "token") })
	if err != nil {
		return err
	}
	defer sw.Stop()
	show("component %s connected to Prosody (XEP-0114)", smsGW)

	step("alice@localhost registers with the SMS gateway and gets a number of the pool")
	c, err := login(ctx, p, "alice", "phone")
	if err != nil {
		return err
	}
	defer c.Shutdown()
	if err := register(ctx, c, smsGW, `<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`); err != nil {
		return err
	}
	note, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == smsGW && strings.Contains(el.ChildText("", "body"), aliceNumber)
	})
	if err != nil {
		return fmt.Errorf("no word of her number: %w", err)
	}
	show("[xmpp alice] from %s: %s", smsGW, note.ChildText("", "body"))

	step("She types bob's number as she knows it; the gateway makes it a JID (XEP-0100)")
	res, err := c.Request(ctx, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:gateway"><prompt>(555) 123-4567</prompt></query></iq>`)
	if err != nil {
		return err
	}
	bob := res.Find("{jabber:iq:gateway}query", "{jabber:iq:gateway}jid").Text
	show("(555) 123-4567 → %s", bob)

	step("A conversation across the gateway")
	show("[phone %s] texts %s: Are you there?", bobNumber, aliceNumber)
	if err := k.Receive(bobNumber, aliceNumber, "Are you there?", false); err != nil {
		return err
	}
	el, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bob && el.ChildText("", "body") != ""
	})
	if err != nil {
		return err
	}
	show("[xmpp alice] <%s> %s", el.Attr("from"), el.ChildText("", "body"))
	show("[xmpp alice] answers: Yes, here. (asking for a receipt, XEP-0184)")
	if err := c.SendRaw(ctx, `<message type="chat" id="demo-s1" to="`+bob+`"><body>Yes, here.</body><request xmlns="urn:xmpp:receipts"/></message>`); err != nil {
		return err
	}
	mt, err := k.NextMT(30 * time.Second)
	if err != nil {
		return err
	}
	show("[SMS centre] a text from %s to %s: %q", mt.From, mt.To, mt.Text)
	if _, err := c.Next(ctx, func(el *testenv.Element) bool {
		r := el.Find("{urn:xmpp:receipts}received")
		return el.Name.Local == "message" && r != nil && r.Attr("id") == "demo-s1"
	}); err != nil {
		return fmt.Errorf("no receipt: %w", err)
	}
	show("[xmpp alice] receipt for demo-s1: the SMS centre reported it delivered")

	step("What Switchboard logged (after a clean shutdown)")
	sw.Stop()
	logs := sw.Logged()
	show("Kannel password or token in Switchboard's log: %v (%d log lines)",
		strings.Contains(logs, k.Password) || strings.Contains(logs, smsToken), strings.Count(logs, "\n"))
	fmt.Println("\nDemo finished.")
	return nil
}
