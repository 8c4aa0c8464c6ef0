package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/trace"
)

// SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format): one run
// of tool "wsksim", one result per finding, each located at the trace file
// and line. Test TestSARIFValidates decodes every log strictly against the
// subset of the 2.1.0 schema used here and checks its required properties.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules,omitempty"`
}

type sarifRule struct {
	ID               string        `json:"id"`
	ShortDescription *sarifMessage `json:"shortDescription,omitempty"`
	HelpURI          string        `json:"helpUri,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// Rule IDs of the results that are not contract rules.
const (
	sarifDiverges = "WSKSIM-DIVERGES"
	sarifUnusable = "WSKSIM-UNUSABLE"
)

// replaySARIF writes the findings of a replay: the divergence (ruleId
// WSKSIM-DIVERGES), each violation (ruleId the contract rule's ID) and an
// unusable trace's error (WSKSIM-UNUSABLE), all with level "error". A
// finding at line 0 (found at the end of the trace) points at lastLine.
func replaySARIF(w io.Writer, uri string, lastLine int, rep *trace.Report) error {
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion}
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "wsksim", Version: Version(),
		InformationURI: "https://github.com/wsksim/wsksim/blob/main/docs/oracle.md"}}, Results: []sarifResult{}}
	index := map[string]int{}
	ruleIndex := func(id, desc string) int {
		if k, ok := index[id]; ok {
			return k
		}
		r := sarifRule{ID: id}
		if desc != "" {
			r.ShortDescription = &sarifMessage{Text: desc}
		}
		if strings.HasPrefix(id, "WSKSIM-") {
			r.HelpURI = "https://github.com/wsksim/wsksim/blob/main/docs/oracle.md"
		} else {
			r.HelpURI = "https://github.com/wsksim/wsksim/blob/main/docs/rules.md"
		}
		index[id] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, r)
		return index[id]
	}
	at := func(line, col int) []sarifLocation {
		if line < 1 {
			line, col = lastLine, 0
		}
		return []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegion{StartLine: line, StartColumn: col}}}}
	}
	add := func(id, desc, msg string, line, col int) {
		run.Results = append(run.Results, sarifResult{RuleID: id, RuleIndex: ruleIndex(id, desc), Level: "error", Message: sarifMessage{Text: msg}, Locations: at(line, col)})
	}
	if e := rep.Error; e != nil {
		add(sarifUnusable, "the trace cannot be used (malformed, unknown field, unbound name)", e.Msg, e.Line, e.Column)
	}
	if d := rep.Divergence; d != nil {
		msg := fmt.Sprintf("%s: observed %s; the model allows %s (%s)", d.Call, d.Observed, d.Allowed, d.Rule)
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		add(sarifDiverges, "an observed outcome is not allowed by the model", msg, d.Line, 0)
	}
	for _, v := range rep.Violations {
		desc := ""
		if r, ok := sim.LookupRule(v.Rule); ok {
			desc = r.Statement
		}
		msg := v.Detail
		if v.Call != "" {
			msg = v.Call + ": " + msg
		}
		if v.BugCheck != "" {
			msg += " (bug check " + v.BugCheck + ")"
		}
		add(v.Rule, desc, msg, v.Line, 0)
	}
	log.Runs = []sarifRun{run}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
