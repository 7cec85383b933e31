package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate/fsafe"
)

// KeyFile is the private key `keys ssh` creates and `ssh` logs in with, under $HOME.
const KeyFile = ".ssh/tollgate_ed25519"

// SSHKeyCmd is `tollgate keys ssh`. The private key is made here, in the user's home, and
// never leaves it: only the public key is sent to the daemon.
type SSHKeyCmd struct {
	PublicKey string `name:"public-key" help:"Upload this existing public key (authorized_keys format) instead." placeholder:"FILE" type:"path"`
}

// Run creates the key if needed and uploads its public half.
func (c *SSHKeyCmd) Run(env *Env) error {
	var pub []byte
	var err error
	if c.PublicKey != "" {
		pub, err = readPublicKey(c.PublicKey)
	} else {
		var created bool
		pub, created, err = ensureKey(env.Home)
		if created {
			fmt.Fprintf(env.Err, "created %s\n", filepath.Join(env.Home, KeyFile))
		}
	}
	if err != nil {
		return err
	}
	resp, err := env.Client.UploadSSHKey(env.Ctx, strings.TrimSpace(string(pub)))
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, resp)
	}
	fmt.Fprintf(env.Out, "uploaded public key %s as keypair %q\n", resp.Fingerprint, resp.KeyName)
	return nil
}

// readPublicKey reads an authorized_keys line from path and refuses anything that holds
// a private key, so a slip of the tab key cannot send one to the daemon.
func readPublicKey(path string) ([]byte, error) {
	data, err := readSmallFile(path, 16<<10)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return nil, fmt.Errorf("%s holds a private key; give the .pub file (only public keys are uploaded)", path)
	}
	if _, err := ssh.ParseRawPrivateKey(data); err == nil {
		return nil, fmt.Errorf("%s holds a private key; give the .pub file (only public keys are uploaded)", path)
	}
	key, comment, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not an SSH public key: %w", path, err)
	}
	line := bytes.TrimSpace(ssh.MarshalAuthorizedKey(key))
	if comment != "" {
		line = append(line, ' ')
		line = append(line, comment...)
	}
	return line, nil
}

// ensureKey returns the public half of ~/.ssh/tollgate_ed25519, creating the pair if the
// private key is absent.
func ensureKey(home string) (pub []byte, created bool, err error) {
	if home == "" {
		return nil, false, errors.New("cannot find your home directory (set HOME)")
	}
	privPath := filepath.Join(home, KeyFile)
	pubPath := privPath + ".pub"
	// ~/.ssh must be the caller's own and closed to others before we trust a key in it
	// or write a private key into it.
	d, err := fsafe.OpenPrivateDir(filepath.Dir(privPath))
	if err != nil {
		return nil, false, err
	}
	d.Close()
	if _, err := os.Lstat(privPath); err == nil {
		pub, err := existingPublicKey(privPath, pubPath)
		return pub, false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("check %s: %w", privPath, err)
	}
	pub, err = generateKey(privPath, pubPath, keyComment())
	return pub, err == nil, err
}

// existingPublicKey reads the .pub beside an existing key, or derives it from an
// unencrypted private key.
func existingPublicKey(privPath, pubPath string) ([]byte, error) {
	if data, err := readSmallFile(pubPath, 16<<10); err == nil {
		return readPublicKeyBytes(pubPath, data)
	}
	data, err := readSmallFile(privPath, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", privPath, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (restore %s or use --public-key)", privPath, err, pubPath)
	}
	return bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey())), nil
}

func readPublicKeyBytes(path string, data []byte) ([]byte, error) {
	if _, _, _, _, err := ssh.ParseAuthorizedKey(data); err != nil {
		return nil, fmt.Errorf("%s is not an SSH public key: %w", path, err)
	}
	return bytes.TrimSpace(data), nil
}

// generateKey writes a new ed25519 pair. The private key is created with O_EXCL and
// O_NOFOLLOW, mode 0600, so an existing file or a planted symlink is never written
// through; ~/.ssh is created 0700 if missing.
func generateKey(privPath, pubPath, comment string) ([]byte, error) {
	pubKey, privKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(privKey, comment)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pubKey)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	line := append(bytes.TrimSpace(ssh.MarshalAuthorizedKey(sshPub)), ' ')
	line = append(line, comment...)
	if err := fsafe.WriteNew(privPath, pem.EncodeToMemory(block), 0o600, true); err != nil {
		return nil, err
	}
	if err := fsafe.WriteNew(pubPath, append(line, '\n'), 0o644, false); err != nil {
		return nil, err
	}
	return line, nil
}

// keyComment labels the key "tollgate:user@host" so it is recognisable in
// authorized_keys files.
func keyComment() string {
	name := "user"
	if u, err := currentUser(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return "tollgate:" + name + "@" + host
}
