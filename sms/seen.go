package sms

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// What was delivered is remembered by the provider's ID in the network's
// store (keySeen), so that a provider's retry, or a replayed request, is
// not delivered again. Providers retry for minutes (Twilio) or a few
// attempts (Kannel's http-request-retry); an entry is kept for
// seenRetention, and every pruneEvery-th entry written prunes the old
// ones, at most prunePerRun at a time, so the store stays bounded by the
// traffic of that period.
const (
	seenRetention = 7 * 24 * time.Hour
	pruneEvery    = 1000
	prunePerRun   = 5000
)

// seenCount counts the entries written since the process started.
var seenCount atomic.Uint64

// seen reports whether key (under keySeen) was delivered.
func (n *Network) seen(ctx context.Context, key string) (bool, error) {
	_, err := n.Hooks().Store.Get(ctx, keySeen+key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, transports.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("%w: %w", transports.ErrUnavailable, err)
	}
}

// markSeen remembers that key was delivered to user. A failure is only
// logged: what was delivered is delivered, and the component ignores a
// message ID it delivered before.
func (n *Network) markSeen(ctx context.Context, key, user string) {
	st := n.Hooks().Store
	v := strconv.FormatInt(time.Now().Unix(), 10) + " " + user
	if err := st.Put(ctx, keySeen+key, []byte(v)); err != nil {
		n.log.Warn("noting a delivered message", "id", key, "err", err)
		return
	}
	if seenCount.Add(1)%pruneEvery == 0 {
		if err := n.pruneSeen(ctx, time.Now().Add(-seenRetention)); err != nil {
			n.log.Warn("pruning the delivered messages' IDs", "err", err)
		}
	}
}

// pruneSeen deletes the entries written before cutoff, at most
// prunePerRun.
func (n *Network) pruneSeen(ctx context.Context, cutoff time.Time) error {
	st := n.Hooks().Store
	var old []string
	err := st.Scan(ctx, keySeen, func(key string, value []byte) error {
		ts, _, _ := strings.Cut(string(value), " ")
		if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Unix(sec, 0).Before(cutoff) {
			old = append(old, key)
		}
		if len(old) >= prunePerRun {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return err
	}
	for _, k := range old {
		if err := st.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

var errStopScan = errors.New("enough")
