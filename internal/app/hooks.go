package app

import (
	"net/http"
	"time"
)

// Timeouts of the HTTP listener: a webhook provider, a scraper or a
// health check gets this long to send its request and read the answer;
// a slow or stalled client cannot hold a connection longer.
const (
	httpReadTimeout  = 30 * time.Second
	httpWriteTimeout = 60 * time.Second
	httpIdleTimeout  = 2 * time.Minute
)

// mountHooks serves each network's webhook handler (transports.HookNetwork,
// for networks that claim Capabilities.Webhooks) at /hooks/<network>/,
// with the prefix stripped and request bodies capped at [http]
// max_body_bytes (reading more fails with *http.MaxBytesError).
func (a *App) mountHooks(mux *http.ServeMux) {
	max := a.opts.Config.HTTP.MaxBodyBytes
	for _, c := range a.components {
		h := c.HTTPHandler()
		if h == nil {
			continue
		}
		name := c.Network().Name()
		mux.Handle("/hooks/"+name+"/", http.StripPrefix("/hooks/"+name, http.MaxBytesHandler(h, max)))
	}
}
