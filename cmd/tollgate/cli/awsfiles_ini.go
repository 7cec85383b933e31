package cli

import (
	"bytes"
	"strings"
)

// setINISection returns data with every section named name replaced by one section made
// of header and body lines (e.g. "[tollgate]" and its key = value lines), or with that
// section appended when there is none. Every byte outside the replaced sections is kept,
// including comments and blank lines that precede the next section (they belong to it),
// and the file's line ending (LF or CRLF) is used for the new lines.
func setINISection(data []byte, name, header string, body []string) []byte {
	lines := splitLinesKeepEOL(data)
	eol := lineEnding(lines, name)
	section := header + eol
	for _, l := range body {
		section += l + eol
	}
	var out bytes.Buffer
	written := false
	for i := 0; i < len(lines); {
		if sectionName(lines[i]) != name {
			out.WriteString(lines[i])
			i++
			continue
		}
		// Lines i..end-1 are ours: up to the next header, less trailing blank and comment
		// lines, which introduce whatever follows.
		next := i + 1
		for next < len(lines) && !isHeader(lines[next]) {
			next++
		}
		end := next
		for end > i+1 && isBlankOrComment(lines[end-1]) {
			end--
		}
		if !written {
			out.WriteString(section)
			written = true
		}
		i = end
	}
	if !written {
		if out.Len() > 0 {
			if !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
				out.WriteString(eol)
			}
			if !bytes.HasSuffix(out.Bytes(), []byte(eol+eol)) {
				out.WriteString(eol)
			}
		}
		out.WriteString(section)
	}
	return out.Bytes()
}

// lineEnding is the file's line ending outside the sections named name: CRLF when most
// lines there end so, else LF. Ignoring our own section makes a second run a no-op.
func lineEnding(lines []string, name string) string {
	crlf, lf := 0, 0
	inOurs := false
	for _, l := range lines {
		if isHeader(l) {
			inOurs = sectionName(l) == name
		}
		switch {
		case inOurs:
		case strings.HasSuffix(l, "\r\n"):
			crlf++
		case strings.HasSuffix(l, "\n"):
			lf++
		}
	}
	if crlf > lf {
		return "\r\n"
	}
	return "\n"
}

// splitLinesKeepEOL splits after each "\n", keeping it; the last line may lack one.
func splitLinesKeepEOL(data []byte) []string {
	var lines []string
	s := string(data)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// isHeader reports whether line is a section header "[...]".
func isHeader(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "[") && strings.Contains(t, "]")
}

// sectionName is the normalised name of a header line ("[ profile  x ]" → "profile x"),
// or "" for any other line.
func sectionName(line string) string {
	if !isHeader(line) {
		return ""
	}
	t := strings.TrimSpace(line)
	inner := t[1:strings.IndexByte(t, ']')]
	return strings.Join(strings.Fields(inner), " ")
}

func isBlankOrComment(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || t[0] == '#' || t[0] == ';'
}
