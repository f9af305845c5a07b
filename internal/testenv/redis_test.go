package testenv

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

// A redis-server that cannot bind its port fails to start with
// errPortTaken, which is what makes LaunchRedis try other ports; its
// cluster bus port is the one written in the config, not port+10000.
func TestRedisPortTaken(t *testing.T) {
	Require(t, "redis-server", "redis-cli")
	held := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		// Another server on the port, which answers PONG to everything.
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("+PONG\r\n"))
				c.Close()
			}
		}()
		return l.Addr().(*net.TCPAddr).Port
	}
	free, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  RedisOptions
		ports []int
	}{
		{"port", RedisOptions{}, []int{held()}},
		{"cluster bus port", RedisOptions{Cluster: true}, []int{free[0], held()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := &Redis{Dir: dir, opts: tc.opts, addr: "127.0.0.1:" + strconv.Itoa(tc.ports[0])}
			if err := r.writeConfig(tc.ports); err != nil {
				t.Fatal(err)
			}
			err := r.Start()
			if err == nil {
				r.Stop()
				t.Fatalf("Start with port(s) %v, one of them taken: no error", tc.ports)
			}
			if !errors.Is(err, errPortTaken) {
				t.Errorf("Start: %v, want %v", err, errPortTaken)
			}
		})
	}
}

// LaunchRedis with Cluster starts a node whose bus port is set, not left
// at port+10000.
func TestLaunchRedisClusterBusPort(t *testing.T) {
	r := StartRedis(t, RedisOptions{Cluster: true})
	out, err := r.Cli("config", "get", "cluster-port")
	if err != nil {
		t.Fatalf("config get cluster-port: %v\n%s", err, out)
	}
	f := strings.Fields(out)
	if len(f) != 2 || f[1] == "0" {
		t.Fatalf("config get cluster-port = %q, want a port", out)
	}
	_, port, _ := net.SplitHostPort(r.Addr())
	p, _ := strconv.Atoi(port)
	if f[1] == strconv.Itoa(p+10000) {
		t.Errorf("cluster-port = %s, port+10000 of %s", f[1], r.Addr())
	}
}
