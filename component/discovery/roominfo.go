package discovery

import "strconv"

// NSRoomInfo is the FORM_TYPE of a room's extended disco#info (XEP-0045
// §6.4, §15.5.4).
const NSRoomInfo = "http://jabber.org/protocol/muc#roominfo"

// Fields of muc#roominfo the gateway fills.
const (
	RoomInfoName        = "muc#roomconfig_roomname"
	RoomInfoDescription = "muc#roominfo_description"
	RoomInfoOccupants   = "muc#roominfo_occupants"
	RoomInfoSubject     = "muc#roominfo_subject"
)

// RoomFacts are what the gateway knows of a legacy room for its
// muc#roominfo form; each zero value means "not known", and its field is
// left out rather than guessed.
type RoomFacts struct {
	// Name is the room's human name: the network's (RoomReadyEvent.Name,
	// a listing's), or the ID where the network says the ID is the name.
	Name string
	// Description is the network's description of the room.
	Description string
	// Subject is the room's topic.
	Subject string
	// Occupants is how many are in the room, counted only while the
	// user is in it (HasOccupants).
	Occupants    int
	HasOccupants bool
}

// RoomInfo is the muc#roominfo form of a room with facts f, nil when the
// gateway knows nothing of it. Fields are in the order XEP-0045 §6.4's
// example shows them.
func RoomInfo(f RoomFacts) *Form {
	form := Form{FormType: NSRoomInfo}
	add := func(v, label, value string) {
		form.Fields = append(form.Fields, Field{Var: v, Label: label, Values: []string{value}})
	}
	if f.Name != "" {
		add(RoomInfoName, "Natural-Language Room Name", f.Name)
	}
	if f.Description != "" {
		add(RoomInfoDescription, "Description", f.Description)
	}
	if f.Subject != "" {
		add(RoomInfoSubject, "Current Discussion Topic", f.Subject)
	}
	if f.HasOccupants {
		add(RoomInfoOccupants, "Number of occupants", strconv.Itoa(f.Occupants))
	}
	if len(form.Fields) == 0 {
		return nil
	}
	return &form
}

// WithRoomInfo returns d with f's muc#roominfo form, if there is any.
func WithRoomInfo(d Info, f RoomFacts) Info {
	if form := RoomInfo(f); form != nil {
		d.Forms = append(d.Forms[:len(d.Forms):len(d.Forms)], *form)
	}
	return d
}
