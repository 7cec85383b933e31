package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestEnsureKey(t *testing.T) {
	home := t.TempDir()
	pub1, created, err := ensureKey(home)
	if err != nil || !created {
		t.Fatalf("ensureKey() first = created %v, err %v; want a new key", created, err)
	}
	priv := filepath.Join(home, KeyFile)
	for path, want := range map[string]os.FileMode{priv: 0o600, priv + ".pub": 0o644, filepath.Dir(priv): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("stat %s: %v", path, err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s mode = %o, want at most %o", path, got, want)
		}
	}
	if bytes.Contains(pub1, []byte("PRIVATE")) {
		t.Fatalf("public half holds a private key: %q", pub1)
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey(pub1); err != nil {
		t.Errorf("public half %q does not parse: %v", pub1, err)
	}
	data, _ := os.ReadFile(priv)
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatalf("private key does not parse: %v", err)
	}
	if got, want := strings.Fields(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))[1], strings.Fields(string(pub1))[1]; got != want {
		t.Errorf("public key = %s, want the private key's %s", want, got)
	}

	pub2, created, err := ensureKey(home)
	if err != nil || created {
		t.Fatalf("ensureKey() second = created %v, err %v; want the existing key", created, err)
	}
	if !bytes.Equal(pub1, pub2) {
		t.Errorf("second ensureKey() = %q, want the same key %q", pub2, pub1)
	}

	// Without the .pub the public half comes from the private key.
	os.Remove(priv + ".pub")
	pub3, _, err := ensureKey(home)
	if err != nil {
		t.Fatalf("ensureKey() without .pub: %v", err)
	}
	if got, want := strings.Fields(string(pub3))[1], strings.Fields(string(pub1))[1]; got != want {
		t.Errorf("derived public key = %s, want %s", got, want)
	}
}

func TestGenerateKeyRefusesSymlink(t *testing.T) {
	home := t.TempDir()
	target := filepath.Join(home, "elsewhere")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(home, KeyFile)
	if err := os.Symlink(target, priv+".pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := generateKey(priv, priv+".pub", "c"); err == nil {
		t.Fatalf("generateKey() through a symlinked .pub succeeded, want an error")
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("symlink target was written (stat err %v)", err)
	}
}

func TestReadPublicKey(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	pub, _, err := ensureKey(home)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, _ := os.ReadFile(filepath.Join(home, KeyFile))
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{name: "public key", content: pub},
		{name: "private key", content: privPEM, wantErr: "private key"},
		{name: "garbage", content: []byte("hello"), wantErr: "not an SSH public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(p, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readPublicKey(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readPublicKey() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("readPublicKey() error = %v", err)
			}
			if strings.Fields(string(got))[1] != strings.Fields(string(pub))[1] {
				t.Errorf("readPublicKey() = %q, want %q", got, pub)
			}
		})
	}
}

func TestEnsureKeyRefusesUnsafeSSHDir(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, home string)
		want  string
	}{
		{"symlinked ~/.ssh", func(t *testing.T, home string) {
			other := t.TempDir()
			if err := os.Symlink(other, filepath.Join(home, ".ssh")); err != nil {
				t.Fatal(err)
			}
		}, "symlink"},
		{"world-writable ~/.ssh", func(t *testing.T, home string) {
			dir := filepath.Join(home, ".ssh")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "writable by others"},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			c.setup(t, home)
			_, _, err := ensureKey(home)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ensureKey = %v, want an error containing %q", err, c.want)
			}
			if _, err := os.Lstat(filepath.Join(home, KeyFile)); err == nil {
				t.Errorf("a private key was written despite the refusal")
			}
		})
	}
}
