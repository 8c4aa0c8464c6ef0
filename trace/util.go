package trace

import "sort"

func sortStrings(s []string) { sort.Strings(s) }

// article prefixes a noun with "a" or "an".
func article(noun string) string {
	if noun == "" {
		return "an object"
	}
	switch noun[0] {
	case 'a', 'e', 'i', 'o', 'u', 'I':
		return "an " + noun
	}
	return "a " + noun
}
