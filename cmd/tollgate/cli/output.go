package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate"
)

// printJSON writes v as one indented JSON document: the stable, scriptable output.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// table writes aligned columns; Flush must be called.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		} else {
			cells[i] = printable(c)
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// oneLine collapses a message to one line: the contract is one line per error.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return printable(strings.ReplaceAll(s, "\n", "; "))
}

// printable is tollgate.Escape: what a terminal would interpret, escaped.
func printable(s string) string { return tollgate.Escape(s) }

// relTime shows t relative to now ("in 3h12m", "5m ago"); zero is "-".
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Minute)
	switch {
	case d > 0:
		return "in " + shortDur(d)
	case d < 0:
		return shortDur(-d) + " ago"
	default:
		return "now"
	}
}

// stamp is a timestamp in the caller's local time zone, to the minute.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// usd formats dollars with cents (and tenths of a cent below a dollar, where small
// instances live).
func usd(v float64) string {
	if v != 0 && v < 1 && v > -1 {
		return fmt.Sprintf("$%.3f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

// currentUser looks the caller up in the password database.
func currentUser() (*user.User, error) { return user.Current() }

// shortDur prints a positive duration to the minute: "3h12m", "2d4h", "45m".
func shortDur(d time.Duration) string {
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	m := (d - h*time.Hour) / time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	default:
		return fmt.Sprintf("%dm", m)
	}
}
