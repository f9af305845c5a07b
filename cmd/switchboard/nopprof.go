//go:build !pprof

package main

import (
	"context"
	"io"
)

// profiling does nothing: only a binary built with -tags pprof serves
// net/http/pprof (pprof.go).
func profiling(context.Context, io.Writer) (wait func(), err error) { return func() {}, nil }
