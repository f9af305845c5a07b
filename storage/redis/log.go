package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// libLog receives go-redis's own messages (failed dials while a master is
// down, Sentinel's new master), which it would otherwise print to stderr.
// go-redis has one logger per process, so it is the logger of the store
// opened last.
var (
	libLog     atomic.Pointer[slog.Logger]
	libLogOnce sync.Once
)

// routeLibraryLog sends go-redis's messages to log from now on.
func routeLibraryLog(log *slog.Logger) {
	libLog.Store(log)
	libLogOnce.Do(func() { goredis.SetLogger(libLogger{}) })
}

// libLogger is go-redis's logging interface on top of libLog.
type libLogger struct{}

func (libLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := libLog.Load(); l != nil {
		l.WarnContext(ctx, "storage: redis client", "msg", strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}
