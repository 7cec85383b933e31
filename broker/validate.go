package broker

import (
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/tollgate/tollgate"
)

// instanceID is EC2's instance id: i- and 8 or 17 lowercase hex digits. Ids are checked
// against it before anything else, so nothing a user typed reaches the database, the
// cloud or the audit log unless it is one.
var instanceID = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)

// maxEcho is how much of a refused input a message quotes back.
const maxEcho = 64

// validInstanceID reports whether s is an EC2 instance id.
func validInstanceID(s string) bool { return instanceID.MatchString(s) }

// badInstanceID is the refusal of a string that is not an instance id; it quotes at most
// maxEcho bytes of it, escaped.
func badInstanceID(s string) *tollgate.Error {
	return &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("%s is not an instance id (i- and 8 or 17 hex digits)", quoteInput(s))}
}

// quoteInput is s as a refusal may show it: Go-quoted (so control characters are
// escapes) and cut to maxEcho bytes on a rune boundary.
func quoteInput(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
