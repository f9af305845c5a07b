// Command switchboard runs Switchboard's XMPP gateways: one external
// component (XEP-0114) per network enabled in the configuration file.
//
// Usage:
//
//	switchboard run --config switchboard.toml
//	switchboard check-config --config switchboard.toml
//	switchboard status --config switchboard.toml
//	switchboard version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  switchboard run --config FILE           run the gateways
  switchboard check-config --config FILE  check a configuration file
  switchboard status --config FILE        show which instance holds each domain (Redis)
  switchboard version                     print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "switchboard", version())
		return 0
	case "check-config":
		cfg, code := loadConfig(args[1:], stderr)
		if cfg == nil {
			return code
		}
		fmt.Fprintln(stdout, "configuration OK")
		return 0
	case "run":
		cfg, code := loadConfig(args[1:], stderr)
		if cfg == nil {
			return code
		}
		log := app.NewLogger(cfg.Log, stderr)
		a, err := app.New(app.Options{Config: cfg, Logger: log, Version: version()})
		if err != nil {
			fmt.Fprintln(stderr, "switchboard:", err)
			return 1
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		waitProfiling, err := profiling(ctx, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "switchboard:", err)
			return 1
		}
		defer waitProfiling()
		log.Info("starting", "version", version(), "http", a.HTTPAddr())
		if err := a.Run(ctx); err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
		return 0
	case "status":
		cfg, code := loadConfig(args[1:], stderr)
		if cfg == nil {
			return code
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Status(ctx, cfg, stdout, time.Now()); err != nil {
			fmt.Fprintln(stderr, "switchboard:", err)
			return 1
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n%s", args[0], usage)
	return 2
}

// loadConfig parses --config FILE; on failure it prints why and returns
// the exit code.
func loadConfig(args []string, stderr io.Writer) (*config.Config, int) {
	fs := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "switchboard.toml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return nil, 2
	}
	cfg, err := app.LoadConfig(*path)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintln(stderr, ce.Error())
		} else {
			fmt.Fprintln(stderr, "switchboard:", err)
		}
		return nil, 1
	}
	return cfg, 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
