package catalog

import "fmt"

// RowError says why a row was skipped (or, among warnings, what was
// ignored). Line is the line of the file where the row starts; Item is its
// position among the rows (for XML the item number, for the API the
// position in the request).
type RowError struct {
	Line    int    `json:"line,omitempty"`
	Item    int    `json:"item,omitempty"`
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e RowError) String() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Line == 0 {
		where = fmt.Sprintf("item %d", e.Item)
	}
	if e.ID != "" {
		where += fmt.Sprintf(" (id %q)", e.ID)
	}
	return where + ": " + e.Message
}

// Report is the outcome of an import or upsert.
type Report struct {
	Site     string `json:"site"`
	Version  uint64 `json:"version,omitempty"` // 0 when nothing was switched
	Format   string `json:"format,omitempty"`
	Imported int    `json:"imported"`       // rows in the new version that came from this input
	Kept     int    `json:"kept,omitempty"` // upserts: rows carried over from the previous version
	Skipped  int    `json:"skipped"`
	// Errors lists skipped rows' reasons, the first MaxReportedErrors of
	// them; Skipped counts them all.
	Errors   []RowError `json:"errors"`
	Warnings []RowError `json:"warnings,omitempty"` // ignored columns and fields
}

// MaxReportedErrors bounds Report.Errors so a file of a million bad rows
// does not produce a report of a million lines.
const MaxReportedErrors = 1000

func (r *Report) skip(errs ...RowError) {
	r.Skipped++
	for _, e := range errs {
		if len(r.Errors) < MaxReportedErrors {
			r.Errors = append(r.Errors, e)
		}
	}
}

func (r *Report) warn(e RowError) {
	if len(r.Warnings) < MaxReportedErrors {
		r.Warnings = append(r.Warnings, e)
	}
}
