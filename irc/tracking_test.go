package irc

import (
	"context"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// girc's own user and channel tracker never sees a member: channel lines
// go to the transport's handler only, while girc still negotiates
// capabilities and answers the server's PING.
func TestGircTracksNoMembers(t *testing.T) {
	srv, n := newScripted(t)
	a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	joined := make(chan error, 1)
	go func() { joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me") }()
	srv.register("message-tags server-time")
	srv.expect("JOIN #c")
	srv.send(":me!u@h JOIN #c")
	srv.send(":srv 353 me = #c :me @bob +carol")
	srv.send(":srv 366 me #c :End")
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	srv.send(":dave!d@h JOIN #c")
	srv.send(":bob!b@h MODE #c +v dave")
	srv.send(":carol!c@h NICK carla")
	srv.send("PING :check")
	if l := srv.expect("PONG"); l != "PONG :check" && l != "PONG check" {
		t.Fatalf("girc answered %q", l)
	}

	c := a.(*adapter).conns["irc.test"]
	c.mu.Lock()
	cl := c.client
	var members []string
	for _, m := range c.channels["#c"].sub.members() {
		members = append(members, m.nick+"/"+m.prefixes)
	}
	c.mu.Unlock()
	if len(members) != 4 {
		t.Fatalf("the transport's members = %v, want me, bob, carla, dave", members)
	}
	if !cl.HasCapability("message-tags") {
		t.Error("girc did not negotiate message-tags")
	}
	if users, chans := cl.UserList(), cl.ChannelList(); len(users) != 0 || len(chans) != 0 {
		t.Fatalf("girc tracks users %v and channels %v", users, chans)
	}
}
