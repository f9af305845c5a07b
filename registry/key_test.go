package registry

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateKeyCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.key")
	key, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey: %v", err)
	}
	if len(key) != KeySize {
		t.Fatalf("key is %d bytes, want %d", len(key), KeySize)
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		t.Error("created key is all zeros")
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(key) + "\n"; string(data) != want {
		t.Errorf("key file holds %d bytes that are not the key in hex and a newline", len(data))
	}

	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("second LoadOrCreateKey: %v", err)
	}
	if !bytes.Equal(again, key) {
		t.Error("second LoadOrCreateKey returned a different key")
	}

	other, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Error("two created keys are equal")
	}
}

func TestLoadOrCreateKeyFormats(t *testing.T) {
	want := make([]byte, KeySize)
	for i := range want {
		want[i] = byte(i*7 + 1)
	}
	hexKey := hex.EncodeToString(want)
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"hex and newline", hexKey + "\n", true},
		{"hex without newline", hexKey, true},
		{"hex and CRLF", hexKey + "\r\n", true},
		{"upper-case hex", strings.ToUpper(hexKey) + "\n", true},
		{"raw bytes", string(want), true},
		{"empty", "", false},
		{"short hex", hexKey[:62] + "\n", false},
		{"long hex", hexKey + "00\n", false},
		{"raw bytes and newline", string(want) + "\n", false},
		{"31 raw bytes", string(want[:31]), false},
		{"not hex", strings.Repeat("zz", KeySize) + "\n", false},
		{"two keys", hexKey + "\n" + hexKey + "\n", false},
		{"huge", strings.Repeat(hexKey, 1000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := LoadOrCreateKey(path)
			if !tt.ok {
				if err == nil {
					t.Fatal("LoadOrCreateKey succeeded, want an error")
				}
				if msg := err.Error(); strings.Contains(msg, hexKey[:8]) || strings.Contains(msg, "zz") {
					t.Errorf("error quotes the file's contents: %q", msg)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOrCreateKey: %v", err)
			}
			if !bytes.Equal(key, want) {
				t.Error("LoadOrCreateKey returned the wrong key")
			}
		})
	}
}

func TestLoadOrCreateKeyPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o620, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if _, err := LoadOrCreateKey(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateKey(path)
			if tt.ok && err != nil {
				t.Errorf("LoadOrCreateKey of a %v file: %v", tt.mode, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "chmod 600")) {
				t.Errorf("LoadOrCreateKey of a %v file: err = %v, want one saying to chmod 600 it", tt.mode, err)
			}
		})
	}
}

func TestLoadOrCreateKeyErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"missing directory", filepath.Join(dir, "missing", "key")},
		{"directory", dir},
	}
	for _, tt := range tests {
		if _, err := LoadOrCreateKey(tt.path); err == nil {
			t.Errorf("%s: LoadOrCreateKey succeeded, want an error", tt.name)
		}
	}
}
