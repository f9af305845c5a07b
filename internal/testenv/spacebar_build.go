package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// spacebarRecipe is the verified Spacebar test-peer recipe (see
// spacebar/README.md): a source export of one upstream commit, the patch
// for the upstream bugs that break discordgo, the build script, the config
// template and the node preload. It is embedded so that a test binary
// built anywhere carries the exact recipe its cache key is computed from
// (the folder's README is not part of it: editing it rebuilds nothing).
//
//go:embed spacebar/*.tgz spacebar/*.patch spacebar/*.sh spacebar/*.in spacebar/*.js
var spacebarRecipe embed.FS

const (
	spacebarSourceTGZ = "spacebar-src-74df883a4.tgz"
	// spacebarBuildTimeout bounds one cold build (npm install from the
	// registry, Node 24 download, tsc).
	spacebarBuildTimeout = 10 * time.Minute
	// spacebarStamp, in a build directory, holds the node binary's path;
	// it is written last, so a directory without it is an interrupted build.
	spacebarStamp = ".switchboard-built"
)

// spacebarBuild is a built Spacebar checkout in the cache.
type spacebarBuild struct {
	src    string // the built source tree, Spacebar's working directory
	recipe string // the recipe files (pg-int8.js, config.json.in)
	node   string // a node binary >= 22
}

// spacebarRecipeKey is a hash of every recipe file, names and contents:
// a changed source export, patch or script is a new cache entry.
func spacebarRecipeKey() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(spacebarRecipe, "spacebar", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := spacebarRecipe.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing the spacebar recipe: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// spacebarCacheRoot is where builds are kept across test runs: the user's
// cache directory, else /var/tmp (both outlive a reboot's /tmp cleanup and
// are outside the repository).
func spacebarCacheRoot() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "switchboard")
	}
	return "/var/tmp/switchboard-cache"
}

// ensureSpacebarBuild returns the cached build for this recipe, building
// it first when there is none. Concurrent test binaries (go test runs
// packages in parallel) serialise on a lock file, so one builds and the
// others wait and reuse it. A failed or interrupted build is removed and
// redone by the next caller. It blocks for the whole build (one to two
// minutes cold, with network access to the npm registry), and while
// another process builds, on its lock without regard to ctx; the error
// carries the tail of the build logs.
func ensureSpacebarBuild(ctx context.Context) (*spacebarBuild, error) {
	key, err := spacebarRecipeKey()
	if err != nil {
		return nil, err
	}
	root := spacebarCacheRoot()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("spacebar build cache: %w", err)
	}
	dir := filepath.Join(root, "spacebar-"+key)
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spacebar build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("spacebar build lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	b := &spacebarBuild{src: filepath.Join(dir, "src"), recipe: filepath.Join(dir, "recipe")}
	if stamp, err := os.ReadFile(filepath.Join(dir, spacebarStamp)); err == nil {
		b.node = strings.TrimSpace(string(stamp))
		if _, err := os.Stat(b.node); err == nil {
			return b, nil
		}
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, fmt.Errorf("npm is not installed (the Spacebar build fetches Node 24 and its modules with it): run `make test`, which installs it: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("removing a stale spacebar build: %w", err)
	}
	if err := writeSpacebarRecipe(b.recipe); err != nil {
		return nil, err
	}
	if err := extractSpacebarSource(b.src); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, spacebarBuildTimeout)
	defer cancel()
	logPath := filepath.Join(dir, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(b.recipe, "build.sh"), b.src)
	cmd.Dir = dir
	cmd.Stdout = &stdout
	cmd.Stderr = logf
	cmd.SysProcAttr = serverProcAttr(nil)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building spacebar in %s: %w\n%s", dir, err,
			tailFiles(dir, "build.log", "src/npm-install.log", "src/npm-build.log"))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	b.node = lines[len(lines)-1]
	if _, err := os.Stat(b.node); err != nil {
		return nil, fmt.Errorf("spacebar build printed no node binary (%q): %w", stdout.String(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, spacebarStamp), []byte(b.node+"\n"), 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// writeSpacebarRecipe copies the embedded recipe files except the source
// export into dir (build.sh finds the patch next to itself).
func writeSpacebarRecipe(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := spacebarRecipe.ReadDir("spacebar")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == spacebarSourceTGZ {
			continue
		}
		b, err := spacebarRecipe.ReadFile(path.Join("spacebar", e.Name()))
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(e.Name(), ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, mode); err != nil {
			return fmt.Errorf("writing the spacebar recipe: %w", err)
		}
	}
	return nil
}

// extractSpacebarSource unpacks the embedded source export into dir.
func extractSpacebarSource(dir string) error {
	f, err := spacebarRecipe.Open(path.Join("spacebar", spacebarSourceTGZ))
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("spacebar source export: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("spacebar source export: %w", err)
		}
		name := filepath.Clean(h.Name)
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("spacebar source export: entry %q leaves the directory", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("spacebar source export: %w", err)
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}
