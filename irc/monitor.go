package irc

import (
	"context"
	"slices"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// The presence of people the user added to their roster (Watch), through
// IRCv3 MONITOR where the server offers it (ISUPPORT MONITOR[=limit]):
// RPL_MONONLINE (730) makes a nick available, RPL_MONOFFLINE (731)
// offline. The set is sent again at every registration, so it survives a
// reconnect. A server without MONITOR shows no presence for them (no ISON
// polling: it would cost a line every few seconds per user).

// maxMonitorLine bounds the nick list of one MONITOR + line, well inside
// the 512-byte line with the command and any prefix.
const maxMonitorLine = 400

// Watch implements transports.Watcher: ids (nicks) replace the set whose
// presence the user asked for; the connected servers among theirs are
// told at once, the others when the user connects to them.
func (a *adapter) Watch(_ context.Context, ids []transports.ID) error {
	byServer := make(map[string][]string)
	for _, id := range ids {
		t, err := a.target(id)
		if err != nil || t.Nick == "" {
			continue
		}
		if !slices.Contains(byServer[t.Server], t.Nick) {
			byServer[t.Server] = append(byServer[t.Server], t.Nick)
		}
	}
	a.mu.Lock()
	a.watched = byServer
	conns := make([]*conn, 0, len(a.conns))
	for _, c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	for _, c := range conns {
		if c.isRegistered() {
			c.monitor()
		}
	}
	return nil
}

// watchedOn is the nicks to watch on server.
func (a *adapter) watchedOn(server string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.watched[server])
}

// monitor replaces the server's MONITOR list with the adapter's watched
// nicks on it, at most the server's limit (the rest are not shown).
func (c *conn) monitor() {
	c.mu.Lock()
	has, limit := c.isupport.monitor, c.isupport.monitorLimit
	c.mu.Unlock()
	nicks := c.a.watchedOn(c.server)
	c.mu.Lock()
	before := c.monitored
	c.monitored = len(nicks) > 0
	c.mu.Unlock()
	if len(nicks) == 0 && !before {
		return // nothing watched here, now or before: no line spent
	}
	if !has {
		if len(nicks) > 0 {
			c.logger().Debug("the server has no MONITOR: contacts' presence not shown", "contacts", len(nicks))
		}
		return
	}
	if limit > 0 && len(nicks) > limit {
		c.logger().Info("more contacts than the server's MONITOR limit: the rest show no presence", "contacts", len(nicks), "limit", limit)
		nicks = nicks[:limit]
	}
	lines := []string{"MONITOR C"}
	var b strings.Builder
	for _, n := range nicks {
		if b.Len() > 0 && b.Len()+1+len(n) > maxMonitorLine {
			lines = append(lines, "MONITOR + "+b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
	}
	if b.Len() > 0 {
		lines = append(lines, "MONITOR + "+b.String())
	}
	if err := c.enqueue(lines...); err != nil {
		c.logger().Warn("MONITOR not sent", "err", err)
	}
}

// onMonitor turns RPL_MONONLINE (730) and RPL_MONOFFLINE (731) into the
// presence of the nicks they list ("nick!user@host" or "nick", comma
// separated), those the user watches only.
func (c *conn) onMonitor(online bool, list string) []transports.Event {
	watched := c.a.watchedOn(c.server)
	show := transports.Offline
	if online {
		show = transports.Available
	}
	var evs []transports.Event
	for _, item := range strings.Split(list, ",") {
		nick, _, _ := strings.Cut(item, "!")
		i := slices.IndexFunc(watched, func(w string) bool { return FoldName(w) == FoldName(nick) })
		if nick == "" || i < 0 {
			continue
		}
		if id := c.nickID(watched[i]); id != "" {
			evs = append(evs, &transports.PresenceEvent{From: id, Presence: transports.Presence{Show: show}})
		}
	}
	return evs
}
