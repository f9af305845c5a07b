package app

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// writeHealth answers /healthz (ready false) or /readyz (ready true) with
// one line per component, from what the components and the elections know
// already: no I/O.
//
//	irc.example.org connected token 7          the holder, stream up
//	irc.example.org disconnected token 7       the holder, stream down
//	irc.example.org standby                    waiting for the lease
//	irc.example.org standby: <error>           waiting, but the store fails
//
// A standby is healthy (it can take over) but not ready (it serves no
// stream).
func (a *App) writeHealth(w http.ResponseWriter, ready bool) {
	status := http.StatusOK
	body := ""
	for i, c := range a.components {
		st := a.held[i].Status()
		var line string
		ok := false
		switch {
		case st.Holder && c.Stats().Connected:
			line, ok = fmt.Sprintf("connected token %d", st.Lease.Token), true
		case st.Holder:
			line = fmt.Sprintf("disconnected token %d", st.Lease.Token)
		case !a.held[i].Shared():
			line = "disconnected" // not started yet, or stopped
		case st.Err != nil:
			line = "standby: " + st.Err.Error()
		default:
			line, ok = "standby", !ready
		}
		if !ok {
			status = http.StatusServiceUnavailable
		}
		body += fmt.Sprintf("%s %s\n", c.Domain(), line)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// leaseCollector exposes each domain's election as Prometheus metrics.
type leaseCollector struct{ a *App }

var (
	leaseHolder = prometheus.NewDesc("switchboard_lease_holder",
		"1 while this instance holds the domain's lease (and runs its component), 0 on a standby.", labels, nil)
	leaseToken = prometheus.NewDesc("switchboard_lease_token",
		"The fencing token of this instance's current or last holding of the domain's lease (0: never held).", labels, nil)
	leaseAcquired = prometheus.NewDesc("switchboard_lease_acquired_total",
		"Holdings of the domain's lease this instance has taken (a takeover, or the first start).", labels, nil)
)

func (lc *leaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- leaseHolder
	ch <- leaseToken
	ch <- leaseAcquired
}

func (lc *leaseCollector) Collect(ch chan<- prometheus.Metric) {
	for i, c := range lc.a.components {
		st := lc.a.held[i].Status()
		net, dom := c.Network().Name(), c.Domain().String()
		holder := 0.0
		if st.Holder {
			holder = 1
		}
		ch <- prometheus.MustNewConstMetric(leaseHolder, prometheus.GaugeValue, holder, net, dom)
		ch <- prometheus.MustNewConstMetric(leaseToken, prometheus.GaugeValue, float64(st.Lease.Token), net, dom)
		ch <- prometheus.MustNewConstMetric(leaseAcquired, prometheus.CounterValue, float64(st.Acquired), net, dom)
	}
}
