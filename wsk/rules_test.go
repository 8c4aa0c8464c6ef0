package wsk_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

type ruleCase struct {
	rule  string
	fire  func(e *env) // must make the rule fire
	clean func(e *env) // the nearest correct usage: must not
}

func ruleCases() []ruleCase {
	return []ruleCase{
		{wsk.RuleNullArgument,
			func(e *env) { e.p.WskRegister(nil, new(wsk.Registration)) },
			func(e *env) {
				r := new(wsk.Registration)
				e.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, r)
				e.p.WskDeregister(r)
			}},
		{wsk.RuleNullClient,
			func(e *env) {
				i := e.newIRP()
				st := e.p.WskSocket(nil, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, nil, nil, nil, nil, nil, i)
				e.mustStatus("WskSocket(NULL Client)", st, nt.STATUS_INVALID_HANDLE)
				if got := e.completionsOf(i); len(got) != 0 {
					e.t.Errorf("WskSocket(NULL Client) completed its IRP: %v", got)
				}
				e.m.IoFreeIrp(i)
			},
			func(e *env) { e.close(e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)) }},
		{wsk.RuleNullIRP,
			func(e *env) {
				// Windows checks the Irp first: NULL Client and NULL Irp is
				// STATUS_INVALID_PARAMETER, not STATUS_INVALID_HANDLE.
				st := e.p.WskSocket(nil, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, nil, nil, nil, nil, nil, nil)
				e.mustStatus("WskSocket(NULL Client, NULL Irp)", st, nt.STATUS_INVALID_PARAMETER)
				if e.violated(wsk.RuleNullClient) {
					e.t.Errorf("NULL Irp was not checked before the Client:\n%s", e.violations())
				}
			},
			func(e *env) { e.close(e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)) }},
		{wsk.RuleRegisterTwice,
			func(e *env) {
				e.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, e.reg)
			},
			func(e *env) {
				r := new(wsk.Registration)
				e.p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, r)
				e.p.WskDeregister(r)
			}},
		{wsk.RuleNotRegistered,
			func(e *env) {
				var npi wsk.ProviderNPI
				e.p.WskCaptureProviderNPI(new(wsk.Registration), nt.WSK_NO_WAIT, &npi)
			},
			func(e *env) {
				var npi wsk.ProviderNPI
				e.p.WskCaptureProviderNPI(e.reg, nt.WSK_NO_WAIT, &npi)
				e.p.WskReleaseProviderNPI(e.reg)
			}},
		{wsk.RuleReleaseUnbalanced,
			func(e *env) {
				e.p.WskReleaseProviderNPI(e.reg)
				e.p.WskReleaseProviderNPI(e.reg)
				e.p.WskDeregister(e.reg)
			},
			func(e *env) {
				e.p.WskReleaseProviderNPI(e.reg)
				e.p.WskDeregister(e.reg)
			}},
		{wsk.RuleNPIReleased,
			func(e *env) {
				e.p.WskReleaseProviderNPI(e.reg)
				i := e.newIRP()
				e.p.WskSocket(e.npi.Client, nt.AF_INET, nt.SOCK_STREAM, 0, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i)
				e.m.IoFreeIrp(i)
				e.p.WskDeregister(e.reg)
			},
			func(e *env) { e.close(e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)) }},
		{wsk.RuleCaptureHang,
			func(e *env) {
				e.p.SetReady(false)
				var npi wsk.ProviderNPI
				st := e.p.WskCaptureProviderNPI(e.reg, nt.WSK_INFINITE_WAIT, &npi)
				e.mustStatus("WskCaptureProviderNPI", st, nt.STATUS_DEVICE_NOT_READY)
			},
			func(e *env) {
				e.p.SetReady(false)
				e.w.Schedule(5*time.Millisecond, sim.TaskFunc(func() { e.p.SetReady(true) }))
				var npi wsk.ProviderNPI
				e.mustStatus("WskCaptureProviderNPI", e.p.WskCaptureProviderNPI(e.reg, nt.WSK_INFINITE_WAIT, &npi), nt.STATUS_SUCCESS)
				e.p.WskReleaseProviderNPI(e.reg)
			}},
		{wsk.RuleDeregisterHang,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil)
				e.p.WskReleaseProviderNPI(e.reg)
				e.p.WskDeregister(e.reg) // s is still open and nothing will close it
				if !e.reg.Registered() {
					e.t.Fatal("a deregister that cannot finish must leave the registration registered")
				}
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil)
				e.policy(wsk.PolicySync, "pending")
				i := e.newIRP()
				e.mustStatus("WskCloseSocket", e.p.WskCloseSocket(s, i), nt.STATUS_PENDING)
				e.p.WskReleaseProviderNPI(e.reg)
				e.p.WskDeregister(e.reg) // waits, in virtual time, for the close IRP
				if e.reg.Registered() || len(e.completionsOf(i)) != 1 {
					e.t.Fatal("WskDeregister did not wait for the pending close")
				}
				e.m.IoFreeIrp(i)
			}},
		{wsk.RuleRegistrationLeak,
			func(e *env) { e.p.WskReleaseProviderNPI(e.reg); e.w.Close() },
			func(e *env) { e.p.WskReleaseProviderNPI(e.reg); e.p.WskDeregister(e.reg); e.w.Close() }},
		{wsk.RuleNPILeak,
			func(e *env) { e.w.Close() },
			func(e *env) { e.p.WskReleaseProviderNPI(e.reg); e.p.WskDeregister(e.reg); e.w.Close() }},
		{wsk.RuleSocketLeak,
			func(e *env) { e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil); e.w.Close() },
			func(e *env) { e.close(e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil)); e.w.Close() }},
		{wsk.RuleCategory,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
				i := e.newIRP()
				b := e.pool(nil, 4)
				st := e.p.WskSend(s, &wsk.Buf{Block: b, Length: 4}, 0, i)
				e.mustStatus("WskSend on a listening socket", st, nt.STATUS_INVALID_DEVICE_REQUEST)
				if i.InFlight() {
					e.t.Fatal("a refused call must not take the IRP")
				}
				e.m.IoFreeIrp(i)
				e.free(b)
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
				e.mustStatus("WskBind", e.bind(s, "0.0.0.0:0"), nt.STATUS_SUCCESS)
				e.close(s)
			}},
		{wsk.RuleBasicContext,
			func(e *env) {
				_, c := e.do(func(i *irp.IRP) nt.Status {
					return e.p.WskSocket(e.npi.Client, nt.AF_INET, nt.SOCK_STREAM, 0, nt.WSK_FLAG_BASIC_SOCKET, "ctx", nil, nil, nil, nil, i)
				})
				e.mustStatus("WskSocket", c.status, nt.STATUS_INVALID_PARAMETER)
			},
			func(e *env) {
				_, c := e.do(func(i *irp.IRP) nt.Status {
					return e.p.WskSocket(e.npi.Client, nt.AF_INET, nt.SOCK_STREAM, 0, nt.WSK_FLAG_CONNECTION_SOCKET, "ctx", nil, nil, nil, nil, i)
				})
				e.close(e.p.SocketFromInformation(c.info))
			}},
		{wsk.RuleAfterClose,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.close(s)
				i := e.newIRP()
				e.mustStatus("WskBind after close", e.p.WskBind(s, ap("0.0.0.0:0"), 0, i), nt.STATUS_INVALID_HANDLE)
				e.mustStatus("second close", e.p.WskCloseSocket(s, i), nt.STATUS_INVALID_HANDLE)
				e.m.IoFreeIrp(i)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.bind(s, "0.0.0.0:0")
				e.close(s)
			}},
		{wsk.RuleCloseDuringCall,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.policy(wsk.PolicySync, "inline")
				closeIRP := e.newIRP()
				i := e.m.IoAllocateIrp(1, false)
				e.m.IoSetCompletionRoutine(i, func(*irp.IRP, any) nt.Status {
					e.p.WskCloseSocket(s, closeIRP) // the WskBind call is still in progress
					return nt.STATUS_MORE_PROCESSING_REQUIRED
				}, nil, true, true, true)
				e.p.WskBind(s, ap("0.0.0.0:0"), 0, i)
				e.m.IoFreeIrp(i)
				e.m.IoFreeIrp(closeIRP)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.policy(wsk.PolicySync, "pending")
				i := e.newIRP()
				e.p.WskBind(s, ap("0.0.0.0:0"), 0, i) // pending IRPs are allowed at close
				e.close(s)
				e.m.IoFreeIrp(i)
			}},
		{wsk.RuleCallFromCompletion,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				var la netip.AddrPort
				j := e.newIRP()
				_, _ = e.do(func(i *irp.IRP) nt.Status {
					e.m.IoSetCompletionRoutine(i, func(i *irp.IRP, _ any) nt.Status {
						e.p.WskGetLocalAddress(s, &la, j)
						return e.routine(i, nil)
					}, nil, true, true, true)
					return e.p.WskBind(s, ap("0.0.0.0:0"), 0, i)
				})
				e.close(s)
				e.m.IoFreeIrp(j)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.bind(s, "0.0.0.0:0")
				var la netip.AddrPort
				e.do(func(i *irp.IRP) nt.Status { return e.p.WskGetLocalAddress(s, &la, i) })
				e.close(s)
			}},
		{wsk.RuleNotBound,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.mustStatus("WskConnect unbound", e.connect(s, "127.0.0.1:9"), nt.STATUS_INVALID_DEVICE_STATE)
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.bind(s, "0.0.0.0:0")
				e.mustStatus("WskConnect refused", e.connect(s, "127.0.0.1:9"), nt.STATUS_CONNECTION_REFUSED)
				e.close(s)
			}},
		{wsk.RuleReservedFlags,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.do(func(i *irp.IRP) nt.Status { return e.p.WskBind(s, ap("0.0.0.0:0"), 1, i) })
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.bind(s, "0.0.0.0:0")
				e.close(s)
			}},
		{wsk.RuleSetAfterConnect,
			func(e *env) {
				recs := e.issue(wsk.SystemPID)
				s := e.connected()
				b := e.pool(recs, len(recs))
				e.mustStatus("SET after connect", e.set(s, b, uint64(len(recs))).status, nt.STATUS_INVALID_DEVICE_STATE)
				e.free(b)
				e.close(s)
			},
			func(e *env) {
				recs := e.issue(wsk.SystemPID)
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				b := e.pool(recs, len(recs))
				e.mustStatus("SET", e.set(s, b, uint64(len(recs))).status, nt.STATUS_SUCCESS)
				e.free(b)
				e.close(s)
			}},
		{wsk.RuleIRPRequired,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				b := e.pool(nil, 64)
				st := e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, 64, b, 0, nil, nil, nil)
				e.mustStatus("SET without IRP", st, nt.STATUS_INVALID_PARAMETER)
				e.free(b)
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET6, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				b := e.pool([]byte{0, 0, 0, 0}, 4)
				st := e.p.WskControlSocket(s, nt.WskSetOption, nt.IPV6_V6ONLY, nt.IPPROTO_IPV6, 4, b, 0, nil, nil, nil) // IRP optional
				e.mustStatus("IPV6_V6ONLY without IRP", st, nt.STATUS_SUCCESS)
				e.free(b)
				e.close(s)
			}},
		{wsk.RuleIRPMustBeNull,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil)
				i := e.newIRP()
				st := e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_ADDRESS_LIST_QUERY, 0, 0, nil, 0, nil, nil, i)
				e.mustStatus("SIO_ADDRESS_LIST_QUERY with an IRP", st, nt.STATUS_INVALID_PARAMETER)
				e.m.IoFreeIrp(i)
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil)
				var osr uint64
				st := e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_ADDRESS_LIST_QUERY, 0, 0, nil, 0, nil, &osr, nil)
				e.mustStatus("SIO_ADDRESS_LIST_QUERY (not modelled)", st, nt.STATUS_NOT_SUPPORTED)
				e.close(s)
			}},
		{wsk.RuleOptionAfterBind,
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.bind(s, "0.0.0.0:0")
				e.mustStatus("SO_REUSEADDR after bind", e.setOpt(s, nt.SOL_SOCKET, nt.SO_REUSEADDR, 1), nt.STATUS_INVALID_DEVICE_STATE)
				e.close(s)
			},
			func(e *env) {
				s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
				e.mustStatus("SO_REUSEADDR", e.setOpt(s, nt.SOL_SOCKET, nt.SO_REUSEADDR, 1), nt.STATUS_SUCCESS)
				e.bind(s, "0.0.0.0:0")
				e.close(s)
			}},
	}
}

// issue returns records a redirect issued for process pid.
func (e *env) issue(pid uint32) []byte {
	e.t.Helper()
	recs, err := e.p.Engine().IssueRedirect("H9", ap("10.0.0.1:5000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), nil, pid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// connected returns a connection socket connected to a peer listener.
func (e *env) connected() *wsk.Socket {
	e.t.Helper()
	if _, err := e.p.PeerListen(e.p.System(), ap("127.0.0.1:7777")); err != nil {
		e.t.Fatal(err)
	}
	s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	e.mustStatus("WskBind", e.bind(s, "0.0.0.0:0"), nt.STATUS_SUCCESS)
	e.mustStatus("WskConnect", e.connect(s, "127.0.0.1:7777"), nt.STATUS_SUCCESS)
	return s
}

func (e *env) setOpt(s *wsk.Socket, level, code uint32, v uint32) nt.Status {
	b := e.pool([]byte{byte(v), 0, 0, 0}, 4)
	defer e.free(b)
	_, c := e.do(func(i *irp.IRP) nt.Status {
		return e.p.WskControlSocket(s, nt.WskSetOption, code, level, 4, b, 0, nil, nil, i)
	})
	return c.status
}

func TestRules(t *testing.T) {
	covered := map[string]bool{}
	for _, rc := range append(ruleCases(), eventRuleCases()...) {
		covered[rc.rule] = true
		t.Run(rc.rule, func(t *testing.T) {
			e := newEnv(t)
			rc.fire(e)
			if !e.violated(rc.rule) {
				t.Fatalf("%s did not fire; violations:\n%s", rc.rule, e.violations())
			}
			c := newEnv(t)
			rc.clean(c)
			if c.violated(rc.rule) {
				t.Fatalf("%s fired on correct usage:\n%s", rc.rule, c.violations())
			}
		})
	}
	for _, r := range sim.Rules() {
		if !strings.HasPrefix(r.ID, "WSK-") {
			continue
		}
		if !covered[r.ID] {
			t.Errorf("rule %s has no case in TestRules", r.ID)
		}
		if r.Test != "wsk.TestRules/"+r.ID {
			t.Errorf("rule %s names test %q", r.ID, r.Test)
		}
	}
}
