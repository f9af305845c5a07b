package irc

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// Bounds on what a server can make a connection remember.
const (
	maxMembers         = 10000 // members of one channel
	maxChannelsPerConn = 100   // channels, forced joins included
	maxMOTDLines       = 200
)

// handle turns one event of a connection into state and events. It runs
// on the connection's reading goroutine (dispatch), one event at a time.
func (c *conn) handle(e girc.Event) {
	ev := &e
	if c.historyLine(ev) {
		c.onReplayLine(ev) // a join replay (replay.go)
		c.checkAwaits(ev)  // a history request collects it
		return
	}
	var evs []transports.Event
	consumed := false
	switch e.Command {
	case "001":
		if len(e.Params) > 0 {
			c.mu.Lock()
			c.nick = strings.Clone(e.Params[0]) // not the whole line
			c.mu.Unlock()
		}
	case "005":
		c.parseISupport(e.Params)
	case "376", "422":
		c.mu.Lock()
		was := c.registered
		c.mu.Unlock()
		if !was {
			c.onRegistered()
			consumed = true
		}
	case "CAP":
		c.onCAP(ev)
	case "AUTHENTICATE":
		c.onAuthenticate(ev)
	case "903", "907":
		c.mu.Lock()
		c.saslOK = true
		c.mu.Unlock()
		if !c.isRegistered() {
			c.writeNow("CAP END")
		}
	case "904", "902", "905", "906", "464", "465":
		if !c.isRegistered() {
			c.setFail(serverError(c.server, ev))
			if e.Command != "464" && e.Command != "465" {
				c.closeWire() // a refused SASL login ends the attempt
			}
		}
	case "432", "433", "436", "437":
		if !c.isRegistered() {
			c.setFail(serverError(c.server, ev))
			c.closeWire()
			consumed = true
		}
	case "ERROR":
		c.setFail(fmt.Errorf("%w: %s closed the connection: %s", transports.ErrUnavailable, c.server, cutUTF8(StripFormatting(DecodeText(lastParam(e.Params))), 200)))
	case "PRIVMSG", "NOTICE":
		evs = c.onMessage(ev)
	case "TAGMSG":
		evs = c.onTagMsg(ev)
	case "REDACT":
		evs = c.onRedact(ev)
	case "730", "731":
		evs, consumed = c.onMonitor(e.Command == "730", lastParam(e.Params)), true
	case "732", "733", "734":
		consumed = true // MONITOR's list and its end; a full list is logged by monitor
	case "PONG":
		consumed = c.onFence(lastParam(e.Params))
	case "JOIN", "PART", "KICK", "QUIT", "NICK", "MODE", "TOPIC", "AWAY", "ACCOUNT", "CHGHOST",
		"332", "333", "353", "366":
		evs = c.onChannelEvent(ev)
	case "375":
		c.mu.Lock()
		if c.reg != nil {
			c.reg.motd = nil
			c.tidyRegLocked()
		}
		c.mu.Unlock()
	case "372":
		c.mu.Lock()
		if line := DecodeText(lastParam(e.Params)); c.reg == nil || len(c.reg.motd) < maxMOTDLines {
			r := c.regLinesLocked()
			r.motd = append(r.motd, cutUTF8(line, 512))
		}
		c.mu.Unlock()
	case "401", "403", "404", "442", "477", "489":
		consumed = c.onSendError(ev)
	}
	if !consumed {
		evs = append(evs, c.forwardRaw(ev)...)
	}
	c.a.deliver(evs...)
	c.watchReplay(ev) // the channels' bookmarks (replay.go)
	if !consumed {
		c.checkAwaits(ev)
	}
}

// parseISupport reads the RPL_ISUPPORT tokens we use.
func (c *conn) parseISupport(params []string) {
	if len(params) < 2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tok := range params[1 : len(params)-1] {
		k, v, _ := strings.Cut(tok, "=")
		switch k {
		case "PREFIX":
			// (qaohv)~&@%+
			if strings.HasPrefix(v, "(") {
				if modes, chars, ok := strings.Cut(v[1:], ")"); ok && len(modes) == len(chars) {
					c.isupport.prefixModes, c.isupport.prefixChars = strings.Clone(modes), strings.Clone(chars)
				}
			}
		case "CHANMODES":
			parts := strings.SplitN(v, ",", 4)
			for i := range parts {
				c.isupport.chanModes[i] = strings.Clone(parts[i])
			}
		case "CHANTYPES":
			c.isupport.chanTypes = strings.Clone(v)
		case "CHATHISTORY", "draft/CHATHISTORY":
			c.isupport.historyLimit, _ = strconv.Atoi(v)
		case "MONITOR":
			c.isupport.monitor = true
			c.isupport.monitorLimit, _ = strconv.Atoi(v)
		}
	}
}

// isChannel reports whether name is a channel name on this server.
func (c *conn) isChannel(name string) bool {
	c.mu.Lock()
	types := c.isupport.chanTypes
	c.mu.Unlock()
	return name != "" && strings.IndexByte(types, name[0]) >= 0
}

// channelID is the ID events use for a channel.
func (c *conn) channelIDLocked(name string) transports.ID {
	if ch := c.channels[FoldName(name)]; ch != nil {
		return ch.id
	}
	return c.a.id(Target{Server: c.server, Channel: name})
}

func (c *conn) serverID() transports.ID { return c.a.id(Target{Server: c.server}) }

// fromNick is the ID of a nick, or "" when the nick cannot be an ID.
func (c *conn) nickID(nick string) transports.ID {
	t := Target{Server: c.server, Nick: nick}
	id := c.a.id(t)
	if _, err := ParseID(id, c.a.n.cfg.DefaultServer); err != nil {
		return ""
	}
	return id
}

// fromServer reports whether e comes from a server rather than a user.
func fromServer(e *girc.Event) bool {
	return e.Source == nil || e.Source.Ident == "" && e.Source.Host == "" && strings.Contains(e.Source.Name, ".")
}

// onMessage turns a PRIVMSG or NOTICE into a message event.
func (c *conn) onMessage(e *girc.Event) []transports.Event {
	if len(e.Params) < 2 {
		return nil
	}
	if e.Echo || c.isSelf(e) {
		c.onEcho(e)
		return nil
	}
	if m := c.messageEvent(e); m != nil {
		if m.Room && m.Nick != "" && m.RemoteID != "" {
			c.noteAuthor(strings.TrimLeft(e.Params[0], "~&@%+"), string(m.RemoteID), m.Nick)
		}
		return []transports.Event{m}
	}
	return nil
}

// messageEvent converts a PRIVMSG or NOTICE from someone else.
func (c *conn) messageEvent(e *girc.Event) *transports.MessageEvent {
	target, text := e.Params[0], e.Params[1]
	action := false
	if ctcp := girc.DecodeCTCP(e); ctcp != nil {
		if ctcp.Command != girc.CTCP_ACTION || e.Command != "PRIVMSG" {
			return nil // onCTCP answers VERSION, PING, TIME…
		}
		text, action = ctcp.Text, true
	}
	body := StripFormatting(DecodeText(text))
	if body == "" {
		return nil
	}
	notice := e.Command == "NOTICE"
	if !c.isRegistered() {
		return nil // "*** Looking up your hostname…"
	}
	m := &transports.MessageEvent{Body: body, Action: action, Notice: notice}
	if _, ok := e.Tags.Get("time"); ok {
		m.Time = e.Timestamp
	}
	if id, ok := e.Tags.Get("msgid"); ok {
		m.RemoteID = transports.RemoteID(id)
	}
	if r, ok := e.Tags.Get("+draft/reply"); ok {
		m.ReplyTo = transports.RemoteID(r)
	}
	// STATUSMSG: "@#chan" is a message to the channel's operators.
	name := strings.TrimLeft(target, "~&@%+")
	switch {
	case c.isChannel(name):
		c.mu.Lock()
		m.From = c.channelIDLocked(name)
		nick := c.nick
		c.mu.Unlock()
		m.Room = true
		if !fromServer(e) {
			m.Nick = e.Source.Name
		}
		m.Mention = mentions(body, nick)
	case fromServer(e):
		m.From, m.Notice = c.serverID(), true
	default:
		m.From = c.nickID(e.Source.Name)
		if m.From == "" {
			m.From, m.Body = c.serverID(), "<"+e.Source.Name+"> "+body
		}
	}
	return m
}

// onEcho matches the server's echo of one of our lines to its send.
func (c *conn) onEcho(e *girc.Event) {
	key := FoldName(e.Params[0])
	if msgid, ok := e.Tags.Get("msgid"); ok && c.isChannel(e.Params[0]) {
		c.noteAuthor(e.Params[0], msgid, c.currentNick())
	}
	c.mu.Lock()
	var done *echoWait
	for i, w := range c.echoes {
		if w.target != key || w.lines == 0 {
			continue
		}
		if w.first == nil {
			w.first = e
		}
		if msgid, ok := e.Tags.Get("msgid"); ok && len(w.ids) < c.a.n.cfg.MaxLinesPerMessage {
			w.ids = append(w.ids, strings.Clone(msgid))
		}
		w.lines--
		if w.lines == 0 {
			done = w
			c.echoes = without(c.echoes, i)
		}
		break
	}
	c.mu.Unlock()
	if done != nil {
		c.echoDone(done)
	}
}

// onFence completes the sends that the PING token fenced, in order.
func (c *conn) onFence(token string) bool {
	c.mu.Lock()
	var done []*echoWait
	kept := c.echoes[:0]
	for _, w := range c.echoes {
		if w.fence != "" && w.fence == token {
			done = append(done, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(c.echoes[len(kept):])
	c.echoes = kept
	if len(kept) == 0 {
		c.echoes = nil
	}
	c.mu.Unlock()
	for _, w := range done {
		c.echoDone(w)
	}
	return len(done) > 0
}

// onSendError fails the send an error numeric answers. Without a waiting
// send, the error reaches the user as a notice (unless a command waits).
func (c *conn) onSendError(e *girc.Event) bool {
	if len(e.Params) < 2 {
		return false
	}
	key := FoldName(e.Params[1])
	c.mu.Lock()
	var failed *echoWait
	for i, w := range c.echoes {
		if w.target == key {
			failed = w
			c.echoes = without(c.echoes, i)
			break
		}
	}
	c.mu.Unlock()
	if failed == nil {
		return false
	}
	failed.done <- serverError(c.server, e)
	return true
}

// onTagMsg turns typing notifications and reactions into events.
func (c *conn) onTagMsg(e *girc.Event) []transports.Event {
	if len(e.Params) < 1 || e.Source == nil || e.Echo || c.isSelf(e) {
		return nil
	}
	target := e.Params[0]
	var from transports.ID
	room := c.isChannel(target)
	if room {
		c.mu.Lock()
		from = c.channelIDLocked(target)
		c.mu.Unlock()
	} else if from = c.nickID(e.Source.Name); from == "" {
		return nil
	}
	var evs []transports.Event
	if v, ok := e.Tags.Get("+typing"); ok {
		st := transports.Composing
		switch v {
		case "paused":
			st = transports.Paused
		case "done":
			st = transports.Active
		}
		evs = append(evs, &transports.TypingEvent{From: from, Room: room, Nick: e.Source.Name, State: st})
	}
	if r, ok := e.Tags.Get("+draft/react"); ok {
		if to, ok := e.Tags.Get("+draft/reply"); ok && r != "" {
			evs = append(evs, &transports.ReactionEvent{From: from, Room: room, Nick: e.Source.Name,
				Target: transports.RemoteID(to), Reaction: DecodeText(r)})
		}
	}
	return evs
}

// forwardRaw shows the user the server's answers to their raw commands.
func (c *conn) forwardRaw(e *girc.Event) []transports.Event {
	if len(e.Command) != 3 || e.Command[0] < '0' || e.Command[0] > '9' {
		return nil
	}
	c.mu.Lock()
	active := c.registered && time.Now().UnixNano() < c.rawUntil
	c.mu.Unlock()
	if !active || len(e.Params) < 2 {
		return nil
	}
	return []transports.Event{&transports.MessageEvent{From: c.serverID(), Notice: true,
		Body: DecodeText(strings.Join(e.Params[1:], " "))}}
}

// mentions reports whether body names nick as a word.
func mentions(body, nick string) bool {
	if nick == "" {
		return false
	}
	b, n := FoldName(body), FoldName(nick)
	for i := 0; ; {
		j := strings.Index(b[i:], n)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(n)
		if (start == 0 || !nickChar(b[start-1])) && (end == len(b) || !nickChar(b[end])) {
			return true
		}
		i = start + 1
	}
}

func nickChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || strings.IndexByte("-_[]{}\\|^`", b) >= 0
}

// onChannelEvent keeps the channel state (the shared view, see roomView)
// and produces occupant and subject events.
func (c *conn) onChannelEvent(e *girc.Event) []transports.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	src := ""
	if e.Source != nil {
		src = e.Source.Name
	}
	self := src != "" && EqualFold(src, c.nick)
	p := e.Params
	switch e.Command {
	case "JOIN":
		if len(p) < 1 {
			return nil
		}
		key := FoldName(p[0])
		ch := c.channels[key]
		account := ""
		if len(p) >= 2 && p[1] != "*" {
			account = p[1]
		}
		if self {
			if e.Source != nil {
				c.user, c.host = strings.Clone(e.Source.Ident), strings.Clone(e.Source.Host)
			}
			if ch == nil { // joined by the server (SAJOIN, forward)
				if len(c.channels) >= maxChannelsPerConn {
					return nil // a hostile server's forced joins end here
				}
				ch = &channel{id: c.a.id(Target{Server: c.server, Channel: p[0]}), want: true}
				c.channels[strings.Clone(key)] = ch
			}
			if ch.name != p[0] {
				ch.name = strings.Clone(p[0]) // not the whole line, for the channel's life
			}
			ch.joined, ch.synced = true, false
			ch.sub.close()
			ch.sub = c.a.n.views.subscribe(c.server, key, lineKey(e), member{nick: src, account: account})
			return nil
		}
		if ch == nil || !ch.joined || ch.sub == nil || src == "" {
			return nil
		}
		changed, quiet := ch.sub.apply(lineKey(e), true, func(v *roomView) []member {
			// A member already there came from a connection's names
			// reply that was newer than this line: kept as it is.
			m := v.addMember(member{nick: src, account: account})
			if m == nil {
				return nil
			}
			return []member{*m}
		})
		if !ch.synced || quiet || len(changed) == 0 {
			return nil
		}
		return []transports.Event{c.occupantEvent(ch, changed[0])}
	case "353":
		if len(p) < 4 {
			return nil
		}
		ch := c.channels[FoldName(p[2])]
		if ch == nil || ch.synced || ch.sub == nil || ch.sub.ahead() {
			return nil // the view knows better than this reply already
		}
		v := ch.sub.v
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, entry := range strings.Fields(p[3]) {
			modes := ""
			for entry != "" {
				i := strings.IndexByte(c.isupport.prefixChars, entry[0])
				if i < 0 {
					break
				}
				modes += string(c.isupport.prefixModes[i])
				entry = entry[1:]
			}
			nick, _, _ := strings.Cut(entry, "!")
			if nick == "" {
				continue
			}
			m := v.addMember(member{nick: nick})
			if m == nil {
				break
			}
			m.prefixes = c.sortModes(modes)
		}
	case "366":
		if len(p) < 2 {
			return nil
		}
		ch := c.channels[FoldName(p[1])]
		if ch == nil || ch.synced || !ch.joined || ch.sub == nil {
			return nil
		}
		ch.synced = true
		ch.sub.synced()
		if ch.rejoining {
			ch.rejoining = false
			evs := c.diffLocked(ch)
			ch.old = nil
			return append(evs, &transports.NoticeEvent{About: ch.id, Text: "Reconnected to " + c.server + " and rejoined " + ch.name + "."})
		}
		ch.old = nil
		return c.snapshotLocked(ch)
	case "332":
		if len(p) >= 3 {
			if ch := c.channels[FoldName(p[1])]; ch != nil && ch.sub != nil && !ch.sub.ahead() {
				v := ch.sub.v
				v.mu.Lock()
				v.topic = StripFormatting(DecodeText(p[2]))
				v.mu.Unlock()
			}
		}
	case "333":
		if len(p) >= 3 {
			if ch := c.channels[FoldName(p[1])]; ch != nil && ch.sub != nil && !ch.sub.ahead() {
				v := ch.sub.v
				v.mu.Lock()
				v.topicBy, _, _ = strings.Cut(p[2], "!")
				v.topicBy = strings.Clone(v.topicBy)
				if len(p) >= 4 {
					if secs, err := strconv.ParseInt(p[3], 10, 64); err == nil {
						v.topicAt = time.Unix(secs, 0)
					}
				}
				v.mu.Unlock()
			}
		}
	case "TOPIC":
		if len(p) < 1 {
			return nil
		}
		ch := c.channels[FoldName(p[0])]
		if ch == nil || ch.sub == nil {
			return nil
		}
		topic, at := StripFormatting(DecodeText(lastParam(p[1:]))), time.Now()
		_, quiet := ch.sub.apply(lineKey(e), true, func(v *roomView) []member {
			v.topic, v.topicBy, v.topicAt = topic, strings.Clone(src), at
			return nil
		})
		if !ch.synced || quiet {
			return nil
		}
		return []transports.Event{&transports.SubjectEvent{Room: ch.id, Subject: topic, Nick: src, Time: at}}
	case "PART":
		if len(p) < 1 {
			return nil
		}
		return c.departLocked(e, p[0], src, self, &transports.OccupantEvent{Nick: src, Left: true, Reason: decodedParam(p, 1)})
	case "KICK":
		if len(p) < 2 {
			return nil
		}
		return c.departLocked(e, p[0], p[1], EqualFold(p[1], c.nick),
			&transports.OccupantEvent{Nick: p[1], Left: true, Kicked: true, By: src, Reason: decodedParam(p, 2)})
	case "QUIT":
		if self {
			return nil
		}
		reason := "Quit"
		if len(p) >= 1 && p[0] != "" {
			reason = "Quit: " + DecodeText(p[0])
		}
		k := FoldName(src)
		return c.eachChannelLocked(e, func(v *roomView) []member {
			m := v.members[k]
			if m == nil {
				return nil
			}
			delete(v.members, k)
			return []member{*m}
		}, func(ch *channel, m member) transports.Event {
			return &transports.OccupantEvent{Room: ch.id, Nick: src, Left: true, Reason: reason}
		})
	case "NICK":
		if len(p) < 1 {
			return nil
		}
		newNick := p[0]
		if self {
			c.nick = strings.Clone(newNick)
		}
		k := FoldName(src)
		return c.eachChannelLocked(e, func(v *roomView) []member {
			m := v.members[k]
			if m == nil {
				return nil
			}
			delete(v.members, k)
			m.nick = strings.Clone(newNick)
			v.members[FoldName(m.nick)] = m // a key of its own, not cut from the line
			return []member{*m}
		}, func(ch *channel, m member) transports.Event {
			role, aff := c.roleOf(m.prefixes)
			return &transports.OccupantEvent{Room: ch.id, Nick: src, NewNick: newNick, Self: self, Role: role, Affiliation: aff,
				Account: m.account, OccupantID: occupantID(m.account)}
		})
	case "MODE":
		if len(p) < 2 {
			return nil
		}
		ch := c.channels[FoldName(p[0])]
		if ch == nil || ch.sub == nil {
			return nil
		}
		changed, quiet := ch.sub.apply(lineKey(e), true, func(v *roomView) []member {
			return c.applyModesLocked(v.members, p[1], p[2:])
		})
		if !ch.synced || quiet {
			return nil
		}
		evs := make([]transports.Event, 0, len(changed))
		for _, m := range changed {
			evs = append(evs, c.occupantEvent(ch, m))
		}
		return evs
	case "AWAY":
		away := len(p) >= 1 && p[0] != ""
		text := ""
		if away {
			text = DecodeText(p[0])
		}
		k := FoldName(src)
		return c.eachChannelLocked(e, func(v *roomView) []member {
			m := v.members[k]
			if m == nil || m.away == away && m.awayText == text {
				return nil
			}
			m.away, m.awayText = away, text
			return []member{*m}
		}, func(ch *channel, m member) transports.Event { return c.occupantEvent(ch, m) })
	case "ACCOUNT":
		if len(p) < 1 {
			return nil
		}
		account := p[0]
		if account == "*" {
			account = ""
		}
		k := FoldName(src)
		c.eachChannelLocked(e, func(v *roomView) []member {
			if m := v.members[k]; m != nil {
				m.account = strings.Clone(account)
			}
			return nil
		}, nil)
	case "CHGHOST":
		if self && len(p) >= 2 {
			c.user, c.host = strings.Clone(p[0]), strings.Clone(p[1])
		}
	}
	return nil
}

// eachChannelLocked runs a line about one user (QUIT, NICK, AWAY,
// ACCOUNT) through the view of every channel the connection is in:
// change applies it where no other connection did, and where it changed a
// member, event makes the user's event for that channel (when the user
// has seen its member list).
func (c *conn) eachChannelLocked(e *girc.Event, change func(v *roomView) []member, event func(*channel, member) transports.Event) []transports.Event {
	line := lineKey(e)
	var evs []transports.Event
	for _, ch := range c.channels {
		if ch.sub == nil {
			continue
		}
		changed, quiet := ch.sub.apply(line, false, change)
		if len(changed) == 0 || !ch.synced || quiet || event == nil {
			continue
		}
		evs = append(evs, event(ch, changed[0]))
	}
	return evs
}

// sortModes orders status modes from highest to lowest.
func (c *conn) sortModes(modes string) string {
	var b strings.Builder
	for _, r := range c.isupport.prefixModes {
		if strings.ContainsRune(modes, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// applyModesLocked applies a channel MODE change to members and returns
// the members whose status changed, as after it. Call with the view's
// lock held.
func (c *conn) applyModesLocked(members map[string]*member, modes string, args []string) []member {
	var changed []*member
	plus := true
	next := func() string {
		if len(args) == 0 {
			return ""
		}
		a := args[0]
		args = args[1:]
		return a
	}
	cm := c.isupport.chanModes
	for _, r := range modes {
		switch {
		case r == '+':
			plus = true
		case r == '-':
			plus = false
		case strings.ContainsRune(c.isupport.prefixModes, r):
			nick := next()
			m := members[FoldName(nick)]
			if m == nil {
				continue
			}
			had := m.prefixes
			if plus {
				m.prefixes = c.sortModes(m.prefixes + string(r))
			} else {
				m.prefixes = strings.ReplaceAll(m.prefixes, string(r), "")
			}
			if had != m.prefixes {
				changed = append(changed, m)
			}
		case strings.ContainsRune(cm[0], r), strings.ContainsRune(cm[1], r):
			next()
		case strings.ContainsRune(cm[2], r):
			if plus {
				next()
			}
		}
	}
	out := make([]member, len(changed))
	for i, m := range changed {
		out[i] = *m // as after the whole line, as often as it changed
	}
	return out
}

// diffLocked compares the members after a rejoin with those before the
// connection was lost, so the user sees who left and came meanwhile.
func (c *conn) diffLocked(ch *channel) []transports.Event {
	var evs []transports.Event
	self := FoldName(c.nick)
	v := ch.sub.v
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, m := range ch.old {
		if k == self {
			continue
		}
		if v.members[k] == nil {
			evs = append(evs, &transports.OccupantEvent{Room: ch.id, Nick: m.nick, Left: true, Reason: "Left while the connection was down"})
		}
	}
	for k, m := range v.members {
		if k == self {
			continue
		}
		if o, ok := ch.old[k]; !ok || o.prefixes != m.prefixes || o.away != m.away {
			evs = append(evs, c.occupantEvent(ch, *m))
		}
	}
	return evs
}

// departLocked records that nick left channel name (self: the user) and
// returns ev, completed, when the user must see it.
func (c *conn) departLocked(e *girc.Event, name, nick string, self bool, ev *transports.OccupantEvent) []transports.Event {
	key := FoldName(name)
	ch := c.channels[key]
	if ch == nil {
		return nil
	}
	ev.Room = ch.id
	if self {
		delete(c.channels, key)
		ch.sub.close()
		ch.sub = nil
		if ch.leaving && !ev.Kicked {
			return nil // the part the user asked for
		}
		ev.Self = true
		return []transports.Event{ev}
	}
	if ch.sub == nil {
		return nil
	}
	k := FoldName(nick)
	_, quiet := ch.sub.apply(lineKey(e), true, func(v *roomView) []member {
		if m := v.members[k]; m != nil {
			delete(v.members, k)
			return []member{*m}
		}
		return nil
	})
	if !ch.synced || quiet {
		return nil
	}
	return []transports.Event{ev}
}

// decodedParam is parameter i as text, or "".
func decodedParam(p []string, i int) string {
	if len(p) <= i {
		return ""
	}
	return DecodeText(p[i])
}
