package fuzz

import (
	"fmt"

	"github.com/wsksim/wsksim/scenarios"
)

// eventMasks is table E of OpEvents.
var eventMasks = []string{"WSK_EVENT_ACCEPT", "WSK_EVENT_RECEIVE|WSK_EVENT_DISCONNECT", "WSK_EVENT_RECEIVE_FROM",
	"WSK_EVENT_SEND_BACKLOG", "WSK_EVENT_ACCEPT|WSK_EVENT_DISABLE", "WSK_EVENT_RECEIVE|WSK_EVENT_DISABLE", "0x400"}

// events runs OpEvents: event-driven sockets through the scenario commands
// of scenarios/cmd_events.go.
func (r *runner) events(a []byte) {
	k, s, v := a[0]%8, a[1], a[2]
	switch k {
	case 0:
		fl := pick(socketFlags, v)
		args := []scenarios.Arg{r.client(), kv("flags", fl)}
		if fl == "WSK_FLAG_DATAGRAM_SOCKET" {
			args = append(args, kv("type", "SOCK_DGRAM"), kv("protocol", "IPPROTO_UDP"))
		}
		r.exec("wsk-event-socket", append(args, r.irp(s))...)
	case 1:
		r.exec("wsk-events", r.socket(s), kv("mask", pick(eventMasks, v)))
	case 2:
		r.exec("wsk-events", r.socket(s), kv("mask", pick(eventMasks, v)), r.irp(v>>4))
	case 3:
		r.exec("on-event", r.socket(s), kv("callback", "WskAcceptEvent"), kv("answer", pick([]string{"accept", "refuse"}, v)))
	case 4:
		r.exec("on-event", r.socket(s), kv("callback", "WskReceiveEvent"), kv("answer", pick([]string{"all", "1", "not-accepted", "pending"}, v)))
	case 5:
		r.exec("on-event", r.socket(s), kv("callback", "WskReceiveFromEvent"), kv("answer", pick([]string{"take", "not-accepted", "pending"}, v)))
	case 6:
		r.exec("wsk-static-events", r.client(), kv("mask", pick(eventMasks, v)))
	case 7:
		r.exec("wsk-release-indication", r.socket(s), kv("indication", fmt.Sprintf("di%d", v%4+1)))
	}
}
