// Package app wires Switchboard together from a configuration: storage,
// the registry, one component per enabled network, and the HTTP listener
// for health and metrics. cmd/switchboard is a thin CLI around it; the demo
// uses it too.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/lease"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
)

// Options are what New needs besides the config file.
type Options struct {
	// Config must have been parsed for Networks (ParseConfig does that
	// for this build's networks).
	Config *config.Config
	// Networks builds each enabled network, by table name ("irc"); nil
	// means this build's networks (Networks). Tests put fakes here.
	Networks []Network
	Logger   *slog.Logger
	Version  string
	// Tune, if set, may adjust each component's config before it is
	// built (tests shorten backoffs).
	Tune func(*component.Config)
}

// App is a configured, not yet running Switchboard.
type App struct {
	opts       Options
	log        *slog.Logger
	store      storage.Store
	reg        *registry.Registry
	ids        *msgid.Map
	state      *netstate.Store
	archive    *archive.Archive
	components []*component.Component
	// held[i] is the election of components[i]'s domain, outs[i] its
	// own outbox, whose flush carries the lease (outbox.Outbox.Hold),
	// and domains[i] the state its holder writes, fenced by the lease
	// (held.go).
	held     []*lease.Elector
	outs     []*outbox.Outbox
	domains  []*domainState
	listener net.Listener
}

// New opens storage and the credentials key and builds every component.
// Nothing connects until Run.
func New(opts Options) (*App, error) {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &App{opts: opts, log: log}
	var err error
	var where string
	a.store, where, err = openStore(cfg.Storage, log)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	a.ids, a.state = msgid.New(a.store), netstate.New(a.store)
	// The archive is forgotten with a registration and pruned even when
	// it is off: what it kept before goes in time.
	a.archive = archive.New(a.store, archive.Bounds{Days: cfg.Archive.Days, MaxPerRoom: cfg.Archive.MaxMessagesPerRoom})
	key, err := openKey(a.store, cfg.Security.KeyFile, where)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	defer clear(key)
	a.reg, err = newRegistry(a.store, key, cfg.Security.KeyFile, where, a.ids, a.state, a.archive)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	private, err := egress.ParsePrefixes(cfg.Security.AllowPrivate)
	if err != nil { // config.Parse checked it already
		a.store.Close()
		return nil, fmt.Errorf("security.allow_private: %w", err)
	}
	roots, err := loadCAs(cfg.Security.CAFile)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	shared := Shared{
		Egress:             &egress.Policy{AllowPrivate: private},
		Budget:             &egress.Budget{Max: cfg.Limits.MaxConnections, PerUserPerMinute: cfg.Limits.ConnectionsPerMinute},
		RootCAs:            roots,
		Version:            opts.Version,
		MaxAttachmentBytes: cfg.Security.MaxAttachmentBytes,
		MaxAttachments:     cfg.Security.MaxAttachments,
	}
	nets := opts.Networks
	if nets == nil {
		nets = Networks()
	}
	for _, n := range cfg.Networks() {
		i := slices.IndexFunc(nets, func(d Network) bool { return d.Name == n.Name })
		if i < 0 {
			a.store.Close()
			return nil, fmt.Errorf("[%s]: this build has no %s transport", n.Name, n.Name)
		}
		s := shared
		s.Logger = log.With("network", n.Name)
		network, err := nets[i].New(n.Config, s)
		if err != nil {
			a.store.Close()
			return nil, fmt.Errorf("[%s]: %w", n.Name, err)
		}
		server := n.Server
		if server == "" {
			server = cfg.XMPP.Server
		}
		// The inbound journal is always on, bbolt or Redis: a killed
		// single instance loses what it had read and not sent just as a
		// killed holder does (README, "Several instances").
		d, err := newDomainState(a.store, n.Domain, key, a.archive.Bounds())
		if err != nil {
			a.store.Close()
			return nil, err
		}
		// The outbox keeps the shared store: its enqueueing stays
		// unfenced, its flush is fenced by Hold (held.go).
		out := outbox.New(a.store)
		cc := component.Config{
			Domain:         n.Domain,
			Server:         server,
			Secret:         n.Secret,
			Network:        network,
			Registry:       d.reg,
			Outbox:         out,
			MessageIDs:     d.ids,
			Journal:        d.journal,
			NetState:       d.state,
			AllowedDomains: cfg.Security.AllowedDomains,
			OtherDomains:   gatewayDomains(cfg.Networks()),
			Admins:         cfg.Security.Admins,
			Version:        opts.Version,
			Logger:         log,

			Egress:             shared.Egress,
			MaxStanzaBytes:     cfg.XMPP.MaxStanzaBytes,
			MaxAttachmentBytes: cfg.Security.MaxAttachmentBytes,
			MaxAttachments:     cfg.Security.MaxAttachments,
			CommandsPerMinute:  cfg.Limits.CommandsPerMinute,
			IncomingPerMinute:  cfg.Limits.IncomingPerMinute,
			RoomsPerUser:       cfg.Limits.RoomsPerUser,
			HookURL:            cfg.HTTP.HookURL(network.Name()),
			SendRate:           n.MessageRate,
			SendBurst:          n.MessageBurst,
		}
		if cfg.Archive.On() {
			cc.Archive = d.archive
		}
		if opts.Tune != nil {
			opts.Tune(&cc)
		}
		comp, err := component.New(cc)
		if err != nil {
			a.store.Close()
			return nil, err
		}
		a.components = append(a.components, comp)
		a.outs = append(a.outs, out)
		a.domains = append(a.domains, d)
		leaser, _ := a.store.(storage.Leaser) // nil: one process holds every domain
		a.held = append(a.held, lease.New(lease.Config{Leaser: leaser, Name: n.Domain,
			Owner: cfg.HA.InstanceName(), TTL: cfg.HA.TTL(), Logger: log.With("domain", n.Domain)}))
	}
	if cfg.HTTP.Listen != "" {
		a.listener, err = net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			a.store.Close()
			return nil, fmt.Errorf("http.listen: %w", err)
		}
	}
	return a, nil
}

// openKey loads the credentials key of the database. A key file is
// created only for a database that never had one: a missing key for a
// database with sealed credentials is an error naming both files, never
// a silent new key that opens nothing.
func openKey(st storage.Store, keyFile, dbPath string) ([]byte, error) {
	sealed, err := registry.Sealed(context.Background(), st)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	var key []byte
	if sealed {
		key, err = registry.LoadKey(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("credentials key: key file %s is missing, but database %s holds credentials sealed with a key: restore the key file from a backup (or, to start over, move the database away)", keyFile, dbPath)
		}
	} else {
		key, err = registry.LoadOrCreateKey(keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("credentials key: %w", err)
	}
	return key, nil
}

// newRegistry binds key to the database (the first registry opened on a
// database without a key check writes it): a key that is not the
// database's is an error naming both files.
func newRegistry(st storage.Store, key []byte, keyFile, dbPath string, also ...registry.UserData) (*registry.Registry, error) {
	reg, err := registry.New(st, key, also...)
	if errors.Is(err, registry.ErrKeyMismatch) {
		return nil, fmt.Errorf("credentials key: key file %s does not match database %s, which was sealed with another key: use the key file that belongs to this database", keyFile, dbPath)
	}
	return reg, err
}

// Components returns the components, in config order.
func (a *App) Components() []*component.Component { return a.components }

// Registry returns a registry on the shared store, for an admin's or a
// test's writes outside any component: its writes are not fenced by a
// lease (each component has its own registry, fenced; held.go).
func (a *App) Registry() *registry.Registry { return a.reg }

// HTTPAddr is the address the HTTP listener is bound to, or "".
func (a *App) HTTPAddr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// Run runs the HTTP listener and, for each component, the election of its
// domain: a component runs (stream, adapters, outbox flush) only while
// this instance holds its domain's lease, and the first component's
// holder alone prunes. Run returns when ctx is cancelled, after closing
// adapters, stopping the listener and closing storage; or, with an error
// wrapping lease.ErrLost, when a lease was lost while its component ran:
// every component is then stopped, and the process should exit and start
// again as a standby. With bbolt every lease is held at once.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost atomic.Pointer[error]
	var wg sync.WaitGroup
	var srv *http.Server
	if a.listener != nil {
		srv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: httpReadTimeout, WriteTimeout: httpWriteTimeout, IdleTimeout: httpIdleTimeout}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("http listener", "err", err)
			}
		}()
	}
	for i, c := range a.components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := a.held[i].Run(ctx, func(ctx context.Context, l storage.Lease) error {
				return a.holdDomain(ctx, i, l)
			})
			if errors.Is(err, lease.ErrLost) {
				lost.CompareAndSwap(nil, &err)
				cancel()
			} else if err != nil {
				a.log.Error("component stopped", "domain", c.Domain().String(), "err", err)
			}
		}()
	}
	<-ctx.Done()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	if err := a.store.Close(); err != nil {
		return fmt.Errorf("closing storage: %w", err)
	}
	if err := lost.Load(); err != nil {
		a.log.Error("stopped: a domain's lease was lost", "err", *err)
		return *err
	}
	a.log.Info("stopped")
	return nil
}

// holdDomain runs components[i] while this instance holds l, its
// domain's lease, with every write of the component's state fenced by l
// (held.go), and the first component's holder prunes. A write fenced off
// means that l is lost: the component is stopped at once, and the error
// wraps lease.ErrLost and storage.ErrFenced.
func (a *App) holdDomain(ctx context.Context, i int, l storage.Lease) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var once sync.Once
	a.domains[i].st.hold(l, func(err error) {
		once.Do(func() {
			a.log.Warn("a write was fenced off: this instance no longer holds the domain's lease",
				"domain", l.Name, "fence", l.Token, "err", err)
			stop(fmt.Errorf("%w: %w", lease.ErrLost, err))
		})
	})
	a.outs[i].Hold(l)
	var pwg sync.WaitGroup
	if i == 0 {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			a.pruneLoop(ctx, a.domains[i])
		}()
	}
	err := a.components[i].Run(ctx)
	stop(nil)
	pwg.Wait()
	if cause := context.Cause(ctx); errors.Is(cause, lease.ErrLost) {
		return cause
	}
	return err
}

// Close releases what New opened, for an App that never ran.
func (a *App) Close() error {
	if a.listener != nil {
		a.listener.Close()
	}
	return a.store.Close()
}

// NewLogger returns the logger the config asks for. Attributes whose key
// names a secret are redacted, as a second line of defence: no code path
// is meant to log a secret in the first place.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch cfg.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range []string{"password", "secret", "token", "credential", "key"} {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}

// pruneLoop forgets old message-ID pairs and archived room messages: a
// minute after start, then daily.
func (a *App) pruneLoop(ctx context.Context, d *domainState) {
	days := a.opts.Config.Storage.MessageIDDays
	if days == 0 {
		days = 90
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := d.ids.Prune(ctx, time.Now().AddDate(0, 0, -days))
		if err != nil {
			a.log.Warn("pruning message IDs", "err", err)
		} else if n > 0 {
			a.log.Info("pruned message IDs", "halves", n, "older_than_days", days)
		}
		adays := d.archive.Bounds().Days
		n, err = d.archive.Prune(ctx, time.Now().AddDate(0, 0, -adays))
		if err != nil {
			a.log.Warn("pruning the room archive", "err", err)
		} else if n > 0 {
			a.log.Info("pruned the room archive", "messages", n, "older_than_days", adays)
		}
		t.Reset(24 * time.Hour)
	}
}

// gatewayDomains lists the domain of every configured gateway: no user is
// there, so each component drops stanzas from them (defence in depth).
func gatewayDomains(nets []config.NetworkEntry) []string {
	var out []string
	for _, n := range nets {
		out = append(out, n.Domain)
	}
	return out
}
