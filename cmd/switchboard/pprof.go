//go:build pprof

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// profiling serves net/http/pprof on SWITCHBOARD_PPROF (a loopback
// address, e.g. 127.0.0.1:6060) until ctx ends. It exists only in a
// binary built with -tags pprof (the load tool's -profile builds one):
// a release build has no profiling endpoint at all. It returns a
// function that waits for the server to end.
func profiling(ctx context.Context, stderr io.Writer) (wait func(), err error) {
	addr := os.Getenv("SWITCHBOARD_PPROF")
	if addr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_PPROF: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("SWITCHBOARD_PPROF: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_PPROF: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "switchboard: pprof:", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	fmt.Fprintln(stderr, "switchboard: pprof on", ln.Addr())
	return func() {
		stop()
		srv.Close()
		<-done
	}, nil
}
