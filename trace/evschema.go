package trace

import "sort"

// callbackSchemas adds the schema definitions of event callbacks to defs
// and returns the schemas of the callback and callback_return events.
func callbackSchemas(defs obj) []any {
	defs["eventcontrol"] = obj{
		"type":                 "object",
		"description":          "WSK_EVENT_CALLBACK_CONTROL",
		"properties":           obj{"NpiId": obj{"enum": []any{"NPI_WSK_INTERFACE_ID", true, nil}}, "EventMask": ref("integer")},
		"required":             []string{"EventMask"},
		"additionalProperties": false,
	}
	datagram := obj{
		"type":                 "object",
		"properties":           obj{"RemoteAddress": anyOf(obj{"type": "null"}, ref("address")), "ControlInfo": anyOf(obj{"type": "null"}, ref("buffer")), "Buffer": anyOf(obj{"type": "null"}, ref("buffer"))},
		"additionalProperties": false,
	}
	defs["indication"] = obj{
		"type":        "object",
		"description": "a WSK_DATA_INDICATION list (buffers) or a WSK_DATAGRAM_INDICATION list (datagrams)",
		"properties": obj{
			"bind":      ref("name"),
			"buffers":   obj{"type": "array", "items": ref("buffer"), "maxItems": maxIndicationItems},
			"datagrams": obj{"type": "array", "items": datagram, "maxItems": maxIndicationItems},
		},
		"required":             []string{"bind"},
		"additionalProperties": false,
		"not":                  obj{"required": []string{"buffers", "datagrams"}},
	}
	var names []string
	for n := range callbacks {
		names = append(names, n)
	}
	sort.Strings(names)
	var events []any
	for _, n := range names {
		f := callbacks[n]
		events = append(events, eventSchema("callback", obj{
			"fn":   obj{"const": n},
			"args": objectOf(f.args, nil),
			"irql": ref("irql"),
		}, "fn"))
	}
	events = append(events, eventSchema("callback_return", obj{
		"call":   ref("seq"),
		"status": ref("status"),
		"out":    obj{"type": "object"},
	}, "call", "status"))
	return events
}
