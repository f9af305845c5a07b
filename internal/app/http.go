package app

import (
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-im/switchboard/component"
)

// Handler serves /healthz (200 when every component is well: its stream
// to the XMPP server is up, or it is a standby that can reach the store
// holding its domain's lease; 503 otherwise, with one line per
// component), /readyz (200 only when this instance holds every domain's
// lease and every stream is up: the instance a load balancer or an admin
// looks for; 503 on a standby), /metrics (Prometheus text format) and the
// networks' webhooks at /hooks/<network>/.
func (a *App) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	// Beside the Go collector's MemStats: the heap the last collection
	// found live and the size at which the next one starts
	// (go_gc_heap_live_bytes, go_gc_heap_goal_bytes), what the process
	// holds apart from the garbage heap_alloc also counts between
	// collections. Compiled here, once per server, not at every start.
	heapLive := collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/(live|goal):bytes$`)}
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(heapLive)), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&statsCollector{components: a.components})
	reg.MustRegister(&leaseCollector{a: a})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		a.writeHealth(w, false)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		a.writeHealth(w, true)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.mountHooks(mux) // hooks.go
	return mux
}

// statsCollector exposes every component's Stats as Prometheus metrics.
type statsCollector struct {
	components []*component.Component
}

type metric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(component.Stats) float64
}

var labels = []string{"network", "domain"}

var metrics = []metric{
	{prometheus.NewDesc("switchboard_stream_up", "1 when the component's stream to the XMPP server is up.", labels, nil), prometheus.GaugeValue,
		func(s component.Stats) float64 {
			if s.Connected {
				return 1
			}
			return 0
		}},
	{prometheus.NewDesc("switchboard_stanzas_in_total", "Stanzas received from the XMPP server.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.StanzasIn) }},
	{prometheus.NewDesc("switchboard_stanzas_out_total", "Stanzas sent to the XMPP server.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.StanzasOut) }},
	{prometheus.NewDesc("switchboard_messages_to_legacy_total", "Messages delivered to the legacy network.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.MessagesToNet) }},
	{prometheus.NewDesc("switchboard_messages_from_legacy_total", "Messages received from the legacy network.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.MessagesFromNet) }},
	{prometheus.NewDesc("switchboard_legacy_errors_total", "Messages the legacy network refused.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.LegacyErrors) }},
	{prometheus.NewDesc("switchboard_stream_connects_total", "Connections made to the XMPP server.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.StreamConnects) }},
	{prometheus.NewDesc("switchboard_dead_letters_total", "Outbox stanzas given up on (moved to the dead-letter record) since start.", labels, nil), prometheus.CounterValue,
		func(s component.Stats) float64 { return float64(s.DeadLetters) }},
	{prometheus.NewDesc("switchboard_online_users", "Users with at least one available resource.", labels, nil), prometheus.GaugeValue,
		func(s component.Stats) float64 { return float64(s.OnlineUsers) }},
	{prometheus.NewDesc("switchboard_legacy_sessions", "Legacy sessions (connected or retrying).", labels, nil), prometheus.GaugeValue,
		func(s component.Stats) float64 { return float64(s.Sessions) }},
	{prometheus.NewDesc("switchboard_legacy_connected", "Legacy sessions that are connected.", labels, nil), prometheus.GaugeValue,
		func(s component.Stats) float64 { return float64(s.ConnectedUsers) }},
	{prometheus.NewDesc("switchboard_outbox_pending", "Stanzas waiting in the outbox for the XMPP stream.", labels, nil), prometheus.GaugeValue,
		func(s component.Stats) float64 { return float64(s.OutboxPending) }},
	{prometheus.NewDesc("switchboard_journal_pending", "Users' messages to the legacy network read and not yet handled (in the inbound journal).", labels, nil), prometheus.GaugeValue,
		func(s component.Stats) float64 { return float64(s.JournalPending) }},
}

func (sc *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range metrics {
		ch <- m.desc
	}
}

func (sc *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range sc.components {
		s := c.Stats()
		for _, m := range metrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s), s.Network, s.Domain)
		}
	}
}
