// Package keyspace holds what the packages that lay out keys as parts
// joined by NUL bytes (registry, msgid, netstate) share: the check that
// makes distinct parts give distinct keys, and deleting every key under a
// prefix (all of one user's entries) in one transaction.
package keyspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchboard-im/switchboard/storage"
)

// Check validates key parts given as name, value pairs: none may be empty
// or contain a NUL byte, which separates parts in keys. The error names
// the first bad part, never its value.
func Check(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		name, v := pairs[i], pairs[i+1]
		if v == "" {
			return fmt.Errorf("empty %s", name)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%s contains a NUL byte", name)
		}
	}
	return nil
}

// DeletePrefix deletes every key of bucket that starts with prefix, in one
// transaction, and returns how many it deleted. prefix must not be empty:
// it is never meant to empty a bucket.
func DeletePrefix(ctx context.Context, st storage.Store, bucket, prefix string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("delete from %s: empty prefix", bucket)
	}
	// Scan callbacks must not touch the store, so collect the keys first.
	var keys []string
	err := st.Scan(ctx, bucket, prefix, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	err = st.Update(ctx, func(tx storage.Tx) error {
		for _, k := range keys {
			if err := tx.Delete(bucket, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(keys), nil
}
