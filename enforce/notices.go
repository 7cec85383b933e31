package enforce

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
)

// Notice kinds.
const (
	KindLeaseWarning = "lease_warning" // a lease ends soon
	KindLeaseExpired = "lease_expired" // the reaper stopped or terminated an instance
	KindBudget80     = "budget_80"     // 80% of the budget spent
	KindBudget100    = "budget_100"    // the budget is spent
	KindBudgetAction = "budget_action" // budget_action stopped or terminated instances
	KindAdopted      = "adopted"       // reconcile adopted an instance launched outside the daemon
)

// Notice is one message to a user.
type Notice = tollgate.Notice

// NotifierOptions wires a Notifier.
type NotifierOptions struct {
	DB *db.DB
	// MailCommand, if set, mails each new notice (argv, "{to}" replaced by the
	// recipient); MailDomain makes the recipient user@domain.
	MailCommand []string
	MailDomain  string
	// Mail, if set, replaces running MailCommand (tests). It gets the user's mail
	// address, a subject and the notice text.
	Mail   func(ctx context.Context, to, subject, body string) error
	Logger *slog.Logger
	Now    func() time.Time
}

// Notifier stores notices for users (shown at their next CLI call) and mails new ones.
type Notifier struct {
	opts NotifierOptions
	log  *slog.Logger
}

// NewNotifier returns a Notifier; DB is required.
func NewNotifier(o NotifierOptions) *Notifier {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{opts: o, log: o.Logger}
}

func (s *Notifier) now() time.Time { return s.opts.Now().UTC() }

// mailTimeout bounds one run of mail_command, so a stuck mailer cannot stall the reaper.
const mailTimeout = 30 * time.Second

// Notify stores a notice for user, once per (kind, ref): sending the same notice again
// (a second reaper pass, a cron collector and the daemon at once) is a no-op. A new
// notice is also mailed when mail_command is configured. It reports whether the notice
// was new. The message must not hold a secret.
func (s *Notifier) Notify(ctx context.Context, user, kind, ref, message string) (bool, error) {
	var added bool
	err := s.opts.DB.Immediate(ctx, func(tx *db.Tx) error {
		var err error
		added, err = s.notifyTx(ctx, tx, user, kind, ref, message)
		return err
	})
	if err != nil {
		return false, err
	}
	if added && user != AdminInbox {
		s.mail(ctx, user, kind, message)
	}
	return added, nil
}

func (s *Notifier) notifyTx(ctx context.Context, q db.Querier, user, kind, ref, message string) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO notices(user, at, kind, ref, message) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(user, kind, ref) DO NOTHING`, user, db.Time(s.now()), kind, ref, message)
	if err != nil {
		return false, fmt.Errorf("store notice for %s: %w", user, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Notices returns the user's notices (unread only unless all) and marks them read. Read
// tells whether each had been read before this call.
func (s *Notifier) Notices(ctx context.Context, user string, all bool) ([]Notice, error) {
	out := []Notice{}
	err := s.opts.DB.Immediate(ctx, func(tx *db.Tx) error {
		q := `SELECT id, user, at, kind, message, read FROM notices WHERE user = ?`
		if !all {
			q += ` AND read = 0`
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY id`, user)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n Notice
			var at string
			if err := rows.Scan(&n.ID, &n.User, &at, &n.Kind, &n.Message, &n.Read); err != nil {
				rows.Close()
				return err
			}
			n.At, _ = db.ParseTime(at)
			out = append(out, n)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE notices SET read = 1 WHERE user = ? AND read = 0`, user)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notices of %s: %w", user, err)
	}
	return out, nil
}

// UnreadNotices counts the user's unread notices.
func (s *Notifier) UnreadNotices(ctx context.Context, user string) (int, error) {
	var n int
	if err := s.opts.DB.QueryRowContext(ctx, `SELECT count(*) FROM notices WHERE user = ? AND read = 0`,
		user).Scan(&n); err != nil {
		return 0, fmt.Errorf("unread notices of %s: %w", user, err)
	}
	return n, nil
}

// mail sends a notice by mail_command (or Options.Mail); failures are logged, never
// fatal: the notice is stored either way.
func (s *Notifier) mail(ctx context.Context, user, kind, message string) {
	to := user
	if s.opts.MailDomain != "" {
		to = user + "@" + s.opts.MailDomain
	}
	subject := "tollgate: " + strings.ReplaceAll(kind, "_", " ")
	var err error
	switch {
	case s.opts.Mail != nil:
		err = s.opts.Mail(ctx, to, subject, message)
	case len(s.opts.MailCommand) > 0:
		err = runMailCommand(ctx, s.opts.MailCommand, to, subject, message)
	default:
		return
	}
	if err != nil {
		s.log.Warn("mail notice", slog.String(logKeyUser, user), slog.String(logKeyKind, kind),
			slog.String(logKeyError, err.Error()))
	}
}

// runMailCommand runs argv without a shell ("{to}" in an argument becomes the recipient)
// with a mail message on stdin: To and Subject headers, a blank line, the text.
//
// The child gets a fixed, minimal environment: the daemon's own holds the cloud
// credentials (AWS_SECRET_ACCESS_KEY, EC2_SECRET_KEY), which a mailer and whatever it runs
// must never see. A recipient that could be read as an option is refused.
func runMailCommand(ctx context.Context, argv []string, to, subject, body string) error {
	if !safeRecipient(to) {
		return fmt.Errorf("mail command: refusing recipient %q (only letters, digits and ._+@- allowed, not starting with -)", to)
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = strings.ReplaceAll(a, "{to}", to)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = mailEnv
	cmd.Stdin = strings.NewReader(fmt.Sprintf("To: %s\nSubject: %s\n\n%s\n", to, subject, body))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mail command %s: %w: %s", args[0], err, firstLine(strings.TrimSpace(string(out))))
	}
	return nil
}

// mailEnv is the whole environment of a mail command.
var mailEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// safeRecipient accepts user names and user@domain addresses that no mailer reads as an
// option or as several recipients.
func safeRecipient(to string) bool {
	if to == "" || to[0] == '-' || len(to) > 254 {
		return false
	}
	for _, r := range to {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("._+@-", r):
		default:
			return false
		}
	}
	return true
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// AdminInbox is the notice recipient every admin reads (at their next CLI call, like
// their own notices): what the daemon wants an admin to look at.
const AdminInbox = "@admins"

// TellAdopted tells the owner an adopted instance names, and the admins, that it exists
// and is counted as the owner's: the owner may believe the launch failed (the daemon died
// before answering), or the tag may be someone else's doing. It is the user purpose's
// fleet.PurposeRules.Adopted.
func (s *Notifier) TellAdopted(ctx context.Context, row db.Instance) {
	verified := row.LaunchID != ""
	msg := fmt.Sprintf("instance %s (%s in %s) was found in the cloud with your tag and is now managed by tollgate; its lease ends %s",
		row.ID, row.Type, row.Region, row.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
	if !verified {
		msg += "; no launch of yours is on record for it, so only its tag says it is yours: its cost counts in your budget, tell a tollgate admin if it is not yours"
	}
	admin := fmt.Sprintf("instance %s (%s in %s) was adopted from its tags as %s's", row.ID, row.Type, row.Region, row.Owner)
	if !verified {
		admin += " (UNVERIFIED: no launch record; `tollgate admin instances ls --adopted`)"
	}
	for _, n := range [][2]string{{row.Owner, msg}, {AdminInbox, admin}} {
		if _, err := s.Notify(ctx, n[0], KindAdopted, row.ID, n[1]); err != nil {
			s.log.Warn("notify adoption", slog.String("instance", row.ID), slog.String(logKeyUser, n[0]),
				slog.String(logKeyError, err.Error()))
		}
	}
}
