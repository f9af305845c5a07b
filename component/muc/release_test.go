package muc

import (
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// TestRoomsReleasedWhenEmpty: the set's storage is released with its
// last room, and the set takes rooms again afterwards.
func TestRoomsReleasedWhenEmpty(t *testing.T) {
	u := NewRooms()
	rooms := []*Room{NewRoom("#c", roomJID, nil, "me"), NewRoom("#a", roomJID, nil, "me"), NewRoom("#b", roomJID, nil, "me")}
	for round := range 2 {
		for _, r := range rooms {
			u.Put(r)
		}
		if all := u.All(); len(all) != 3 || all[0].ID != "#a" || all[1].ID != "#b" || all[2].ID != "#c" {
			t.Fatalf("round %d: All = %v, want #a #b #c", round, all)
		}
		for _, r := range rooms {
			if !u.Remove(r) {
				t.Fatalf("round %d: Remove(%s) = false", round, r.ID)
			}
		}
		if u.rooms != nil || !u.Idle() {
			t.Errorf("round %d: after the last room: rooms %v (want nil), idle %v", round, u.rooms, u.Idle())
		}
	}
}

// TestRoomResourcesReleasedWhenEmpty: a room's resources are released
// with the last one that leaves; a resource joining again under the same
// resourcepart replaces the one there.
func TestRoomResourcesReleasedWhenEmpty(t *testing.T) {
	r := newTestRoom("me")
	full := func(res string) jid.JID { return jid.MustParse("me@example.org/" + res) }
	for round := range 2 {
		first := r.Join(full("phone"), "me", NoHistory)
		r.Join(full("laptop"), "me", NoHistory)
		again := r.Join(full("phone"), "me2", NoHistory)
		if got := r.Resources(); len(got) != 2 || r.Resource("phone") != again || again == first {
			t.Fatalf("round %d: resources %v, phone %p (want the second join's %p)", round, got, r.Resource("phone"), again)
		}
		if rr, empty := r.Leave("laptop"); rr == nil || empty {
			t.Fatalf("round %d: Leave(laptop) = %v, %v", round, rr, empty)
		}
		if rr, empty := r.Leave("phone"); rr != again || !empty {
			t.Fatalf("round %d: Leave(phone) = %v, %v", round, rr, empty)
		}
		if r.res != nil || !r.Empty() || r.Resource("phone") != nil {
			t.Errorf("round %d: after the last resource: res %v (want nil)", round, r.res)
		}
	}
}

// TestSubjectSeenAskedBeforeSubject: a goroutine that asked for
// SubjectSeen before the first subject is woken by it; one asking after
// finds it closed.
func TestSubjectSeenAskedBeforeSubject(t *testing.T) {
	r := newTestRoom("me")
	woken := make(chan struct{})
	asked := make(chan struct{})
	go func() {
		seen := r.SubjectSeen()
		close(asked)
		<-seen
		close(woken)
	}()
	<-asked
	if r.SawSubject() {
		t.Fatal("subject seen before any")
	}
	r.SetSubject(transports.SubjectEvent{Room: "#chan", Subject: "topic"})
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter was not woken by the first subject")
	}
	select {
	case <-r.SubjectSeen():
	default:
		t.Error("SubjectSeen asked after the subject is not closed")
	}
	if got := r.Subject().Subject; got != "topic" {
		t.Errorf("Subject = %q", got)
	}
}

// TestAwayReleasedWhenTaken: the away backlog exists only while messages
// are kept: taking it releases it, and the next message starts a new one.
func TestAwayReleasedWhenTaken(t *testing.T) {
	r := newTestRoom("me")
	if empty := r.TakeAway(); r.away != nil || len(empty.Since(time.Time{}, 0)) != 0 {
		t.Fatal("a new room keeps an away backlog")
	}
	for round := range 2 {
		r.KeepAway(transports.MessageEvent{RemoteID: "1", Body: "hi"})
		taken := r.TakeAway()
		if got := taken.Since(time.Time{}, 0); len(got) != 1 || got[0].RemoteID != "1" {
			t.Errorf("round %d: taken %v", round, got)
		}
		if r.away != nil {
			t.Errorf("round %d: backlog kept after it was taken", round)
		}
	}
}
