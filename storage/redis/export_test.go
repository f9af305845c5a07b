package redis

import (
	"context"

	"github.com/switchboard-im/switchboard/storage"
)

// LeaseKeyValue returns the Redis key of l's lease and the value it holds
// while l is the holding, for tests that put an old holding back, as a
// holder paused after reading it saw it.
func LeaseKeyValue(s *Store, l storage.Lease) (key, value string) {
	return s.leaseKey(l.Name), leaseValue(l)
}

// Partitions returns the users' partitions bucket's list of partitions
// holds (the "network \0 user" of each), the partitions Scan reads.
func Partitions(s *Store, bucket string) ([]string, error) {
	return s.c.ZRange(context.Background(), s.partsKey(bucket), 0, -1).Result()
}
