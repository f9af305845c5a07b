package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// freeLoopbackAddr returns a loopback address with a port free now, for
// one of the gateway's HTTP listeners.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("a free port for pprof: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// saveProfiles fetches the gateway's heap profile (after a collection)
// and goroutine profile from its pprof endpoint at addr and writes them
// to dir as GATEWAY-heap-LABEL.pb.gz and GATEWAY-goroutine-LABEL.pb.gz
// (LABEL: the users joined, or "warm" after the warm-up), for
// `go tool pprof`, and the heap profile's text form with the runtime's
// MemStats as GATEWAY-heap-LABEL.txt.
func saveProfiles(ctx context.Context, addr, dir, gateway, label string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range []struct{ name, query, ext string }{
		{"heap", "gc=1", "pb.gz"},
		{"goroutine", "", "pb.gz"},
		// The text form ends with the runtime's MemStats: heap in use,
		// stacks, what the collector keeps and what was returned.
		{"heap", "debug=1", "txt"},
	} {
		file := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.%s", gateway, p.name, label, p.ext))
		if err := fetchTo(ctx, "http://"+addr+"/debug/pprof/"+p.name+"?"+p.query, file); err != nil {
			return fmt.Errorf("%s profile: %w", p.name, err)
		}
		logf("%s profile: %s", p.name, file)
	}
	return nil
}

func fetchTo(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
