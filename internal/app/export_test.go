package app

import (
	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
)

// DomainState is what New handed components[i] to keep its state in.
type DomainState struct {
	Registry *registry.Registry
	IDs      *msgid.Map
	State    *netstate.Store
	Archive  *archive.Archive
	Journal  *journal.Journal
}

// HoldDomain makes the writes of components[i]'s state carry l, as Run
// does when this instance takes the domain's lease, with lost called
// for a write fenced off; it returns that state.
func HoldDomain(a *App, i int, l storage.Lease, lost func(error)) DomainState {
	d := a.domains[i]
	d.st.hold(l, lost)
	return DomainState{Registry: d.reg, IDs: d.ids, State: d.state, Archive: d.archive, Journal: d.journal}
}
