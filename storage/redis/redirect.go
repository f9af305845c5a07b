package redis

import (
	"context"
	"errors"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Cluster redirections.
//
// go-redis's ClusterClient follows MOVED and ASK, and retries TRYAGAIN,
// for the commands sent through it. The store's atomic writes cannot all
// go through it: WAIT must follow the write on the same connection, and a
// WATCH transaction must stay on one node, so they run on a connection to
// the master that holds the key (onConn, Update). During a resharding
// (redis-cli --cluster reshard: SETSLOT IMPORTING/MIGRATING, MIGRATE key
// batches, SETSLOT NODE) or a failover such a connection meets
//
//   - MOVED: the slot has moved (the client's slot table is stale);
//   - ASK: the slot is being migrated and the key has left already;
//   - TRYAGAIN: a script or MULTI/EXEC names several keys of a slot being
//     migrated, some of which have left (Redis answers this rather than
//     run a half-there multi-key operation);
//   - EXECABORT: a command queued in MULTI got one of those, and Redis
//     discarded the transaction;
//   - CLUSTERDOWN: the slot has no master for a moment (failover).
//
// Redis executed nothing in each case, so the operation is sent again:
// after reloading the slot table for MOVED, and after a pause that grows
// (a migrating slot answers ASK/TRYAGAIN until its last key has moved,
// so instead of sending ASKING to the target the store waits for SETSLOT
// NODE). The retries stop after redirectFor: a slot that stays half
// migrated longer is an operator's stuck reshard, reported as the error.

// redirectFor bounds how long an operation is retried while its slot is
// redirected.
const redirectFor = 10 * time.Second

// redirected reports whether err is one of the answers above, after
// which the operation was not executed and may be sent again.
func redirected(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := goredis.IsMovedError(err); ok {
		return true
	}
	if _, ok := goredis.IsAskError(err); ok {
		return true
	}
	if goredis.IsTryAgainError(err) || goredis.IsClusterDownError(err) {
		return true
	}
	var rerr goredis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "EXECABORT")
}

// redirects paces the retries of one operation on a Cluster.
type redirects struct {
	s        *Store
	attempt  int
	deadline time.Time
}

// again reports whether an operation that failed with err is to be sent
// again, after reloading the slot table for MOVED and pausing; false when
// err is no redirection, the store is no Cluster, the bound is spent or
// ctx is done.
func (r *redirects) again(ctx context.Context, err error) bool {
	if r.s.cluster == nil || !redirected(err) {
		return false
	}
	if r.deadline.IsZero() {
		r.deadline = time.Now().Add(redirectFor)
	}
	if time.Now().After(r.deadline) {
		return false
	}
	if _, ok := goredis.IsMovedError(err); ok {
		r.s.cluster.ReloadState(ctx)
	}
	pause := min(2*time.Millisecond<<min(r.attempt, 7), 200*time.Millisecond)
	r.attempt++
	select {
	case <-ctx.Done():
		return false
	case <-time.After(pause):
		return true
	}
}
