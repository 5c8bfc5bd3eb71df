package feeds

// csvCell neutralises a CSV value that a spreadsheet would evaluate as a
// formula (OWASP, "CSV Injection"): a value starting with '=', '+', '-',
// '@', a tab or a carriage return gets a leading apostrophe, which
// spreadsheets take as "text follows" and do not show. Catalog titles,
// the reasons built from them and client-chosen visitor and user ids all
// reach these files, and people open them in spreadsheets.
//
// A plain number ("-5", "+3.50") is left as it is: no spreadsheet runs
// it, and an id or amount that is a number should stay one. Nothing else
// changes, so prices ("15.00 USD"), dates, links and hashes, which never
// start with these characters, are untouched.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if !plainNumber(s) {
			return "'" + s
		}
	}
	return s
}

// plainNumber reports whether s is a sign, digits and at most one
// decimal point, with a digit somewhere: "-5", "+0.25", "-.5".
func plainNumber(s string) bool {
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	digits, point := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' && !point:
			point = true
		default:
			return false
		}
	}
	return digits
}
