package config

// RosterEntry is one line of a roster CSV ("username[,group]").
type RosterEntry struct {
	Line  int    `json:"line"`
	User  string `json:"user"`
	Group string `json:"group"`
}
