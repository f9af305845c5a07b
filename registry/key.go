package registry

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// LoadOrCreateKey returns the credential-sealing key stored in the file at
// path, creating the file with a fresh random key and mode 0600 if it does
// not exist.
//
// The file holds the key as 64 hexadecimal characters and a newline, so that
// admins can back it up as text; a file of exactly 32 raw bytes is accepted
// too. Losing the file makes every stored credential unreadable.
//
// Because the key opens every user's credentials, LoadOrCreateKey refuses an
// existing file that group or others may access. Its errors never contain
// key material.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := LoadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return LoadKey(path)
		}
	}
	return key, err
}

// LoadKey is LoadOrCreateKey without the creating: a missing file is an
// error wrapping fs.ErrNotExist. Callers whose database already holds
// sealed credentials (see [Sealed]) use it, since a new key could open
// none of them.
func LoadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("registry: key file: %w", err)
	}
	defer f.Close()

	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("registry: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("registry: key file %s is not a regular file", path)
	}
	// Windows reports no meaningful Unix permission bits.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("registry: key file %s is accessible by group or others (mode %04o); run chmod 600 %s", path, perm, path)
	}

	// A valid file is at most 64 hex digits and a line ending; read a
	// little more so that longer files are reported as such.
	data, err := io.ReadAll(io.LimitReader(f, 2*KeySize+64))
	if err != nil {
		return nil, fmt.Errorf("registry: key file: %w", err)
	}
	defer clear(data)
	return parseKey(path, data, fi.Size())
}

// parseKey decodes data, the start of the key file at path whose full size
// is size.
func parseKey(path string, data []byte, size int64) ([]byte, error) {
	if size == KeySize && len(data) == KeySize {
		return bytes.Clone(data), nil
	}
	text := bytes.TrimSpace(data)
	if int64(len(data)) != size || len(text) != hex.EncodedLen(KeySize) {
		return nil, fmt.Errorf("registry: key file %s holds %d bytes, want %d hexadecimal characters (and a newline) or %d raw bytes",
			path, size, hex.EncodedLen(KeySize), KeySize)
	}
	key := make([]byte, KeySize)
	if _, err := hex.Decode(key, text); err != nil {
		// Do not wrap: hex errors quote the offending byte.
		return nil, fmt.Errorf("registry: key file %s is not valid hexadecimal", path)
	}
	return key, nil
}

// createKey writes a fresh key to a new file at path. It fails with an error
// wrapping fs.ErrExist if the file already exists.
func createKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	rand.Read(key) // never returns an error; crashes the program instead

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("registry: create key file: %w", err)
	}
	text := make([]byte, hex.EncodedLen(KeySize)+1)
	hex.Encode(text, key)
	text[len(text)-1] = '\n'
	defer clear(text)

	_, err = f.Write(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Do not leave a partial key behind for the next start to trip on.
		os.Remove(path)
		return nil, fmt.Errorf("registry: create key file: %w", err)
	}
	return key, nil
}
