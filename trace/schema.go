package trace

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/nt"
)

// Schema returns the JSON Schema (draft 2020-12) of wsktrace v1 lines,
// generated from the same tables the parser uses: $defs/header for line 1 and
// $defs/event for every other line. docs/wsktrace.schema.json is this value
// (a test keeps it current). The schema checks each line on its own; what
// needs earlier lines (bound names, increasing seq, out-parameter names of the
// call being returned from) and the exact address syntax is left to the parser.
func Schema() []byte {
	b, err := json.MarshalIndent(buildSchema(), "", "  ")
	if err != nil {
		panic("trace: internal: " + err.Error())
	}
	return append(b, '\n')
}

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/$defs/" + name} }

func anyOf(s ...any) obj { return obj{"anyOf": s} }

func constantNames() []string {
	var out []string
	for _, n := range nt.ConstantNames() {
		out = append(out, n)
	}
	for n := range extraConstants {
		out = append(out, n)
	}
	for _, s := range nt.AllStatuses() {
		if s.Known() {
			out = append(out, s.String())
		}
	}
	sort.Strings(out)
	return dedup(out)
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func statusNames() []string {
	var out []string
	for _, s := range nt.AllStatuses() {
		out = append(out, s.String())
	}
	sort.Strings(out)
	return out
}

func quoteAlt(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return "(" + strings.Join(q, "|") + ")"
}

func paramSchema(p param) any {
	switch p.kind {
	case pInt:
		if p.name == "Tag" {
			return ref("tag")
		}
		if p.null {
			return anyOf(obj{"type": "null"}, ref("integer"))
		}
		return ref("integer")
	case pEnum:
		return anyOf(obj{"enum": p.enum}, ref("integer"))
	case pBool:
		return obj{"type": "boolean"}
	case pStatus:
		return ref("status")
	case pIRQL:
		return ref("irql")
	case pOutPtr:
		return obj{"enum": []any{true, nil}}
	case pObj:
		return anyOf(obj{"type": "null"}, ref("name"))
	case pPtr:
		return anyOf(obj{"type": "null"}, obj{"const": true}, ref("name"))
	case pBindArg:
		return ref("bind")
	case pNewObj:
		return anyOf(obj{"type": "null"}, ref("bind"))
	case pAddr:
		return anyOf(obj{"type": "null"}, ref("address"))
	case pBuf:
		return anyOf(obj{"type": "null"}, ref("buffer"), ref("eventcontrol"))
	case pIndication:
		return anyOf(obj{"type": "null"}, ref("indication"))
	case pOutBuf:
		return anyOf(obj{"type": "null"}, ref("buffer"), ref("bind"))
	case pStruct:
		return objectOf(p.sub, nil)
	case pText:
		return obj{"type": []string{"string", "number"}}
	case pInfo:
		return anyOf(ref("integer"), ref("bind"), ref("name"))
	case pLabel:
		return ref("name")
	case pProc:
		return anyOf(obj{"type": "null"}, obj{"const": true}, ref("name"), ref("integer"))
	case pLoose:
		return anyOf(obj{"type": "null"}, obj{"const": true}, obj{"type": "string"}, ref("buffer"), ref("bind"))
	}
	panic("trace: internal: parameter kind without a schema")
}

func objectOf(ps []param, required []string) obj {
	props := obj{}
	for _, p := range ps {
		props[p.name] = paramSchema(p)
	}
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func eventSchema(ev string, props obj, required ...string) obj {
	props["seq"] = ref("seq")
	props["ev"] = obj{"const": ev}
	return obj{"type": "object", "properties": props, "required": append([]string{"seq", "ev"}, required...), "additionalProperties": false}
}

func buildSchema() obj {
	consts := constantNames()
	defs := obj{
		"seq": anyOf(obj{"type": "integer", "minimum": 1, "maximum": json.Number("18446744073709551615")}),
		"integer": anyOf(
			obj{"type": "integer", "minimum": json.Number("-9223372036854775808"), "maximum": json.Number("18446744073709551615")},
			obj{"type": "string", "pattern": "^0[xX][0-9a-fA-F]{1,16}$"},
			obj{"type": "string", "pattern": "^" + quoteAlt(consts) + "(\\|" + quoteAlt(consts) + ")*$"},
		),
		"tag": anyOf(
			obj{"type": "integer", "minimum": 0, "maximum": 4294967295},
			obj{"type": "string", "pattern": "^0[xX][0-9a-fA-F]{1,8}$"},
			obj{"type": "string", "pattern": "^[\\x20-\\x7e]{4}$"},
			obj{"type": "string", "pattern": "^" + quoteAlt(consts) + "(\\|" + quoteAlt(consts) + ")*$"},
		),
		"status": anyOf(
			obj{"enum": statusNames()},
			obj{"type": "string", "pattern": "^0[xX][0-9a-fA-F]{1,8}$"},
			obj{"type": "integer", "minimum": 0, "maximum": 4294967295},
		),
		"irql":    obj{"type": "string", "pattern": "^(PASSIVE_LEVEL|APC_LEVEL|DISPATCH_LEVEL|IRQL\\((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\))$"},
		"name":    obj{"type": "string", "pattern": "^[^\\x00-\\x20\"\\\\\\x7f]+$", "minLength": 1, "maxLength": maxNameLength},
		"bind":    obj{"type": "object", "properties": obj{"bind": ref("name")}, "required": []string{"bind"}, "additionalProperties": false},
		"address": obj{"type": "string", "pattern": "^([0-9]{1,3}(\\.[0-9]{1,3}){3}|\\[[0-9a-fA-F:.]+(%[^\\]]+)?\\]):[0-9]{1,5}$"},
		"buffer": obj{
			"type": "object",
			"properties": obj{
				"hex":    obj{"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"},
				"b64":    obj{"type": "string", "pattern": "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"},
				"ref":    ref("name"),
				"len":    anyOf(obj{"type": "integer", "minimum": 0, "maximum": json.Number("18446744073709551615")}, obj{"type": "string", "pattern": "^0[xX][0-9a-fA-F]{1,16}$"}),
				"pool":   ref("name"),
				"offset": obj{"type": "integer", "minimum": 0, "maximum": json.Number("18446744073709551615")},
			},
			"additionalProperties": false,
			"oneOf":                []any{obj{"required": []string{"hex"}}, obj{"required": []string{"b64"}}, obj{"required": []string{"ref"}}, obj{"required": []string{"len"}}},
		},
	}
	var events []any
	for _, name := range Functions() {
		f := functions[name]
		events = append(events, eventSchema("call", obj{
			"fn":   obj{"const": name},
			"args": objectOf(f.args, nil),
			"irql": ref("irql"),
		}, "fn"))
	}
	events = append(events, eventSchema("return", obj{
		"call":   ref("seq"),
		"status": ref("status"),
		"value":  anyOf(obj{"type": []string{"boolean", "null"}}, ref("bind"), obj{"enum": redirectStates}),
		"out":    obj{"type": "object"},
	}, "call"))
	events = append(events, eventSchema("complete", obj{
		"irp":              ref("name"),
		"status":           ref("status"),
		"information":      anyOf(ref("integer"), ref("bind"), ref("name")),
		"out":              obj{"type": "object"},
		"pending_returned": obj{"type": "boolean"},
		"routine_returned": ref("status"),
		"routine_end":      ref("seq"),
		"irql":             ref("irql"),
	}, "irp", "status"))
	var whats []string
	for w := range envKinds {
		whats = append(whats, w)
	}
	sort.Strings(whats)
	for _, w := range whats {
		sp := envKinds[w]
		props := obj{"what": obj{"const": w}}
		req := []string{"what"}
		for _, p := range sp.fields {
			props[p.name] = paramSchema(p)
			if p.req {
				req = append(req, p.name)
				// A required field may not be null.
				props[p.name] = obj{"allOf": []any{paramSchema(p), obj{"not": obj{"type": "null"}}}}
			}
		}
		events = append(events, eventSchema("env", props, req[0:]...))
	}
	events = append(events, eventSchema("note", obj{"text": obj{"type": "string"}}, "text"))
	events = append(events, callbackSchemas(defs)...)
	defs["event"] = obj{"oneOf": events}
	defs["header"] = obj{
		"type": "object",
		"properties": obj{
			"wsktrace":    obj{"const": 1},
			"source":      obj{"type": "string"},
			"profile":     obj{"type": "string", "minLength": 1},
			"completions": obj{"const": "all"},
		},
		"required": []string{"wsktrace"},
		"not":      anyOf(obj{"required": []string{"seq"}}, obj{"required": []string{"ev"}}),
	}
	return obj{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/wsksim/wsksim/docs/wsktrace.schema.json",
		"title":       "wsktrace v1: one line of a trace",
		"description": "Line 1 of a trace is a header ($defs/header); every other non-blank line is an event ($defs/event). Generated from package trace (go test ./trace -run TestSchemaFile -update); what needs earlier lines (bound names, increasing seq, out-parameter names) is checked by the parser only.",
		"$defs":       defs,
		"anyOf":       []any{ref("header"), ref("event")},
	}
}
