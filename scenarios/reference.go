package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// areaOf groups commands for the reference in docs/scenarios.md.
func areaOf(name string) string {
	switch {
	case strings.HasPrefix(name, "wsk-"), strings.HasPrefix(name, "peer-"), name == "process", name == "redirected-connect":
		return "wsk"
	case strings.HasPrefix(name, "redirect-"), strings.HasPrefix(name, "callout"), strings.HasPrefix(name, "records-"),
		name == "sublayer", name == "filter", name == "remove-filter", name == "classify", name == "end-flow":
		return "wfp"
	case strings.HasPrefix(name, "provider-"):
		return "provider"
	case strings.HasSuffix(name, "-pool"):
		return "pool"
	case strings.Contains(name, "irp") || strings.Contains(name, "routine") || name == "complete-request":
		return "irp"
	}
	if a, ok := extraAreas[name]; ok {
		return a
	}
	return "world"
}

// extraAreas assigns areas to commands whose names do not say it.
var extraAreas = map[string]string{}

var areaTitles = []struct{ key, title string }{
	{"world", "The world: seeds, choices, policies, faults, time, violations"},
	{"irp", "IRPs (I/O manager)"},
	{"pool", "Pool blocks"},
	{"provider", "The stand-in provider (the provider side of package irp)"},
	{"wsk", "WSK: processes, registration, sockets, WskControlSocket, peers"},
	{"wfp", "WFP: redirect handles, callouts, filters, classify, records"},
}

// CommandReference renders the command reference of docs/scenarios.md.
func CommandReference() string {
	var b strings.Builder
	cs := Commands()
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, a := range areaTitles {
		var in []CommandInfo
		for _, c := range cs {
			if areaOf(c.Name) == a.key {
				in = append(in, c)
			}
		}
		if len(in) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n", a.title)
		for _, c := range in {
			fmt.Fprintf(&b, "\n### `%s`\n\n%s.", c.Name, upperFirst(c.Help))
			if len(c.Args) > 0 {
				fmt.Fprintf(&b, " Arguments: %s.", "`"+strings.Join(c.Args, "`, `")+"`")
			}
			if c.Input {
				b.WriteString(" Takes input lines.")
			}
			fmt.Fprintf(&b, "\n\n```\n%s\n----\n```\n", c.Example)
		}
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
