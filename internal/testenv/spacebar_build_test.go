package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSpacebarBuildCached checks that a build is reused: a second call
// finds the stamp of the first and runs no build (the stamp is not
// rewritten and the call is quick).
func TestSpacebarBuildCached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), spacebarBuildTimeout)
	defer cancel()
	first, err := ensureSpacebarBuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stamp := filepath.Join(filepath.Dir(first.src), spacebarStamp)
	before, err := os.Stat(stamp)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := ensureSpacebarBuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the cached build took %s to find", took)
	}
	if *second != *first {
		t.Errorf("second build = %+v, want the first %+v", second, first)
	}
	after, err := os.Stat(stamp)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the stamp was rewritten (%s, then %s): the build ran again", before.ModTime(), after.ModTime())
	}
	if _, err := os.Stat(filepath.Join(first.src, "dist", "bundle", "start.js")); err != nil {
		t.Errorf("the cached build has no bundle: %v", err)
	}
	key, err := spacebarRecipeKey()
	if err != nil {
		t.Fatal(err)
	}
	if want := "spacebar-" + key; filepath.Base(filepath.Dir(first.src)) != want {
		t.Errorf("build directory %s, want one named %s (the recipe's hash)", filepath.Dir(first.src), want)
	}
}
