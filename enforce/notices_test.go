package enforce

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
)

func openDB(t *testing.T) *db.DB {
	t.Helper()
	return dbtest.OpenRun(t, "")
}

func newNotifier(t *testing.T, mail func(ctx context.Context, to, subject, body string) error) *Notifier {
	t.Helper()
	return NewNotifier(NotifierOptions{DB: openDB(t), Mail: mail})
}

func TestNotifyOncePerRef(t *testing.T) {
	var mails []string
	n := newNotifier(t, func(ctx context.Context, to, subject, body string) error {
		mails = append(mails, to+": "+subject)
		return nil
	})
	ctx := context.Background()
	tests := []struct {
		name, user, kind, ref string
		wantNew               bool
	}{
		{"first", "ann", KindBudget80, "2026-01-01", true},
		{"same again", "ann", KindBudget80, "2026-01-01", false},
		{"next period", "ann", KindBudget80, "2026-02-01", true},
		{"other kind", "ann", KindBudget100, "2026-01-01", true},
		{"other user", "ben", KindBudget80, "2026-01-01", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := n.Notify(ctx, tt.user, tt.kind, tt.ref, "text")
			if err != nil || got != tt.wantNew {
				t.Errorf("Notify: got %v, %v; want %v", got, err, tt.wantNew)
			}
		})
	}
	if n, _ := n.UnreadNotices(ctx, "ann"); n != 3 {
		t.Errorf("ann unread: got %d, want 3", n)
	}
	if len(mails) != 4 {
		t.Errorf("mails: got %d, want one per new notice (4)", len(mails))
	}
	all, err := n.Notices(ctx, "ann", false)
	if err != nil || len(all) != 3 {
		t.Fatalf("Notices: got %d, %v; want 3", len(all), err)
	}
	again, err := n.Notices(ctx, "ann", true)
	if err != nil || len(again) != 3 || !again[0].Read {
		t.Errorf("Notices(all) after reading: got %+v, %v; want 3 marked read", again, err)
	}
}

func TestMailCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mail.txt")
	// tee writes stdin to the file named by its argument: no shell is involved, and
	// "{to}" shows argument substitution.
	svc := NewNotifier(NotifierOptions{DB: openDB(t), MailCommand: []string{"tee", out + ".{to}"}, MailDomain: "example.edu"})
	if _, err := svc.Notify(context.Background(), "ann", KindLeaseWarning, "i-1@x", "Instance i-1 expires soon; $(rm -rf /)"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out + ".ann@example.edu")
	if err != nil {
		t.Fatalf("mail command did not run: %v", err)
	}
	for _, want := range []string{"To: ann@example.edu\n", "Subject: tollgate: lease warning\n", "\n\nInstance i-1 expires soon; $(rm -rf /)\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("mail text %q lacks %q", b, want)
		}
	}
}

func TestMailCommandGetsNoSecrets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env.txt")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "marker-aws-secret")
	t.Setenv("EC2_SECRET_KEY", "marker-ec2-secret")
	if err := runMailCommand(context.Background(), []string{"/bin/sh", "-c", "env > " + out}, "ann", "s", "b"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "marker-") || strings.Contains(string(b), "AWS_") || strings.Contains(string(b), "EC2_") {
		t.Errorf("the mail command's environment holds cloud variables:\n%s", b)
	}
}

func TestMailRecipientRefused(t *testing.T) {
	for _, to := range []string{"-oQ/tmp/x", "ann bob", "ann,bob@example.edu", "ann\n", ""} {
		t.Run(to, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			err := runMailCommand(context.Background(), []string{"/bin/sh", "-c", "touch " + marker}, to, "s", "b")
			if err == nil {
				t.Fatalf("recipient %q accepted", to)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("mail command ran for recipient %q", to)
			}
		})
	}
}

// TestTellAdopted: an instance adopted from its tags alone is flagged to the owner it
// names (whose budget it counts in) and to the admins' inbox; one linked to a launch
// record is not flagged as unverified. Nothing is mailed to the inbox.
func TestTellAdopted(t *testing.T) {
	var mails []string
	n := newNotifier(t, func(ctx context.Context, to, subject, body string) error {
		mails = append(mails, to)
		return nil
	})
	ctx := context.Background()
	n.TellAdopted(ctx, db.Instance{ID: "i-0000000000000000a", Owner: "ann", Type: "t3.micro", Region: "us-west-2"})
	n.TellAdopted(ctx, db.Instance{ID: "i-0000000000000000b", Owner: "ann", Type: "t3.micro", Region: "us-west-2", LaunchID: "r-1"})
	own, err := n.Notices(ctx, "ann", false)
	if err != nil || len(own) != 2 {
		t.Fatalf("ann's notices: %+v, %v; want 2", own, err)
	}
	if !strings.Contains(own[0].Message, "only its tag says it is yours") || strings.Contains(own[1].Message, "only its tag") {
		t.Errorf("owner notices %q / %q: want only the first flagged as unverified", own[0].Message, own[1].Message)
	}
	admin, err := n.Notices(ctx, AdminInbox, false)
	if err != nil || len(admin) != 2 || !strings.Contains(admin[0].Message, "UNVERIFIED") || strings.Contains(admin[1].Message, "UNVERIFIED") {
		t.Errorf("admin notices %+v, %v: want both adoptions, only the first UNVERIFIED", admin, err)
	}
	if len(mails) != 2 || mails[0] != "ann" || mails[1] != "ann" {
		t.Errorf("mails to %q: want ann's two only", mails)
	}
}
