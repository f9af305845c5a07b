package redis

import "github.com/switchboard-im/switchboard/storage"

// LeaseKeyValue returns the Redis key of l's lease and the value it holds
// while l is the holding, for tests that put an old holding back, as a
// holder paused after reading it saw it.
func LeaseKeyValue(s *Store, l storage.Lease) (key, value string) {
	return s.leaseKey(l.Name), leaseValue(l)
}
