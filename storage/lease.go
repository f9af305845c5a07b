package storage

import (
	"context"
	"errors"
	"time"
)

// ErrFenced is returned, wrapped, by the writes of a fenced view (see
// [Leaser.Fenced]) once its lease is no longer held, and by
// [Leaser.RenewLease] when the lease was lost: the process is no longer
// the holder and must stop acting as one.
var ErrFenced = errors.New("storage: lease not held: write fenced off")

// Lease is one holding of a named lease by one process.
type Lease struct {
	// Name is what the lease is for (a component's domain).
	Name string
	// Owner names the holding process (an instance name), for people.
	Owner string
	// Token is the fencing token: every new holding of Name gets a larger
	// one than any before it, so a write carrying an old token can be
	// told from the current holder's.
	Token uint64
	// Since is when this holding began.
	Since time.Time
	// TTL is how long the lease had left when it was read (LeaseHolder
	// only; zero otherwise).
	TTL time.Duration
}

// Leaser is implemented by a store that several processes share (Redis):
// it hands out leases, so that one process at a time acts for a name (an
// XMPP server accepts one component stream per domain), with fencing
// tokens that make a late write of a former holder fail instead of
// overwriting the new holder's. A store used by one process (bbolt, whose
// file is locked) does not implement it: its process holds every lease.
//
// Every method does I/O and may block; none retries. A lease that is not
// renewed expires after its TTL, so a holder that dies (kill -9) is
// replaced without anyone releasing it.
type Leaser interface {
	// AcquireLease takes name for owner for ttl, unless someone holds it:
	// then ok is false and the Lease is zero. The token is larger than
	// every token name had before.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (l Lease, ok bool, err error)

	// RenewLease extends l to ttl from now if l is still the holding of
	// its name; if it is not (it expired, and maybe another took it) the
	// error wraps ErrFenced and the caller is no longer the holder. Other
	// errors say nothing about the lease: the caller retries until its
	// lease would have expired.
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) error

	// ReleaseLease gives l up now, if it is still the holding of its
	// name, so that a standby need not wait for the TTL. Releasing a
	// lease already lost is not an error.
	ReleaseLease(ctx context.Context, l Lease) error

	// LeaseHolder returns the current holding of name, with its TTL
	// left, or an error wrapping ErrNotFound when nobody holds it.
	LeaseHolder(ctx context.Context, name string) (Lease, error)

	// Announce records that instance owner runs (holding leases or
	// waiting as a standby) for the next ttl, for Instances.
	Announce(ctx context.Context, owner string, ttl time.Duration) error

	// Instances returns the instances whose last Announce has not
	// expired, by name, each with when it expires.
	Instances(ctx context.Context) ([]Instance, error)

	// Fenced returns a view of the store whose writes (Append, Remove,
	// Put, Delete, Update) are made only while l is the holding of its
	// name, checked in the same atomic step as the write; otherwise they
	// write nothing and return an error wrapping ErrFenced (Update
	// without retrying: fn's run is thrown away). A backend that cannot
	// check the holding in the write's step for some keys (a Redis
	// Cluster, whose user keys sit in other slots than the lease) says
	// what it guarantees instead. Reads go to the store unchecked. The
	// view's Close does nothing: the store stays the caller's.
	Fenced(l Lease) Store
}

// Instance is a running instance, as [Leaser.Instances] returns it.
type Instance struct {
	// Owner is the instance's name, as it takes leases.
	Owner string
	// Until is when its announcement expires unless renewed.
	Until time.Time
}
