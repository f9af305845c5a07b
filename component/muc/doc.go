// Package muc is the MUC service side (XEP-0045) that the gateway offers
// for a network's rooms.
//
// Its state and wire vocabulary: the rooms a user's legacy session is in
// (Room, Rooms: occupants, the user's own occupant, the user's joined
// resources and the broadcasts held back while they sync, the subject,
// reactions, the chatter kept while the user is away), the <history/>
// request of a join, the muc#user and muc#admin elements with the role
// and affiliation names, and the stanzas written in rooms. Room methods
// change state and return what changed (a Change, the resources to
// replay, the stanzas to send now); they do no I/O.
//
// Its flows: Service turns a user's room stanzas into legacy calls and
// the network's room events into stanzas — joins and leaves, group chat,
// corrections, retractions and moderation, bouncer mode, the room listing,
// muc#admin and the room archive's XEP-0313 side. It reaches the bridge
// core (the stream and outbox, the user's goroutines, sessions, limits,
// the message-ID map, the archive, files) only through Core, which package
// component implements.
//
// It owns no goroutine and takes no lock on a user's state: a user's rooms
// belong to that user's owner goroutine in the component (see
// component/userloop), which alone calls their methods; Service's methods
// say whether they are owner work or lane work.
package muc
