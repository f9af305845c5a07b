package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/internal/config"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// redisOpenTimeout bounds how long opening Redis may take at start.
const redisOpenTimeout = 15 * time.Second

// openStore opens the backend the [storage] table names, and says where
// the data is (a file, or Redis's addresses, never a password) for
// messages about it.
func openStore(cfg config.Storage, log *slog.Logger) (storage.Store, string, error) {
	if cfg.Backend != "redis" {
		st, err := bolt.Open(cfg.Path)
		return st, cfg.Path, err
	}
	opts := redis.Options{
		URL:                cfg.URL,
		SentinelAddrs:      cfg.SentinelAddrs,
		MasterName:         cfg.MasterName,
		ClusterAddrs:       cfg.ClusterAddrs,
		Username:           cfg.Username,
		Password:           cfg.Password,
		SentinelUsername:   cfg.SentinelUsername,
		SentinelPassword:   cfg.SentinelPassword,
		KeyPrefix:          cfg.KeyPrefix,
		MinReplicas:        cfg.MinReplicas,
		MinReplicasTimeout: cfg.WaitTimeout(),
		Logger:             log,
	}
	if cfg.TLS || cfg.CAFile != "" {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, "", fmt.Errorf("reading [storage] ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, "", fmt.Errorf("[storage] ca_file %s holds no PEM certificate", cfg.CAFile)
			}
			opts.TLS.RootCAs = pool
		}
	}
	where := "Redis"
	switch {
	case len(cfg.SentinelAddrs) > 0:
		where = fmt.Sprintf("Redis master %s (sentinels %s)", cfg.MasterName, strings.Join(cfg.SentinelAddrs, ","))
	case len(cfg.ClusterAddrs) > 0:
		where = "Redis Cluster " + strings.Join(cfg.ClusterAddrs, ",")
	default:
		if u, err := redis.ParseURL(cfg.URL); err == nil {
			where = "Redis " + strings.Join(u.Addrs, ",")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisOpenTimeout)
	defer cancel()
	st, err := redis.Open(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	return st, where, nil
}
