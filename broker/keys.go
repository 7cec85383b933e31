package broker

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
)

// minRSABits is the smallest RSA key accepted: EC2 and current OpenSSH refuse less.
const minRSABits = 2048

// parsePublicKey accepts one SSH public key in authorized_keys format (ed25519, RSA of
// at least 2048 bits, or ECDSA) and returns it normalised ("type base64 comment") with
// its SHA256 fingerprint. A private key is refused outright, without echoing it.
func parsePublicKey(text string) (line, fingerprint string, err error) {
	if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, "PuTTY-User-Key-File") {
		return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest,
			Message: "that is a PRIVATE key: it must never leave your home directory; upload the public key (the .pub file) instead",
			Hint:    "run `tollgate keys ssh` (it uploads ~/.ssh/tollgate_ed25519.pub), or --public-key FILE.pub"}
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "no public key given"}
	}
	key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "not an SSH public key in authorized_keys format (ssh-ed25519 AAAA… comment)"}
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "more than one key given: upload exactly one public key"}
	}
	if len(options) > 0 {
		return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "authorized_keys options are not accepted: upload the bare public key"}
	}
	switch key.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "cannot read the RSA key's size"}
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < minRSABits {
			bits := 0
			if ok {
				bits = rk.N.BitLen()
			}
			return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest,
				Message: fmt.Sprintf("RSA key of %d bits is too short: at least %d bits (or use ed25519)", bits, minRSABits)}
		}
	default:
		return "", "", &tollgate.Error{Code: tollgate.CodeInvalidRequest,
			Message: fmt.Sprintf("key type %s is not accepted: use ssh-ed25519, ssh-rsa (≥ %d bits) or ecdsa-sha2-nistp*", key.Type(), minRSABits)}
	}
	line = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if comment = strings.TrimSpace(comment); comment != "" {
		line += " " + comment
	}
	return line, ssh.FingerprintSHA256(key), nil
}

func (d *Daemon) handleKeysSSH(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.SSHKeyRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, audit.KeysSSH, c.Name, audit.Refused, err.Error(), nil)
		return nil, err
	}
	line, fp, err := parsePublicKey(req.PublicKey)
	if err != nil {
		d.audit(ctx, nil, c, audit.KeysSSH, c.Name, audit.Refused, err.Error(), nil)
		return nil, err
	}
	if err := d.db.PutSSHKey(ctx, db.SSHKey{User: c.Name, PublicKey: line, Fingerprint: fp, UpdatedAt: d.now()}); err != nil {
		return nil, err
	}
	d.audit(ctx, nil, c, audit.KeysSSH, c.Name, audit.Allowed, "", map[string]any{"fingerprint": fp})
	return api.SSHKeyResponse{User: c.Name, KeyName: c.Name, Fingerprint: fp}, nil
}

func (d *Daemon) handleKeysAWS(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.AWSKeyRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, audit.KeysAWS, c.Name, audit.Refused, err.Error(), nil)
		return nil, err
	}
	creds, err := d.iam.Issue(iamusers.WithActor(ctx, c.actor()), c.Name, req.Rotate)
	if err != nil {
		// iamusers' errors name users and keys by id, never a secret.
		e := iamError("issue AWS access key", err)
		d.audit(ctx, nil, c, audit.KeysAWS, c.Name, auditDecision(e), err.Error(), map[string]any{"rotate": req.Rotate})
		return nil, e
	}
	d.audit(ctx, nil, c, audit.KeysAWS, c.Name, audit.Allowed, "",
		map[string]any{"rotate": req.Rotate, "access_key_id": creds.AccessKeyID, "iam_user": creds.IAMUser})
	return creds, nil
}

// iamError maps an iamusers error to the socket's error codes: the one place that knows
// which IAM outcomes are the caller's to fix and which are the cloud's.
func iamError(what string, err error) *tollgate.Error {
	var e *tollgate.Error
	if errors.As(err, &e) {
		return e
	}
	msg := what + ": " + err.Error()
	switch {
	case errors.Is(err, iamusers.ErrHasKey):
		return &tollgate.Error{Code: tollgate.CodeConflict, Message: msg,
			Hint: "its secret cannot be shown again: run `tollgate keys aws --rotate` to replace it"}
	case errors.Is(err, iamusers.ErrNotOurs):
		return &tollgate.Error{Code: tollgate.CodeConflict, Message: msg, Hint: "an admin must rename or remove that IAM user"}
	case errors.Is(err, iamusers.ErrNotFound):
		return &tollgate.Error{Code: tollgate.CodeNotFound, Message: msg}
	case errors.Is(err, iamusers.ErrUnavailable):
		return &tollgate.Error{Code: tollgate.CodeUnavailable, Message: msg}
	case errors.Is(err, iamusers.ErrBadUserName):
		return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: msg}
	}
	return &tollgate.Error{Code: tollgate.CodeCloudError, Message: msg}
}

// auditDecision is "refused" for errors the caller caused and "failed" for the rest.
func auditDecision(e *tollgate.Error) string {
	switch e.Code {
	case tollgate.CodeCloudError, tollgate.CodeInternal, tollgate.CodeUnavailable:
		return audit.Failed
	}
	return audit.Refused
}
