package balancer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Renderfarm is GBrowse's renderfarm.conf for the renderer URLs (sorted):
//
//	[GENERAL]
//	renderfarm = 1
//	remote renderer =
//		http://10.0.0.5:8101
//
// With no renderer, renderfarm = 0 and the list is empty.
func Renderfarm(urls []string) []byte {
	urls = slices.Clone(urls)
	slices.Sort(urls)
	var b bytes.Buffer
	on := 0
	if len(urls) > 0 {
		on = 1
	}
	fmt.Fprintf(&b, "[GENERAL]\nrenderfarm = %d\nremote renderer =\n", on)
	for _, u := range urls {
		b.WriteString("\t" + u + "\n")
	}
	return b.Bytes()
}

// WriteRenderfarm writes Renderfarm(urls) to path, atomically (a temporary file in the
// same directory, synced, renamed over it, mode 0644), and only when the content
// differs from what is there. It reports whether it wrote.
func WriteRenderfarm(path string, urls []string) (changed bool, err error) {
	want := Renderfarm(urls)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return false, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".new-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, a no-op
	if _, err := f.Write(want); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}
