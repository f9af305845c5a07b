package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/storage"
)

// Status writes to w, for `switchboard status`, which instance holds each
// configured domain's lease (and so its stream), with its fencing token,
// since when and for how long still without renewal, and how many
// stanzas wait in the domain's outbox; then every running instance (one
// that announced itself within its lease TTL) and what it holds. It talks to Redis only; with bbolt
// it says so and opens nothing (the running instance has the file
// locked). The time now is taken from now.
func Status(ctx context.Context, cfg *config.Config, w io.Writer, now time.Time) error {
	if cfg.Storage.Backend != "redis" {
		fmt.Fprintf(w, "storage is bbolt (%s): one instance runs every domain; there is no lease to show\n", cfg.Storage.Path)
		return nil
	}
	st, where, err := openStore(cfg.Storage, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer st.Close()
	leaser, ok := st.(storage.Leaser)
	if !ok {
		return fmt.Errorf("storage %s hands out no leases", where)
	}
	out := outbox.New(st)
	fmt.Fprintf(w, "storage: %s\n", where)
	holds := map[string][]string{} // instance -> domains
	for _, n := range cfg.Networks() {
		pending := "?"
		if c, err := out.Count(ctx, n.Name); err == nil {
			pending = fmt.Sprint(c)
		}
		l, err := leaser.LeaseHolder(ctx, n.Domain)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			fmt.Fprintf(w, "%s: not held (no instance serves it)  outbox %s\n", n.Domain, pending)
		case err != nil:
			return fmt.Errorf("lease of %s: %w", n.Domain, err)
		default:
			holds[l.Owner] = append(holds[l.Owner], n.Domain)
			fmt.Fprintf(w, "%s: held by %q  token %d  since %s (%s ago)  expires in %s unless renewed  outbox %s\n",
				n.Domain, l.Owner, l.Token, l.Since.UTC().Format(time.RFC3339), now.Sub(l.Since).Round(time.Second),
				l.TTL.Round(time.Millisecond), pending)
		}
	}
	insts, err := leaser.Instances(ctx)
	if err != nil {
		return fmt.Errorf("instances: %w", err)
	}
	for _, in := range insts {
		role := "standby"
		if d := holds[in.Owner]; len(d) > 0 {
			role = "holds " + strings.Join(d, ", ")
		}
		fmt.Fprintf(w, "instance %q: %s\n", in.Owner, role)
	}
	if len(insts) == 0 {
		fmt.Fprintln(w, "no instance is running")
	}
	return nil
}
