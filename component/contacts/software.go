package contacts

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Whether a server's message grant can be used. XEP-0356 §5 says the
// server treats a privileged message as if the user had sent it from a
// client: their other clients get a sent carbon (XEP-0280) and their
// archive keeps it. ejabberd before 23.10 grants the permission and
// routes the message to its recipient (the gateway sees its echo) but
// runs none of the sender's hooks, so no carbon and no archive: the user
// never sees their own message, and the server reports nothing wrong
// (processone/ejabberd#3990, "Messages sent with mod_privilege are not
// carbon-copied", fixed by commit 16473ab, first in 23.10; Debian 12
// ships 23.01). No error tells it, so the gateway asks the server what it
// runs (XEP-0092) when it advertises a message grant, and until the
// answer, or for such a server, shows the user's own messages marked
// (direct.OwnMarker) instead: never lost, never as the contact's.

// NSVersion is XEP-0092's namespace (Software Version).
const NSVersion = "jabber:iq:version"

// Software is what a server says it runs (XEP-0092).
type Software struct {
	Name, Version string
}

// versionTimeout bounds the software version query of a server.
const versionTimeout = 10 * time.Second

// MessagePrivilegeWorks reports whether a server running sw carries out
// a privileged message as XEP-0356 asks (carbons, archive): every server
// but ejabberd before 23.10 (processone/ejabberd#3990). A version it
// cannot read is trusted.
func MessagePrivilegeWorks(sw Software) bool {
	if !strings.EqualFold(strings.TrimSpace(sw.Name), "ejabberd") {
		return true
	}
	// ejabberd's versions are year.month[.patch] ("23.01", "23.10.0").
	year, rest, _ := strings.Cut(strings.TrimSpace(sw.Version), ".")
	month, _, _ := strings.Cut(rest, ".")
	month, _, _ = strings.Cut(month, "-")
	y, err1 := strconv.Atoi(year)
	m, err2 := strconv.Atoi(month)
	if err1 != nil || err2 != nil {
		return true
	}
	return y > 23 || y == 23 && m >= 10
}

// checkMessageGrant asks domain's server what it runs and settles its
// message grant: usable, or withdrawn for a server known to drop what it
// routes (MessagePrivilegeWorks). A server that does not answer is
// trusted. Lane work: it waits for the server, at most versionTimeout.
func (d *Service) checkMessageGrant(ctx context.Context, domain string) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	log := d.core.Logger()
	sw, err := d.core.ServerSoftware(ctx, domain)
	works := err != nil || MessagePrivilegeWorks(sw)
	switch {
	case err != nil:
		log.Info("server software unknown; its message privilege is trusted", "server", domain, "err", err)
	case !works:
		log.Warn("message privilege not used: this server sends no carbon of a privileged message (processone/ejabberd#3990, fixed in ejabberd 23.10); the user's own messages from other legacy clients are shown marked",
			"server", domain, "software", sw.Name, "version", sw.Version)
	default:
		log.Info("message privilege in use", "server", domain, "software", sw.Name, "version", sw.Version)
	}
	d.privs.settle(domain, works)
}
