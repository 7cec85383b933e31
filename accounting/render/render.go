// Package render writes spend reports as a table, CSV, JSON or a self-contained HTML page
// with an inline SVG chart. It depends only on the report types, so the CLI renders what
// the daemon sends without linking the accounting engine.
package render

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/fsafe"
)

// tollgate.Report output formats.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
	FormatHTML  = "html"
)

// Write writes r as a table, CSV, JSON or a self-contained HTML page. Every format
// prints the same total (USD to 4 decimals in CSV and HTML, the exact float in JSON).
func Write(w io.Writer, r tollgate.Report, format string) error {
	switch format {
	case "", FormatTable:
		return renderTable(w, r)
	case FormatCSV:
		return renderCSV(w, r)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatHTML:
		return renderHTML(w, r)
	}
	return fmt.Errorf("report format %q is not one of table, csv, json, html", format)
}

func hours(sec int64) string { return strconv.FormatFloat(float64(sec)/3600, 'f', 1, 64) }

func usd4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

func dateRange(r tollgate.Report) string {
	return r.Since.UTC().Format(time.DateOnly) + " to " + r.Until.UTC().Format("2006-01-02 15:04") + " UTC"
}

func renderTable(w io.Writer, r tollgate.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "Spend %s by %s", dateRange(r), r.By)
	if !r.AsOf.IsZero() {
		fmt.Fprintf(w, " (last snapshot %s)", r.AsOf.UTC().Format("2006-01-02 15:04"))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(tw, "%s\tINSTANCES\tHOURS\tCOST_USD\t\n", strings.ToUpper(r.By))
	n, secs := 0, int64(0)
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t\n", tollgate.Escape(row.Key), row.Instances, hours(row.RunningSeconds), row.CostUSD)
		n += row.Instances
		secs += row.RunningSeconds
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%s\t%.2f\t\n", len(r.Instances)+len(r.Untracked), hours(secs), r.TotalUSD)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Untracked) > 0 {
		sum := 0.0
		for _, ic := range r.Untracked {
			sum += ic.CostUSD
		}
		fmt.Fprintf(w, "\n%d untracked instance(s) launched outside tollgate cost $%.2f:\n", len(r.Untracked), sum)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tREGION\tTYPE\tSTATE\tHOURS\tCOST_USD\n")
		for _, ic := range r.Untracked {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f%s\n", tollgate.Escape(ic.ID), tollgate.Escape(ic.Region), tollgate.Escape(ic.Type), tollgate.Escape(ic.State),
				hours(ic.RunningSeconds), ic.CostUSD, flags(ic))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Unpriced) > 0 {
		fmt.Fprintf(w, "\nUnpriced instance types (cost unknown, NOT zero): %s\n", tollgate.Escape(strings.Join(r.Unpriced, ", ")))
	}
	return nil
}

// flags marks a cost that is estimated or unknown.
func flags(ic tollgate.InstanceCost) string {
	var f []string
	if ic.Estimated {
		f = append(f, "estimated")
	}
	if ic.Unpriced {
		f = append(f, "unpriced")
	}
	if len(f) == 0 {
		return ""
	}
	return " (" + strings.Join(f, ", ") + ")"
}

// csvText neutralises a text cell a spreadsheet would run as a formula (OWASP "CSV
// injection"): a cell starting with = + - @, a tab or a carriage return gets a leading
// single quote. Keys are names and labels others chose (a user's group, a launch's
// purpose); numeric cells are written as numbers and never pass through here, so a
// negative number stays a number.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func renderCSV(w io.Writer, r tollgate.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{csvText(r.By), "instances", "running_hours", "cost_usd"})
	secs := int64(0)
	for _, row := range r.Rows {
		secs += row.RunningSeconds
		_ = cw.Write([]string{csvText(row.Key), strconv.Itoa(row.Instances), hours(row.RunningSeconds), usd4(row.CostUSD)})
	}
	_ = cw.Write([]string{"TOTAL", strconv.Itoa(len(r.Instances) + len(r.Untracked)), hours(secs), usd4(r.TotalUSD)})
	cw.Flush()
	return cw.Error()
}

// WriteFile writes r to stdout when path is "", or else to a new file at path
// (fsafe.WriteFile: created with mode, 0600 when mode is 0, and renamed into place;
// a symbolic link, anything but a regular file, or a file owned by another user at path
// is refused, never followed or written into): what both `tollgate admin report` and
// `tollgated report` do with --output.
func WriteFile(stdout io.Writer, path string, r tollgate.Report, format string, mode os.FileMode) error {
	if path == "" {
		return Write(stdout, r, format)
	}
	return fsafe.WriteFile(path, fsafe.WriteOptions{Mode: mode}, func(w io.Writer) error {
		if err := Write(w, r, format); err != nil {
			return fmt.Errorf("render report: %w", err)
		}
		return nil
	})
}

// ParseMode reads a --mode flag: octal permission bits such as 600 or 0640; "" is 0
// (the default, 0600).
func ParseMode(s string) (os.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 || v == 0 {
		return 0, fmt.Errorf("mode %q is not octal permission bits between 1 and 0777 (e.g. 600, 640)", s)
	}
	return os.FileMode(v), nil
}
