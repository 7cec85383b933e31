package broker

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
	"github.com/tollgate/tollgate/roster"
)

func TestUsersAdmin(t *testing.T) {
	h := newHarness(t)
	h.users.as("ops")
	t.Run("add unknown name", func(t *testing.T) {
		_, err := h.c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice", "nobody"}})
		e := wantCode(t, err, api.CodeInvalidRequest)
		if !strings.Contains(e.Message, `"nobody"`) {
			t.Errorf("got %q, want it to name nobody", e.Message)
		}
		if _, ok, _ := h.d.DB().GetUser(h.ctx, "alice"); ok {
			t.Error("alice was enrolled although the request was refused")
		}
	})
	t.Run("import reports every bad entry", func(t *testing.T) {
		_, err := h.c.ImportUsers(h.ctx, []roster.Entry{
			{Line: 1, User: "alice", Group: "s1"}, {Line: 2, User: "ghost"}, {Line: 3, User: "alice"}, {Line: 4, User: "bob"},
		})
		e := wantCode(t, err, api.CodeInvalidRequest)
		for _, want := range []string{"line 2", "ghost", "line 3", "more than once"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("got %q, want it to contain %q", e.Message, want)
			}
		}
		if users, _ := h.c.Users(h.ctx); len(users) != 0 {
			t.Errorf("got %d users, want none imported", len(users))
		}
	})
	t.Run("import", func(t *testing.T) {
		got, err := h.c.ImportUsers(h.ctx, []roster.Entry{{Line: 1, User: "alice", Group: "s1"}, {Line: 2, User: "bob"}})
		if err != nil || len(got) != 2 || got[0].Source != db.SourceRoster || got[0].Group != "s1" || got[0].UID != 2001 {
			t.Fatalf("got %+v, %v; want alice (s1) and bob from the roster", got, err)
		}
		_, err = h.c.ImportUsers(h.ctx, []roster.Entry{{Line: 1, User: "alice"}})
		wantCode(t, err, api.CodeConflict)
	})
	t.Run("set override", func(t *testing.T) {
		three := 3
		u, err := h.c.SetUser(h.ctx, api.UserSetRequest{User: "alice", Set: quota.Override{MaxInstances: &three}})
		if err != nil || u.Override.MaxInstances == nil || *u.Override.MaxInstances != 3 {
			t.Fatalf("got %+v, %v; want max_instances 3", u, err)
		}
		h.users.as("alice")
		q, err := h.c.Quota(h.ctx)
		h.users.as("ops")
		if err != nil || q.Policy.MaxInstances != 3 {
			t.Errorf("got %+v, %v; want the effective max_instances 3", q.Policy, err)
		}
		u, err = h.c.SetUser(h.ctx, api.UserSetRequest{User: "alice", Clear: []string{"max_instances"}})
		if err != nil || u.Override.MaxInstances != nil {
			t.Errorf("got %+v, %v; want max_instances cleared", u, err)
		}
	})
	t.Run("set refuses an invalid policy", func(t *testing.T) {
		bad := -1
		_, err := h.c.SetUser(h.ctx, api.UserSetRequest{User: "alice", Set: quota.Override{MaxVCPUs: &bad}})
		e := wantCode(t, err, api.CodeInvalidRequest)
		if !strings.Contains(e.Message, "max_vcpus") {
			t.Errorf("got %q, want it to name max_vcpus", e.Message)
		}
		_, err = h.c.SetUser(h.ctx, api.UserSetRequest{User: "alice", Clear: []string{"bogus"}})
		wantCode(t, err, api.CodeInvalidRequest)
	})
	t.Run("disable and enable", func(t *testing.T) {
		if _, err := h.c.DisableUser(h.ctx, "bob", false); err != nil {
			t.Fatal(err)
		}
		h.users.as("bob")
		_, err := h.c.Instances(h.ctx)
		h.users.as("ops")
		wantCode(t, err, api.CodeDisabled)
		h.iam.mu.Lock()
		revoked := append([]string(nil), h.iam.revoked...)
		h.iam.mu.Unlock()
		if len(revoked) != 1 || revoked[0] != "bob" {
			t.Errorf("got IAM revocations %v, want bob's", revoked)
		}
		if u, err := h.c.DisableUser(h.ctx, "bob", true); err != nil || u.Disabled {
			t.Errorf("got %+v, %v; want bob enabled", u, err)
		}
	})
	t.Run("rm refuses a user with live instances", func(t *testing.T) {
		h.users.as("alice")
		if _, err := h.c.UploadSSHKey(h.ctx, newPublicKey(t)); err != nil {
			t.Fatal(err)
		}
		res, err := h.c.Launch(h.ctx, api.LaunchRequest{})
		h.users.as("ops")
		if err != nil {
			t.Fatal(err)
		}
		e := wantCode(t, h.c.RemoveUser(h.ctx, "alice"), api.CodeConflict)
		if !strings.Contains(e.Message, res.Instances[0].ID) {
			t.Errorf("got %q, want it to name %s", e.Message, res.Instances[0].ID)
		}
		if err := h.c.RemoveUser(h.ctx, "bob"); err != nil {
			t.Errorf("rm bob: %v", err)
		}
		wantCode(t, h.c.RemoveUser(h.ctx, "bob"), api.CodeNotFound)
	})
	t.Run("audited", func(t *testing.T) {
		entries, err := h.c.Audit(h.ctx, api.AuditQuery{Action: "users."})
		if err != nil {
			t.Fatal(err)
		}
		decisions := map[string]int{}
		for _, e := range entries {
			decisions[e.Action+"/"+e.Decision]++
		}
		for _, want := range []string{"users.add/refused", "users.import/refused", "users.import/allowed",
			"users.set/allowed", "users.set/refused", "users.disable/allowed", "users.enable/allowed",
			"users.rm/refused", "users.rm/allowed"} {
			if decisions[want] == 0 {
				t.Errorf("no %s audit entry (got %v)", want, decisions)
			}
		}
	})
}

func TestParsePublicKey(t *testing.T) {
	rsaKey := func(bits int) string {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := ssh.NewPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(ssh.MarshalAuthorizedKey(pk))
	}
	priv, _ := rsa.GenerateKey(rand.Reader, 1024)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}))
	ed := newPublicKey(t)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"ed25519", ed, ""},
		{"ed25519 with comment", strings.TrimSpace(ed) + " alice@host", ""},
		{"rsa 2048", rsaKey(2048), ""},
		{"rsa 1024", rsaKey(1024), "too short"},
		{"private key", privPEM, "PRIVATE key"},
		{"openssh private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "PRIVATE key"},
		{"garbage", "hello", "not an SSH public key"},
		{"two keys", ed + ed, "more than one key"},
		{"options", `command="ls" ` + ed, "options are not accepted"},
		{"empty", "  ", "no public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, fp, err := parsePublicKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "b3Bl") {
					t.Errorf("got %q: the error must not echo the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v", err)
			}
			if !strings.HasPrefix(fp, "SHA256:") || strings.Contains(line, "\n") {
				t.Errorf("got %q, %q; want one line and a SHA256 fingerprint", line, fp)
			}
		})
	}
}

func TestSSHKeyUploadAudited(t *testing.T) {
	h := newHarness(t)
	h.users.as("carol")
	if _, err := h.c.UploadSSHKey(h.ctx, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"); err == nil {
		t.Fatal("got success uploading a private key")
	}
	res, err := h.c.UploadSSHKey(h.ctx, newPublicKey(t))
	if err != nil || res.KeyName != "carol" {
		t.Fatalf("got %+v, %v", res, err)
	}
	entries, _ := h.d.DB().ListAudit(h.ctx, db.AuditFilter{Action: "keys.ssh"})
	if len(entries) != 2 || entries[0].Decision != db.Refused || entries[1].Decision != db.Allowed {
		t.Fatalf("got %+v, want one refused and one allowed keys.ssh entry", entries)
	}
	for _, e := range entries {
		if strings.Contains(e.Reason, "AAAA") || strings.Contains(e.Reason, "BEGIN") {
			t.Errorf("audit reason %q holds key material", e.Reason)
		}
	}
}

// setGroups changes name's groups in the fake name service (as gpasswd would).
func (f *fakeUsers) setGroups(name string, groups ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for uid, info := range f.byUID {
		if info.Name == name {
			info.Groups = groups
			f.byUID[uid] = info
			return
		}
	}
	panic("fakeUsers: no user " + name)
}

// TestGroupEnrolmentFollowsMembership: a member of an enrolment group who used tollgate
// once (and so has a users row) loses access when removed from the group, regains it
// when added back, and keeps it once an admin enrols them; `admin users ls` shows where
// each enrolment comes from.
func TestGroupEnrolmentFollowsMembership(t *testing.T) {
	h := newHarness(t)
	h.users.as("carol") // a member of the enrolment group
	if _, err := h.c.UploadSSHKey(h.ctx, newPublicKey(t)); err != nil {
		t.Fatalf("carol as a group member: %v", err)
	}
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err != nil {
		t.Fatalf("carol launches: %v", err)
	}
	list := func() api.User {
		t.Helper()
		h.users.as("ops")
		l, err := h.c.Users(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range l {
			if u.Name == "carol" {
				return u
			}
		}
		t.Fatalf("carol not listed: %+v", l)
		return api.User{}
	}
	if u := list(); u.Source != "group" || u.EnrollGroup != enrolGroup || !u.Active {
		t.Errorf("while a member: got %+v, want source group via %s, active", u, enrolGroup)
	}

	h.users.setGroups("carol", "carol") // gpasswd -d carol students
	h.users.as("carol")
	_, err := h.c.Launch(h.ctx, api.LaunchRequest{})
	e := wantCode(t, err, api.CodeNotEnrolled)
	if e != nil && !strings.Contains(e.Message, "no longer a member") {
		t.Errorf("refusal %q: want it to say carol is no longer a member", e.Message)
	}
	if _, err := h.c.Instances(h.ctx); api.ErrorCode(err) != api.CodeNotEnrolled {
		t.Errorf("ls after leaving the group: got %v, want not_enrolled", err)
	}
	if u := list(); u.Active || u.EnrollGroup != "" {
		t.Errorf("after leaving: got %+v, want inactive, no enrolment group", u)
	}

	h.users.setGroups("carol", "carol", enrolGroup)
	h.users.as("carol")
	if _, err := h.c.Instances(h.ctx); err != nil {
		t.Errorf("back in the group: %v", err)
	}

	// An admin's enrolment takes over: leaving the group no longer matters.
	h.users.as("ops")
	if _, err := h.c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"carol"}}); err != nil {
		t.Fatalf("admin enrols a group-enrolled user: %v", err)
	}
	h.users.setGroups("carol", "carol")
	h.users.as("carol")
	if _, err := h.c.Instances(h.ctx); err != nil {
		t.Errorf("admin-enrolled, out of the group: %v", err)
	}
	if u := list(); u.Source != "admin" || !u.Active {
		t.Errorf("after the admin's enrolment: got %+v, want source admin, active", u)
	}
}

// TestReadOnlyDatabase: with a database that cannot be written, a group member's first
// `ls` and `quota` are still served, and a launch is refused saying what is wrong and
// where, not "internal error".
func TestReadOnlyDatabase(t *testing.T) {
	h := newHarness(t)
	h.shutdown()
	h.readOnly = true
	h.start()
	h.users.as("carol") // a member of the enrolment group, with no users row yet
	if _, err := h.c.Instances(h.ctx); err != nil {
		t.Errorf("ls on a read-only database: %v", err)
	}
	if _, err := h.c.Quota(h.ctx); err != nil {
		t.Errorf("quota on a read-only database: %v", err)
	}
	_, err := h.c.UploadSSHKey(h.ctx, newPublicKey(t))
	e := wantCode(t, err, api.CodeUnavailable)
	if h.d.DB().Engine() == db.Postgres {
		// A read-only PostgreSQL (a standby, default_transaction_read_only) has no path.
		if !strings.Contains(e.Message, "PostgreSQL server is read-only") || !strings.Contains(e.Message, "nothing was done") {
			t.Errorf("refusal %q: want the server named read-only and nothing done", e.Message)
		}
		return
	}
	if !strings.Contains(e.Message, "not writable by") || !strings.Contains(e.Message, h.cfg.Broker.Database) {
		t.Errorf("refusal %q: want the database path and that it is not writable", e.Message)
	}
}
