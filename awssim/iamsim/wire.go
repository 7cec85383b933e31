package iamsim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"
)

const (
	iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	// timeFormat is how IAM writes timestamps (ISO 8601, UTC, seconds).
	timeFormat = "2006-01-02T15:04:05Z"
)

// apiError is an IAM/STS error response.
type apiError struct {
	status int
	code   string
	msg    string
}

func noSuchEntity(format string, args ...any) *apiError {
	return &apiError{status: 404, code: "NoSuchEntity", msg: fmt.Sprintf(format, args...)}
}

func alreadyExists(format string, args ...any) *apiError {
	return &apiError{status: 409, code: "EntityAlreadyExists", msg: fmt.Sprintf(format, args...)}
}

func deleteConflict(what string) *apiError {
	return &apiError{status: 409, code: "DeleteConflict", msg: "Cannot delete entity, must " + what + " first."}
}

func validation(format string, args ...any) *apiError {
	return &apiError{status: 400, code: "ValidationError", msg: fmt.Sprintf(format, args...)}
}

func requestID(n uint64) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	WriteError(w, reqID, e.status, e.code, e.msg)
}

// WriteError writes an IAM/STS query-protocol error (an <ErrorResponse> whose Type is
// Sender, or Receiver for a 5xx status): the one writer for iamsim and for refusals
// awssim makes before a request reaches IAM or STS.
func WriteError(w http.ResponseWriter, reqID string, status int, code, msg string) {
	type errBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errResp struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Error     errBody  `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	out, _ := xml.Marshal(errResp{Error: errBody{Type: typ, Code: code, Message: msg}, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// writeResult writes <ActionResponse xmlns=ns><ActionResult>res</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>.
func writeResult(w http.ResponseWriter, ns, action, reqID string, res any) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	root := xml.StartElement{Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: ns}}}
	_ = enc.EncodeToken(root)
	if res != nil {
		_ = enc.EncodeElement(res, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	type meta struct {
		RequestID string `xml:"RequestId"`
	}
	_ = enc.EncodeElement(meta{reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(root.End())
	_ = enc.Flush()
}

func isoTime(t time.Time) string { return t.UTC().Format(timeFormat) }

var (
	nameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	pathRE = regexp.MustCompile(`^/([\x21-\x7e]{0,510}/)?$`)
)

// requireName reads a required IAM name parameter.
func requireName(c *call, param string) (string, *apiError) {
	v := c.form.Get(param)
	if v == "" {
		return "", validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(param))
	}
	if !nameRE.MatchString(v) {
		return "", validation("The specified value for '%s' is invalid.", lowerFirst(param))
	}
	return v, nil
}

// optionalPath reads a Path or PathPrefix parameter; def when absent.
func optionalPath(c *call, param, def string) (string, *apiError) {
	v := c.form.Get(param)
	if v == "" {
		return def, nil
	}
	if param == "Path" && !pathRE.MatchString(v) {
		return "", validation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	if v[0] != '/' {
		return "", validation("The specified value for pathPrefix is invalid.")
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// page returns the [start, end) window of a listing for this request's Marker and MaxItems
// (default 100, 1..1000 like IAM), and the marker of the next page ("" on the last page).
// keys are the listing's sort keys in order; a marker is the key the next page starts at,
// so deleting what was listed does not make the next page skip anything.
func page(c *call, keys []string) (start, end int, next string, err *apiError) {
	max := 100
	if v := c.form.Get("MaxItems"); v != "" {
		m, perr := strconv.Atoi(v)
		if perr != nil || m < 1 || m > 1000 {
			return 0, 0, "", validation("Invalid value for MaxItems: %q", v)
		}
		max = m
	}
	if mk := c.form.Get("Marker"); mk != "" {
		start = sort.SearchStrings(keys, mk)
	}
	end = start + max
	if end >= len(keys) {
		return start, len(keys), "", nil
	}
	return start, end, keys[end], nil
}

// listPage is one page of a paginated IAM listing, the shape every List action answers
// with: <Element><member>…</member></Element><IsTruncated/><Marker/>.
type listPage[T any] struct {
	element   string
	items     []T
	truncated bool
	marker    string
}

// MarshalXML writes the page as the children of start (the <ActionResult> element).
func (p listPage[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	members := struct {
		Member []T `xml:"member"`
	}{p.items}
	elem := func(name string) xml.StartElement { return xml.StartElement{Name: xml.Name{Local: name}} }
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement(members, elem(p.element)); err != nil {
		return err
	}
	if err := e.EncodeElement(p.truncated, elem("IsTruncated")); err != nil {
		return err
	}
	if p.marker != "" {
		if err := e.EncodeElement(p.marker, elem("Marker")); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// listing answers a paginated List action: it pages keys (the listing's sort keys, in
// order) for this request's Marker and MaxItems and returns the page as the members of
// element, item(i) building the member for keys[i].
func listing[T any](c *call, element string, keys []string, item func(i int) T) (any, *apiError) {
	start, end, next, err := page(c, keys)
	if err != nil {
		return nil, err
	}
	p := listPage[T]{element: element, items: make([]T, 0, end-start), truncated: next != "", marker: next}
	for i := start; i < end; i++ {
		p.items = append(p.items, item(i))
	}
	return p, nil
}
