// Package muc is the state and wire vocabulary of the MUC service side
// (XEP-0045) that the component offers for a network's rooms: the rooms a
// user's legacy session is in (Room, Rooms: occupants, the user's own
// occupant, the user's joined resources and the broadcasts held back
// while they sync, the subject, reactions, the chatter kept while the
// user is away), the <history/> request of a join, and the muc#user and
// muc#admin elements with the role and affiliation names.
//
// It owns no goroutine and takes no lock: a user's rooms belong to that
// user's owner goroutine in the component (see component/userloop), which
// alone calls their methods. Methods change state and return what changed
// (a Change, the resources to replay, the stanzas to send now); the
// component builds and sends the stanzas. Nothing here does I/O.
package muc
