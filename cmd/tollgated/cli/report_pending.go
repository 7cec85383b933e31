package cli

import (
	"encoding/json"
	"io"

	"github.com/tollgate/tollgate/accounting"
)

// TEMPORARY until accounting.Render lands: every format prints the report as JSON.
func renderReport(w io.Writer, r accounting.Report, format string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
