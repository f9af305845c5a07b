package component

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// hookCredentials is the component's transports.CredentialReader: a
// HookNetwork reads a user's registration with it (opened from its
// sealed form) when a webhook needs the user's secret and the user's
// session is not running.
type hookCredentials struct{ c *Component }

// Credentials implements transports.CredentialReader.
func (h hookCredentials) Credentials(ctx context.Context, user string) (transports.Credentials, error) {
	r, err := h.c.reg.Lookup(ctx, user, h.c.net.Name())
	switch {
	case errors.Is(err, registry.ErrNotRegistered):
		return nil, fmt.Errorf("%w: %s is not registered with %s", transports.ErrNotFound, user, h.c.net.Name())
	case err != nil:
		// registry's errors name the user and the network, never the
		// credentials.
		return nil, fmt.Errorf("%w: %w", transports.ErrUnavailable, err)
	}
	return r.Credentials, nil
}
