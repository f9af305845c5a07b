package switchboard_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/switchboard-im/switchboard"

// rules is DESIGN.md's package table: for each package (and its
// subpackages), the module packages and outside modules it may depend on,
// directly or not. Test-only fixtures are exempt from nothing.
var rules = []struct {
	pkg string
	// allowed lists module packages (prefixes) it may import.
	allowed []string
	// stdlibOnly forbids every outside module.
	stdlibOnly bool
	// forbidden lists outside import-path prefixes it must not reach.
	forbidden []string
	// notImported lists module packages it may reach only through
	// others, never import itself (component gets no storage types).
	notImported []string
	// imports, when set, lists the only outside import-path prefixes it
	// may import itself (their own dependencies are theirs).
	imports []string
}{
	{pkg: "transports", stdlibOnly: true},
	{pkg: "egress", stdlibOnly: true},
	{pkg: "transports/transportstest", allowed: []string{"transports"}, stdlibOnly: true},
	{pkg: "storage", allowed: []string{"storage"}, forbidden: []string{"mellium.im"}},
	// Redis: the storage contract and go-redis, nothing of XMPP.
	{pkg: "storage/redis", allowed: []string{"storage"}, forbidden: []string{"mellium.im"},
		imports: []string{"github.com/redis/go-redis/v9"}},
	{pkg: "registry", allowed: []string{"storage"}, forbidden: []string{"mellium.im"}},
	{pkg: "msgid", allowed: []string{"storage"}, forbidden: []string{"mellium.im"}},
	{pkg: "netstate", allowed: []string{"storage"}, forbidden: []string{"mellium.im"}},
	{pkg: "archive", allowed: []string{"storage"}, forbidden: []string{"mellium.im"}},
	{pkg: "outbox", allowed: []string{"storage", "msgid"}, forbidden: []string{"mellium.im"}},
	// The inbound journal: the storage contract only.
	{pkg: "journal", allowed: []string{"storage"}, forbidden: []string{"mellium.im"}},
	// The active/standby election: the storage contract only.
	{pkg: "lease", allowed: []string{"storage"}, stdlibOnly: true},
	{pkg: "component", allowed: []string{"transports", "registry", "outbox", "journal", "msgid", "netstate", "archive", "storage", "internal/xmltree", "internal/bounded", "egress"},
		notImported: []string{"storage"}},
	{pkg: "component/discovery", allowed: []string{"transports", "component/stanzaerr", "internal/xmltree"}},
	{pkg: "component/regform", allowed: []string{"transports", "internal/xmltree"}},
	{pkg: "component/stanzaerr", allowed: []string{"transports"}},
	{pkg: "component/stanza", allowed: []string{"component/stanzaerr", "transports", "internal/xmltree"}, imports: []string{"mellium.im/xmpp/jid"}},
	// The MUC service may read and write the room archive, never storage
	// itself.
	{pkg: "component/muc", allowed: []string{"transports", "component/stanzaerr", "component/stanza", "component/discovery", "component/presence", "component/vcard", "archive", "storage", "internal/xmltree", "internal/bounded"},
		notImported: []string{"storage"}},
	{pkg: "component/adhoc", allowed: []string{"component/regform", "component/stanzaerr", "transports", "internal/xmltree"}},
	{pkg: "component/userloop", stdlibOnly: true},
	{pkg: "component/vcard", stdlibOnly: true},
	// presence reaches mellium's jid only through stanza.In.
	{pkg: "component/presence", allowed: []string{"transports", "component/stanza", "component/stanzaerr", "internal/xmltree"}, imports: []string{}},
	// The chat door: the dialog, its texts, and the core it acts through.
	{pkg: "component/chatdoor", allowed: []string{"transports", "component/stanzaerr", "component/presence", "component/stanza", "internal/xmltree"},
		imports: []string{"mellium.im/xmpp/jid"}},
	// The gateway's ad-hoc commands: their stages, on adhoc's protocol,
	// acting through their core and the chat door.
	{pkg: "component/commands", allowed: []string{"transports", "component/adhoc", "component/chatdoor", "component/regform", "component/stanzaerr", "component/stanza", "component/presence", "internal/xmltree"},
		imports: []string{"mellium.im/xmpp/jid", "mellium.im/xmpp/commands"}},
	// The one-to-one flows: stanzas and the core they act through.
	{pkg: "component/direct", allowed: []string{"transports", "component/stanzaerr", "component/stanza", "internal/xmltree", "internal/bounded"},
		imports: []string{"mellium.im/xmpp/jid"}},
	// Contacts' profiles, the roster, the servers' grants: the stanzas,
	// the vCard, the core they act through; never storage.
	{pkg: "component/contacts", allowed: []string{"transports", "component/stanzaerr", "component/stanza", "component/vcard", "internal/xmltree"},
		imports: []string{"mellium.im/xmpp/jid"}},
	{pkg: "internal/xmltree", stdlibOnly: true},
	// The map that forgets its oldest keys: both sides use it.
	{pkg: "internal/bounded", stdlibOnly: true},
	{pkg: "internal/xmltree/xmltreetest", allowed: []string{"internal/xmltree"}, stdlibOnly: true},
	{pkg: "irc", allowed: []string{"transports", "egress", "internal/bounded"}, forbidden: []string{"mellium.im"}},
	{pkg: "discord", allowed: []string{"transports", "egress", "internal/bounded"}, forbidden: []string{"mellium.im"},
		imports: []string{"github.com/bwmarrin/discordgo", "github.com/gorilla/websocket"}},
	// SMS: the contract, a phone-number library, net/http for the providers.
	{pkg: "sms", allowed: []string{"transports", "egress"}, forbidden: []string{"mellium.im"},
		imports: []string{"github.com/nyaruka/phonenumbers"}},
	// The scripted Twilio of the tests: the standard library only, and
	// not sms itself, so sms's own tests can use it.
	{pkg: "sms/twiliotest", stdlibOnly: true},
	{pkg: "email", allowed: []string{"transports", "egress"}, forbidden: []string{"mellium.im"}},
	// The harness speaks to Spacebar over net/http; only spacebartest
	// (and the tests using it) link discordgo, so the demo and load tools
	// built on testenv do not.
	{pkg: "internal/testenv", allowed: []string{"internal/xmltree"}, forbidden: []string{"github.com/bwmarrin/discordgo"}},
	{pkg: "internal/testenv/spacebartest", allowed: []string{"internal/testenv", "internal/xmltree"},
		imports: []string{"github.com/bwmarrin/discordgo"}},
}

type listed struct {
	ImportPath string
	Deps       []string
	Imports    []string
	Standard   bool
}

func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, r := range rules {
			if rel != r.pkg && !(strings.HasPrefix(rel, r.pkg+"/") && !hasRule(rel)) {
				continue
			}
			checked++
			for _, d := range p.Deps {
				checkDep(t, rel, d, r.allowed, r.stdlibOnly, r.forbidden)
			}
			for _, imp := range p.Imports {
				if r.imports != nil && !strings.HasPrefix(imp, module) && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") &&
					!slices.ContainsFunc(r.imports, func(p string) bool { return imp == p || strings.HasPrefix(imp, p+"/") }) {
					t.Errorf("%s imports %s; it may import only %v outside the standard library and this module", rel, imp, r.imports)
				}
				for _, n := range r.notImported {
					if irel := strings.TrimPrefix(imp, module+"/"); irel == n || strings.HasPrefix(irel, n+"/") {
						t.Errorf("%s imports %s, which it may reach only through the packages that own its data", rel, irel)
					}
				}
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d packages checked; is the rule table stale?", checked)
	}
}

func hasRule(rel string) bool {
	for _, r := range rules {
		if r.pkg == rel {
			return true
		}
	}
	return false
}

func checkDep(t *testing.T, pkg, dep string, allowed []string, stdlibOnly bool, forbidden []string) {
	t.Helper()
	if strings.HasPrefix(dep, module+"/") || dep == module {
		rel := strings.TrimPrefix(dep, module+"/")
		if rel == pkg || strings.HasPrefix(rel, pkg+"/") {
			return
		}
		for _, a := range allowed {
			if rel == a || strings.HasPrefix(rel, a+"/") {
				return
			}
		}
		t.Errorf("%s depends on %s, which DESIGN.md does not allow", pkg, rel)
		return
	}
	first := strings.SplitN(dep, "/", 2)[0]
	isStd := !strings.Contains(first, ".")
	if stdlibOnly && !isStd && !strings.HasPrefix(dep, "vendor/") {
		t.Errorf("%s must use only the standard library, but depends on %s", pkg, dep)
	}
	for _, f := range forbidden {
		if strings.HasPrefix(dep, f) {
			t.Errorf("%s depends on %s, which DESIGN.md forbids it (%s…)", pkg, dep, f)
		}
	}
}
