package muc

// With a room archive (package archive), what is said while the user is
// away is archived, not kept in the room's Away backlog: the room only
// counts it, so that the next join can tell how much of it the archive's
// bound let go.

// ArchivedAway counts one message archived while no resource is in the
// room.
func (r *Room) ArchivedAway() { r.archivedAway++ }

// TakeArchivedAway returns how many messages were archived while no
// resource was in the room, and starts counting again from zero.
func (r *Room) TakeArchivedAway() int {
	n := r.archivedAway
	r.archivedAway = 0
	return n
}
