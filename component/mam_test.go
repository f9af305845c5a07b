package component_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// Names the archive tests look for.
const (
	nsMAM         = "urn:xmpp:mam:2"
	nsMAMExtended = "urn:xmpp:mam:2#extended"
	nsForward     = "urn:xmpp:forward:0"
	nsRSM         = "http://jabber.org/protocol/rsm"
)

// mamResult is one archived message as a query returned it.
type mamResult struct {
	id, from, body, stamp string
	// replace and retract are the ids a correction (XEP-0308) or a
	// retraction (XEP-0424) names, "" for a message.
	replace, retract string
}

// mamQuery sends an archive query with inner (form, set, flip-page) to
// room and returns the results of queryid, in the order received, and the
// IQ answer.
func mamQuery(t *testing.T, c *testenv.Client, room, queryID, inner string) ([]mamResult, *testenv.Element) {
	t.Helper()
	res := c.IQ(t, `<iq type="set" to="`+room+`"><query xmlns="`+nsMAM+`" queryid="`+queryID+`">`+inner+`</query></iq>`)
	var out []mamResult
	for {
		// The results came before the answer: they are in the inbox.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		el, err := c.Next(ctx, func(el *testenv.Element) bool {
			r := el.Child(nsMAM, "result")
			return isStanza(el, "message") && r != nil && r.Attr("queryid") == queryID
		})
		cancel()
		if err != nil {
			return out, res
		}
		if el.Attr("from") != room {
			t.Errorf("result from %q, want the room %s", el.Attr("from"), room)
		}
		r := el.Child(nsMAM, "result")
		fwd := r.Child(nsForward, "forwarded")
		m := fwd.Child("jabber:client", "message")
		d := fwd.Child("urn:xmpp:delay", "delay")
		if m == nil || d == nil {
			t.Fatalf("result without a forwarded message and its delay: %s", el)
		}
		if m.Attr("type") != "groupchat" || m.Attr("to") != "" {
			t.Errorf("forwarded message type %q to %q, want groupchat without to: %s", m.Attr("type"), m.Attr("to"), m)
		}
		mr := mamResult{id: r.Attr("id"), from: m.Attr("from"), body: m.ChildText("jabber:client", "body"), stamp: d.Attr("stamp")}
		if rep := m.Child("urn:xmpp:message-correct:0", "replace"); rep != nil {
			mr.replace = rep.Attr("id")
		}
		if ret := m.Child("urn:xmpp:message-retract:1", "retract"); ret != nil {
			mr.retract = ret.Attr("id")
		}
		out = append(out, mr)
	}
}

// finOf checks that res is a result with a <fin/> and returns it.
func finOf(t *testing.T, res *testenv.Element) *testenv.Element {
	t.Helper()
	fin := res.Child(nsMAM, "fin")
	if res.Attr("type") != "result" || fin == nil {
		t.Fatalf("want a result with <fin/>, got %s", res)
	}
	return fin
}

func idsOf(rs []mamResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.id
	}
	return out
}

func ms(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint("m", i))
	}
	return out
}

func rsm(inner string) string { return `<set xmlns="` + nsRSM + `">` + inner + `</set>` }

func mamForm(fields string) string {
	return `<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>` + nsMAM + `</value></field>` + fields + `</x>`
}

func field(name, value string) string {
	return `<field var="` + name + `"><value>` + value + `</value></field>`
}

// TestMAMDiscoFollowsArchive: the room and the MUC service advertise MAM
// only when the component has an archive.
func TestMAMDiscoFollowsArchive(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("archive=", on), func(t *testing.T) {
			o := envOptions{rooms: true, prosody: p}
			if on {
				o.archive = &archive.Bounds{}
			}
			e := newEnv(t, o)
			c := e.user(t, "disco"+strconv.FormatBool(on), "pc", 0)
			for _, to := range []string{gw, testRoom} {
				fs := features(t, c, to)
				for _, ns := range []string{nsMAM, nsMAMExtended} {
					if slices.Contains(fs, ns) != on {
						t.Errorf("%s advertises %s: %v, want %v (%v)", to, ns, !on, on, fs)
					}
				}
			}
			// A query to a room is not served without an archive.
			if !on {
				res := c.IQ(t, `<iq type="set" to="`+testRoom+`"><query xmlns="`+nsMAM+`"/></iq>`)
				wantError(t, res, "service-unavailable", "")
			}
		})
	}
}

// TestMAMQuery: what the user's session received in a room is served from
// the archive, paged with RSM, filtered by the form, in archive order,
// with the XEP-0313 wrapping; errors as XEP-0313 asks.
func TestMAMQuery(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, archive: &archive.Bounds{}})
	c, a := roomUser(t, e, "mona")
	joinAndSync(t, c, testRoom, "mona")
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range 10 {
		nick := "bob"
		if i%2 == 1 {
			nick = "carol"
		}
		a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: nick, Body: fmt.Sprint("line ", i),
			RemoteID: transports.RemoteID(fmt.Sprint("m", i)), Time: t0.Add(time.Duration(i) * time.Minute)})
	}
	for i := range 10 {
		c.Expect(t, fmt.Sprint("live line ", i), isGroupchat(testRoom+"/"+[]string{"bob", "carol"}[i%2], fmt.Sprint("line ", i)))
	}

	t.Run("all", func(t *testing.T) {
		rs, res := mamQuery(t, c, testRoom, "all", "")
		if got := idsOf(rs); !slices.Equal(got, ms(0, 10)) {
			t.Fatalf("results %v, want m0…m9", got)
		}
		for i, r := range rs {
			nick := []string{"bob", "carol"}[i%2]
			stamp, err := time.Parse(time.RFC3339, r.stamp)
			if r.from != testRoom+"/"+nick || r.body != fmt.Sprint("line ", i) || err != nil || !stamp.Equal(t0.Add(time.Duration(i)*time.Minute)) {
				t.Errorf("result %d = %+v", i, r)
			}
		}
		fin := finOf(t, res)
		set := fin.Child(nsRSM, "set")
		if fin.Attr("complete") != "true" || set.ChildText("", "first") != "m0" || set.ChildText("", "last") != "m9" || set.ChildText("", "count") != "10" {
			t.Errorf("fin %s", fin)
		}
	})

	pages := []struct {
		name, inner string
		want        []string
		complete    string
	}{
		{"first page", rsm(`<max>3</max>`), ms(0, 3), "false"},
		{"after", rsm(`<max>3</max><after>m2</after>`), ms(3, 6), "false"},
		{"after, last page", rsm(`<max>3</max><after>m6</after>`), ms(7, 10), "true"},
		{"last page", rsm(`<max>3</max><before/>`), ms(7, 10), "false"},
		{"before", rsm(`<max>3</max><before>m7</before>`), ms(4, 7), "false"},
		{"before, first page", rsm(`<max>3</max><before>m2</before>`), ms(0, 2), "true"},
		{"start", mamForm(field("start", t0.Add(7*time.Minute).Format(time.RFC3339))), ms(7, 10), "true"},
		{"end", mamForm(field("end", t0.Add(90*time.Second).Format(time.RFC3339))), ms(0, 2), "true"},
		{"start and end, paged", mamForm(field("start", t0.Add(2*time.Minute).Format(time.RFC3339))+field("end", t0.Add(6*time.Minute).Format(time.RFC3339))) + rsm(`<max>2</max><before/>`), ms(5, 7), "false"},
		{"with an occupant", mamForm(field("with", testRoom+"/carol")), []string{"m1", "m3", "m5", "m7", "m9"}, "true"},
		{"with the room", mamForm(field("with", testRoom)) + rsm(`<max>1</max>`), ms(0, 1), "false"},
		{"with someone else", mamForm(field("with", "mona@localhost")), nil, "true"},
		{"after-id and before-id", mamForm(field("after-id", "m3") + field("before-id", "m6")), ms(4, 6), "true"},
		{"ids", mamForm(`<field var="ids"><value>m8</value><value>m1</value></field>`), []string{"m1", "m8"}, "true"},
		{"flipped", rsm(`<max>3</max><before/>`) + `<flip-page/>`, []string{"m9", "m8", "m7"}, "false"},
	}
	for i, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			rs, res := mamQuery(t, c, testRoom, fmt.Sprint("p", i), p.inner)
			if got := idsOf(rs); !slices.Equal(got, p.want) {
				t.Errorf("results %v, want %v", got, p.want)
			}
			if fin := finOf(t, res); fin.Attr("complete") != p.complete {
				t.Errorf("complete=%q, want %q: %s", fin.Attr("complete"), p.complete, fin)
			}
		})
	}

	errs := []struct {
		name, inner, cond string
	}{
		{"after an unknown ID", rsm(`<after>nope</after>`), "item-not-found"},
		{"before an unknown ID", rsm(`<before>nope</before>`), "item-not-found"},
		{"unknown ids", mamForm(field("ids", "nope")), "item-not-found"},
		{"unknown field", mamForm(field("fulltext", "x")), "feature-not-implemented"},
		{"bad time", mamForm(field("start", "yesterday")), "bad-request"},
		{"bad max", rsm(`<max>-1</max>`), "bad-request"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			rs, res := mamQuery(t, c, testRoom, "e", tt.inner)
			wantError(t, res, tt.cond, "")
			if len(rs) != 0 {
				t.Errorf("results sent with an error: %v", rs)
			}
		})
	}

	t.Run("form", func(t *testing.T) {
		res := c.IQ(t, `<iq type="get" to="`+testRoom+`"><query xmlns="`+nsMAM+`"/></iq>`)
		x := res.Find("{"+nsMAM+"}query", xData)
		if x == nil {
			t.Fatalf("no form: %s", res)
		}
		var vars []string
		for _, f := range x.ChildrenNamed("", "field") {
			vars = append(vars, f.Attr("var"))
		}
		for _, want := range []string{"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"} {
			if !slices.Contains(vars, want) {
				t.Errorf("form fields %v lack %s", vars, want)
			}
		}
	})

	t.Run("metadata", func(t *testing.T) {
		res := c.IQ(t, `<iq type="get" to="`+testRoom+`"><metadata xmlns="`+nsMAM+`"/></iq>`)
		md := res.Child(nsMAM, "metadata")
		if md == nil || md.Child("", "start").Attr("id") != "m0" || md.Child("", "end").Attr("id") != "m9" {
			t.Errorf("metadata %s", res)
		}
	})

	// A user whose session is not in the room may not read an archive
	// there.
	t.Run("not in the room", func(t *testing.T) {
		other, _ := roomUser(t, e, "otto")
		_, res := mamQuery(t, other, testRoom, "x", "")
		wantError(t, res, "forbidden", "")
	})
}

// TestMAMOwnMessages: the user's own messages are archived once, under
// their stanza-id, with their origin-id.
func TestMAMOwnMessages(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, archive: &archive.Bounds{}})
	c, _ := roomUser(t, e, "olga")
	joinAndSync(t, c, testRoom, "olga")
	c.Send(t, `<message type="groupchat" to="`+testRoom+`" id="own1"><body>hello room</body></message>`)
	echo := c.Expect(t, "the echo", isGroupchat(testRoom+"/olga", "hello room"))
	sid := echo.Child("urn:xmpp:sid:0", "stanza-id")
	if sid == nil {
		t.Fatalf("echo without stanza-id: %s", echo)
	}
	rs, res := mamQuery(t, c, testRoom, "own", "")
	finOf(t, res)
	if len(rs) != 1 || rs[0].id != sid.Attr("id") || rs[0].from != testRoom+"/olga" || rs[0].body != "hello room" {
		t.Fatalf("archive %+v, want the echo once under stanza-id %s", rs, sid.Attr("id"))
	}
}

// TestMAMAfterAway: in bouncer mode, what was said while the user was away
// is archived; after rejoining, the join history (the network has none)
// comes from the archive with the count of what its bound let go, and a
// MAM query pages through what is kept.
func TestMAMAfterAway(t *testing.T) {
	const keep = 30
	e := newEnv(t, envOptions{rooms: true, archive: &archive.Bounds{MaxPerRoom: keep}})
	e.net.SeedRoom("#quiet", transportstest.RoomSeed{NoHistory: true})
	const room = "#quiet@" + gw
	j := e.p.CreateUser(t, "abby", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "abby@localhost")
	if err := e.reg.SetSettings(context.Background(), "abby@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, room, "abby")
	a.Emit(&transports.MessageEvent{From: "#quiet", Room: true, Nick: "bob", Body: "before you left", RemoteID: "b0"})
	c.Expect(t, "live message", isGroupchat(room+"/bob", "before you left"))
	c.Close()
	time.Sleep(3 * time.Second) // the grace period after the last resource left
	if !a.Joined("#quiet") {
		t.Fatalf("bouncer mode: the room was left\n%s", e.logs)
	}
	const sent = keep + 5
	for i := range sent {
		a.Emit(&transports.MessageEvent{From: "#quiet", Room: true, Nick: "bob", Body: fmt.Sprintf("line %d", i), RemoteID: transports.RemoteID(fmt.Sprint("q", i))})
	}

	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	join(t, c2, room, "abby", `<history maxstanzas="3"/>`)
	c2.Expect(t, "self-presence", isSelfPresence(room+"/abby"))
	note := c2.Expect(t, "the count of what was not kept", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("from") == room && strings.Contains(bodyOf(el), "not kept")
	})
	if !strings.HasPrefix(bodyOf(note), "5 earlier messages") || !strings.Contains(bodyOf(note), fmt.Sprint("the last ", keep)) {
		t.Errorf("note %q, want it to count 5 messages of a bound of %d", bodyOf(note), keep)
	}
	for i := sent - 3; i < sent; i++ {
		m := c2.Expect(t, fmt.Sprint("history line ", i), isGroupchat(room+"/bob", fmt.Sprint("line ", i)))
		if d := m.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("stamp") == "" {
			t.Errorf("history line %d without a delay stamp: %s", i, m)
		}
		if sid := m.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Attr("id") != fmt.Sprint("q", i) {
			t.Errorf("history line %d without its stanza-id: %s", i, m)
		}
	}
	c2.Expect(t, "subject", isSubject(room))
	c2.ExpectNone(t, 300*time.Millisecond, isGroupchat(room+"/bob", fmt.Sprint("line ", sent-4)))

	// Catching up: everything kept, in pages, from the last one back.
	var got []string
	before := ""
	for range 10 {
		rs, res := mamQuery(t, c2, room, "up", rsm(`<max>10</max><before>`+before+`</before>`))
		got = append(idsOf(rs), got...)
		if finOf(t, res).Attr("complete") == "true" {
			break
		}
		before = rs[0].id
	}
	var want []string
	for i := sent - keep; i < sent; i++ {
		want = append(want, fmt.Sprint("q", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("caught up with %v, want %v", got, want)
	}

	// A second resource's join shows the archive again, without the note:
	// nothing more was said while away.
	c3 := e.p.Login(t, j, "xmpp-pw", "phone", 0)
	join(t, c3, room, "abby", `<history maxstanzas="1"/>`)
	c3.Expect(t, "history", isGroupchat(room+"/bob", fmt.Sprint("line ", sent-1)))
	c3.Expect(t, "subject", isSubject(room))
	if n := len(slices.DeleteFunc(c3.Pending(), func(el *testenv.Element) bool { return !strings.Contains(bodyOf(el), "not kept") })); n != 0 {
		t.Errorf("second join got the note again")
	}
}

// TestMAMStanzaIDWithoutLegacyID: a message the network gave no ID gets
// the archive's, as its stanza-id live and as its result ID in the
// archive, so that clients match the two.
func TestMAMStanzaIDWithoutLegacyID(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, archive: &archive.Bounds{}})
	c, a := roomUser(t, e, "nina")
	joinAndSync(t, c, testRoom, "nina")
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "no id here"})
	live := c.Expect(t, "the live message", isGroupchat(testRoom+"/bob", "no id here"))
	sid := live.Child("urn:xmpp:sid:0", "stanza-id")
	if sid == nil || sid.Attr("id") == "" || sid.Attr("by") != testRoom {
		t.Fatalf("live message without the archive's stanza-id: %s", live)
	}
	rs, res := mamQuery(t, c, testRoom, "n", "")
	finOf(t, res)
	if len(rs) != 1 || rs[0].id != sid.Attr("id") || rs[0].body != "no id here" {
		t.Errorf("archive %+v, want one result with ID %s", rs, sid.Attr("id"))
	}
}

// TestMAMAwayEditShown: with the archive, an edit made while the user was
// away (kept as a marked note, see edits.go) is still shown in the join
// history, after the archived message it corrects; a MAM query returns
// the messages with the correction and the retraction made meanwhile,
// in order, each with its own archive ID, as Prosody's MUC archive does.
func TestMAMAwayEditShown(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, archive: &archive.Bounds{}})
	e.net.SeedRoom("#quiet", transportstest.RoomSeed{NoHistory: true})
	const room = "#quiet@" + gw
	j := e.p.CreateUser(t, "edie", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "edie@localhost")
	if err := e.reg.SetSettings(context.Background(), "edie@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, room, "edie")
	c.Close()
	time.Sleep(3 * time.Second) // the grace period after the last resource left
	a.Emit(&transports.MessageEvent{From: "#quiet", Room: true, Nick: "bob", Body: "teh typo", RemoteID: "t1"})
	time.Sleep(10 * time.Millisecond) // the note is later than the message
	a.Emit(&transports.EditEvent{From: "#quiet", Room: true, Nick: "bob", Target: "t1", Body: "the typo"})
	a.Emit(&transports.MessageEvent{From: "#quiet", Room: true, Nick: "carol", Body: "spam", RemoteID: "t2"})
	a.Emit(&transports.RetractEvent{From: "#quiet", Room: true, Nick: "carol", Target: "t2"})

	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	join(t, c2, room, "edie", "")
	c2.Expect(t, "self-presence", isSelfPresence(room+"/edie"))
	c2.Expect(t, "the archived message", isGroupchat(room+"/bob", "teh typo"))
	note := c2.Expect(t, "the edit's note", isGroupchat(room+"/bob", "✎ the typo"))
	if d := note.Child("urn:xmpp:delay", "delay"); d == nil {
		t.Errorf("the note is history without a delay: %s", note)
	}
	c2.Expect(t, "subject", isSubject(room))
	// The archived correction is not history a second time.
	for _, el := range c2.Pending() {
		if isGroupchat(room+"/bob", "the typo")(el) {
			t.Errorf("the archived correction shown as history: %s", el)
		}
	}

	rs, res := mamQuery(t, c2, room, "edits", "")
	finOf(t, res)
	want := []mamResult{
		{id: "t1", from: room + "/bob", body: "teh typo"},
		{from: room + "/bob", body: "the typo", replace: "t1"},
		{id: "t2", from: room + "/carol", body: "spam"},
		{from: room + "/carol", body: "[deleted a message; your client does not support retractions]", retract: "t2"},
	}
	if len(rs) != len(want) {
		t.Fatalf("archive %+v, want %d results", rs, len(want))
	}
	for i, r := range rs {
		if r.id == "" || want[i].id != "" && r.id != want[i].id {
			t.Errorf("result %d: ID %q, want %q", i, r.id, want[i].id)
		}
		r.id, r.stamp = want[i].id, ""
		if r != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, r, want[i])
		}
	}
}
