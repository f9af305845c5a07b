package component_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/disco/info"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/internal/testenv"
)

// answerInfo reads a disco#info result back into a discovery.Info.
func answerInfo(t *testing.T, res *testenv.Element) discovery.Info {
	t.Helper()
	q := res.Find(qDiscoInfo)
	if res.Attr("type") != "result" || q == nil {
		t.Fatalf("disco#info: %s", res)
	}
	d := discovery.Info{Node: q.Attr("node")}
	for _, el := range q.ChildrenNamed(nsDiscoInfo, "identity") {
		d.Identities = append(d.Identities, info.Identity{
			Category: el.Attr("category"), Type: el.Attr("type"), Name: el.Attr("name"), Lang: el.Attr("lang"),
		})
	}
	for _, el := range q.ChildrenNamed(nsDiscoInfo, "feature") {
		d.Features = append(d.Features, info.Feature{Var: el.Attr("var")})
	}
	return d
}

// TestCapsNameTheDiscoInfo: the gateway's presence carries XEP-0115 caps
// whose verification string is the one of the disco#info the gateway
// answers, with and without the caps node; a stale node is unknown.
func TestCapsNameTheDiscoInfo(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)

	p := c.Expect(t, "the gateway's presence with caps", func(el *testenv.Element) bool {
		return isPresence(gw, "")(el) && el.Child("http://jabber.org/protocol/caps", "c") != nil
	})
	caps := p.Child("http://jabber.org/protocol/caps", "c")
	ver := caps.Attr("ver")
	if caps.Attr("hash") != "sha-1" || caps.Attr("node") != discovery.CapsNode || ver == "" {
		t.Fatalf("caps: %s", caps)
	}

	plain := answerInfo(t, c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="`+nsDiscoInfo+`"/></iq>`))
	atNode := answerInfo(t, c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="`+nsDiscoInfo+`" node="`+discovery.CapsNode+`#`+ver+`"/></iq>`))
	if plain.Node != "" || atNode.Node != discovery.CapsNode+"#"+ver {
		t.Errorf("nodes %q and %q, want none and the caps node", plain.Node, atNode.Node)
	}
	if len(plain.Identities) != 2 || !slices.Contains(plain.Features, info.Feature{Var: "http://jabber.org/protocol/muc"}) {
		t.Errorf("a network with rooms: identities %v, features %v", plain.Identities, plain.Features)
	}
	if !slices.Equal(plain.Identities, atNode.Identities) || !slices.Equal(plain.Features, atNode.Features) {
		t.Errorf("the caps node answers %v, without a node %v", atNode, plain)
	}
	if got := plain.Ver(); got != ver {
		t.Errorf("the disco#info answered hashes to %q, the presence says %q", got, ver)
	}

	res := c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="`+nsDiscoInfo+`" node="`+discovery.CapsNode+`#stale"/></iq>`)
	wantError(t, res, "item-not-found", "")
}

// TestUploadServiceFoundByDiscovery: the gateway finds its server's upload
// service among the server's disco#items by its feature, and reads the
// size limit from the service's XEP-0128 form (Prosody's
// http_file_share_size_limit, 10 MiB by default).
func TestUploadServiceFoundByDiscovery(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, limit, err := component.UploadService(ctx, e.comp, "localhost")
	if err != nil || svc != "upload.localhost" || limit != 10<<20 {
		t.Errorf("upload service %q with limit %d, %v; want upload.localhost with 10 MiB", svc, limit, err)
	}
}
