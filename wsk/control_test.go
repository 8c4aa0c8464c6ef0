package wsk_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
)

// TestSetRecordsStatuses drives SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS to
// each status it can complete with.
func TestSetRecordsStatuses(t *testing.T) {
	type tc struct {
		name  string
		setup func(e *env) (s *wsk.Socket, blob *irp.Block, size uint64)
		want  nt.Status
		rule  string // violation expected, if any
	}
	conn := func(e *env) *wsk.Socket { return e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil) }
	good := func(e *env) (*wsk.Socket, *irp.Block, uint64) {
		r := e.issue(wsk.SystemPID)
		return conn(e), e.pool(r, len(r)), uint64(len(r))
	}
	cases := []tc{
		{"success", good, nt.STATUS_SUCCESS, ""},
		{"overflow-maxulong+1", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			s, b, _ := good(e)
			return s, b, uint64(nt.MAXULONG) + 1
		}, nt.STATUS_INTEGER_OVERFLOW, ""},
		{"overflow-max-size_t", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			s, b, _ := good(e)
			return s, b, math.MaxUint64
		}, nt.STATUS_INTEGER_OVERFLOW, ""},
		{"access-denied-non-elevated", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			pr, _ := e.p.AddProcess(700, "user.exe", false)
			r := e.issue(700)
			return e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, pr), e.pool(r, len(r)), uint64(len(r))
		}, nt.STATUS_ACCESS_DENIED, ""},
		{"access-denied-forged", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			s, b, n := good(e)
			b.Bytes()[n-1] ^= 0xFF
			return s, b, n
		}, nt.STATUS_ACCESS_DENIED, ""},
		{"access-denied-other-target", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			r := e.issue(1234)
			return conn(e), e.pool(r, len(r)), uint64(len(r))
		}, nt.STATUS_ACCESS_DENIED, ""},
		{"invalid-parameter-truncated", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			s, b, n := good(e)
			return s, b, n - 1
		}, nt.STATUS_INVALID_PARAMETER, ""},
		{"invalid-parameter-zero-size", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			s, b, _ := good(e)
			return s, b, 0
		}, nt.STATUS_INVALID_PARAMETER, ""},
		{"invalid-parameter-null-buffer", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			return conn(e), nil, 96
		}, nt.STATUS_INVALID_PARAMETER, ""},
		{"invalid-parameter-overrun", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			s, b, n := good(e)
			return s, b, n + 100
		}, nt.STATUS_INVALID_PARAMETER, irp.RuleBufOverrun},
		{"not-supported-listen", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			r := e.issue(wsk.SystemPID)
			return e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil), e.pool(r, len(r)), uint64(len(r))
		}, nt.STATUS_NOT_SUPPORTED, ""},
		{"not-supported-datagram", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			r := e.issue(wsk.SystemPID)
			return e.socket(nt.AF_INET, nt.WSK_FLAG_DATAGRAM_SOCKET, nil), e.pool(r, len(r)), uint64(len(r))
		}, nt.STATUS_NOT_SUPPORTED, ""},
		{"invalid-device-state-after-connect", func(e *env) (*wsk.Socket, *irp.Block, uint64) {
			r := e.issue(wsk.SystemPID)
			return e.connected(), e.pool(r, len(r)), uint64(len(r))
		}, nt.STATUS_INVALID_DEVICE_STATE, wsk.RuleSetAfterConnect},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, sync := range []string{"inline", "pending"} {
				e := newEnv(t)
				e.policy(wsk.PolicySync, sync)
				s, b, n := c.setup(e)
				e.policy(wsk.PolicySync, sync)
				ret, comp := e.do(func(i *irp.IRP) nt.Status {
					return e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, n, b, 0, nil, nil, i)
				})
				if (sync == "pending") != (ret == nt.STATUS_PENDING) || comp.pending != (sync == "pending") {
					t.Fatalf("%s: returned %v (PendingReturned %v)", sync, ret, comp.pending)
				}
				e.mustStatus(c.name, comp.status, c.want)
				if comp.info != 0 {
					t.Fatalf("Information %d, want 0", comp.info)
				}
				if (c.want == nt.STATUS_SUCCESS) != (s.Records() != nil) {
					t.Fatalf("records stored %v after %v", s.Records() != nil, comp.status)
				}
				if !wsk.StatusAllowed(wsk.ControlCall(nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS), comp.status) {
					t.Fatalf("%v not documented for SET", comp.status)
				}
				if c.rule != "" && !e.violated(c.rule) {
					t.Fatalf("expected %s", c.rule)
				}
				if b != nil {
					e.free(b)
				}
				e.close(s)
				allowed := []string{}
				if c.rule != "" {
					allowed = append(allowed, c.rule)
				}
				e.teardown(allowed...)
			}
		})
	}
}

func TestSetRecordsPolicies(t *testing.T) {
	t.Run("P-SET2", func(t *testing.T) {
		for _, opt := range []string{"replace", "reject"} {
			e := newEnv(t)
			e.policy(wsk.PolicySetTwice, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			r1, r2 := e.issue(wsk.SystemPID), e.issue(wsk.SystemPID)
			b1, b2 := e.pool(r1, len(r1)), e.pool(r2, len(r2))
			e.mustStatus("first SET", e.set(s, b1, uint64(len(r1))).status, nt.STATUS_SUCCESS)
			st := e.set(s, b2, uint64(len(r2))).status
			want, keep := nt.STATUS_SUCCESS, r2
			if opt == "reject" {
				want, keep = nt.STATUS_INVALID_DEVICE_STATE, r1
			}
			e.mustStatus("second SET", st, want)
			if !bytes.Equal(s.Records(), keep) {
				t.Fatalf("%s: wrong records kept", opt)
			}
			e.free(b1)
			e.free(b2)
			e.close(s)
			e.teardown()
		}
	})
	t.Run("P-SETBOUND", func(t *testing.T) {
		for opt, want := range map[string]nt.Status{"allow": nt.STATUS_SUCCESS, "reject": nt.STATUS_INVALID_DEVICE_STATE} {
			e := newEnv(t)
			e.policy(wsk.PolicySetBound, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			e.bind(s, "0.0.0.0:0")
			r := e.issue(wsk.SystemPID)
			b := e.pool(r, len(r))
			e.mustStatus(opt, e.set(s, b, uint64(len(r))).status, want)
			e.free(b)
			e.close(s)
			e.teardown()
		}
	})
	t.Run("P-SETLATE", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicySetLate, "ignore")
		s := e.connected()
		r := e.issue(wsk.SystemPID)
		b := e.pool(r, len(r))
		e.mustStatus("ignored late SET", e.set(s, b, uint64(len(r))).status, nt.STATUS_SUCCESS)
		if s.Records() != nil || !e.violated(wsk.RuleSetAfterConnect) {
			t.Fatal("late SET must be dropped and reported")
		}
		e.free(b)
		e.close(s)
		e.teardown(wsk.RuleSetAfterConnect)
	})
	t.Run("P-OVF", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wfp.PolicyOverflow, "a+b+c")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		b := e.pool(nil, wfp.MaxRecordsSize+1)
		e.mustStatus("SET above MaxRecordsSize", e.set(s, b, wfp.MaxRecordsSize+1).status, nt.STATUS_INTEGER_OVERFLOW)
		e.policy(wfp.PolicyOverflow, "c")
		e.mustStatus("SET of 2^32 under c", e.set(s, b, 1<<32).status, nt.STATUS_INVALID_PARAMETER) // BUF-OVERRUN instead
		e.free(b)
		e.close(s)
		e.teardown(irp.RuleBufOverrun)
	})
	t.Run("P-ZERO", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyZero, "clear")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		r := e.issue(wsk.SystemPID)
		b := e.pool(r, len(r))
		e.set(s, b, uint64(len(r)))
		e.mustStatus("zero SET clears", e.set(s, nil, 0).status, nt.STATUS_SUCCESS)
		if s.Records() != nil {
			t.Fatal("records not cleared")
		}
		e.free(b)
		e.close(s)
		e.teardown()
	})
	t.Run("P-MISMATCH", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyMismatch, "STATUS_ACCESS_DENIED")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		r := e.issue(wsk.SystemPID)
		b := e.pool(r, len(r))
		e.mustStatus("truncated", e.set(s, b, uint64(len(r)-1)).status, nt.STATUS_ACCESS_DENIED)
		e.free(b)
		e.close(s)
		e.teardown()
	})
	t.Run("P-OUTBUF", func(t *testing.T) {
		for opt, want := range map[string]nt.Status{"ignore": nt.STATUS_SUCCESS, "reject": nt.STATUS_INVALID_PARAMETER} {
			e := newEnv(t)
			e.policy(wsk.PolicyOutBuf, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			r := e.issue(wsk.SystemPID)
			b := e.pool(r, len(r))
			var osr uint64
			_, c := e.do(func(i *irp.IRP) nt.Status {
				return e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, uint64(len(r)), b, 0, nil, &osr, i)
			})
			e.mustStatus(opt, c.status, want)
			e.free(b)
			e.close(s)
			e.teardown()
		}
	})
	t.Run("P-LEVEL", func(t *testing.T) {
		for opt, want := range map[string]nt.Status{"ignore": nt.STATUS_SUCCESS, "reject": nt.STATUS_INVALID_PARAMETER} {
			e := newEnv(t)
			e.policy(wsk.PolicyLevel, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			r := e.issue(wsk.SystemPID)
			b := e.pool(r, len(r))
			_, c := e.do(func(i *irp.IRP) nt.Status {
				return e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, nt.SOL_SOCKET, uint64(len(r)), b, 0, nil, nil, i)
			})
			e.mustStatus(opt, c.status, want)
			e.free(b)
			e.close(s)
			e.teardown()
		}
	})
	t.Run("P-IRQL", func(t *testing.T) {
		for opt, fires := range map[string]bool{"enforce-passive": true, "allow-dispatch": false} {
			e := newEnv(t)
			e.policy(wsk.PolicyIRQL, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			r := e.issue(wsk.SystemPID)
			b := e.pool(r, len(r))
			old := e.w.SetIRQL(nt.DISPATCH_LEVEL)
			i := e.newIRP()
			e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, uint64(len(r)), b, 0, nil, nil, i)
			e.w.SetIRQL(old)
			e.w.RunUntilIdle()
			if e.violated("IRQL-ABOVE-MAX") != fires {
				t.Fatalf("%s: IRQL-ABOVE-MAX fired=%v", opt, !fires)
			}
			e.m.IoFreeIrp(i)
			e.free(b)
			e.close(s)
			e.teardown("IRQL-ABOVE-MAX")
		}
	})
	t.Run("P-NOIRP", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyNoIRP, "status-only")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		st := e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 0, nil, nil, nil)
		e.mustStatus("status-only", st, nt.STATUS_INVALID_PARAMETER)
		e.close(s)
		e.teardown()
	})
}

// TestCancelPendingSet covers P-CANCEL and P-CLOSE for a pending SET.
func TestCancelPendingSet(t *testing.T) {
	for _, opt := range []string{"cancel", "ignore"} {
		e := newEnv(t)
		e.policy(wsk.PolicySync, "pending")
		e.policy(wsk.PolicyCancel, opt)
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		r := e.issue(wsk.SystemPID)
		b := e.pool(r, len(r))
		i := e.newIRP()
		st := e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, uint64(len(r)), b, 0, nil, nil, i)
		e.mustStatus("pending SET", st, nt.STATUS_PENDING)
		if !e.m.IoCancelIrp(i) {
			t.Fatal("a pending SET must have a cancel routine")
		}
		e.w.RunUntilIdle()
		cs := e.completionsOf(i)
		if len(cs) != 1 {
			t.Fatalf("%s: completed %d times", opt, len(cs))
		}
		want := nt.STATUS_CANCELLED
		if opt == "ignore" {
			want = nt.STATUS_SUCCESS
		}
		e.mustStatus(opt, cs[0].status, want)
		if (s.Records() != nil) != (want == nt.STATUS_SUCCESS) {
			t.Fatalf("%s: records kept=%v after %v", opt, s.Records() != nil, want)
		}
		e.m.IoFreeIrp(i)
		e.free(b)
		e.close(s)
		e.teardown()
	}
	for _, opt := range []string{"STATUS_CANCELLED", "STATUS_FILE_FORCED_CLOSED", "STATUS_CONNECTION_ABORTED"} {
		e := newEnv(t)
		e.policy(wsk.PolicyClose, opt)
		e.policy(wsk.PolicySync, "pending")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		r := e.issue(wsk.SystemPID)
		b := e.pool(r, len(r))
		i := e.newIRP()
		e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, uint64(len(r)), b, 0, nil, nil, i)
		e.close(s)
		cs := e.completionsOf(i)
		if len(cs) != 1 || cs[0].status.String() != opt {
			t.Fatalf("P-CLOSE=%s: completions %+v", opt, cs)
		}
		e.m.IoFreeIrp(i)
		e.free(b)
		e.teardown()
	}
}

// TestQueryStatuses drives both QUERY IOCTLs to each status.
func TestQueryStatuses(t *testing.T) {
	for _, code := range []uint32{nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT} {
		call := wsk.ControlCall(nt.WskIoctl, code)
		t.Run(call, func(t *testing.T) {
			setup := func(e *env, owner *wsk.Process) (ls, in *wsk.Socket, want []byte) {
				ls = e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, owner)
				e.bind(ls, "127.0.0.1:9000")
				if _, err := e.p.RedirectedConnect("", ap("10.0.0.1:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", []byte("original-destination"), 4); err != nil {
					t.Fatal(err)
				}
				in = e.accept(ls)
				want = []byte("original-destination")
				if code == nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS {
					want = e.queryAll(in, code)
				}
				return ls, in, want
			}
			for _, sync := range []string{"inline", "pending"} {
				e := newEnv(t)
				ls, in, want := setup(e, nil)
				e.policy(wsk.PolicySync, sync)
				need := uint64(len(want))
				// SUCCESS with a large buffer.
				b := e.pool(nil, 1024)
				c, osr := e.query(in, code, b, 1024)
				if c.status != nt.STATUS_SUCCESS || c.info != need || osr != need || !bytes.Equal(b.Bytes()[:need], want) {
					t.Fatalf("%s SUCCESS: %v info=%d osr=%d", sync, c.status, c.info, osr)
				}
				// BUFFER_TOO_SMALL: short buffer and the NULL/0 probe.
				c, osr = e.query(in, code, b, need-1)
				if c.status != nt.STATUS_BUFFER_TOO_SMALL || osr != need || c.info != 0 {
					t.Fatalf("short buffer: %v osr=%d info=%d", c.status, osr, c.info)
				}
				c, osr = e.query(in, code, nil, 0)
				if c.status != nt.STATUS_BUFFER_TOO_SMALL || osr != need || c.info != 0 {
					t.Fatalf("probe: %v osr=%d info=%d", c.status, osr, c.info)
				}
				// INTEGER_OVERFLOW before anything is lent.
				c, _ = e.query(in, code, b, uint64(nt.MAXULONG)+1)
				e.mustStatus("overflow", c.status, nt.STATUS_INTEGER_OVERFLOW)
				// NOT_FOUND on a connection that was not redirected.
				plain := e.connected()
				c, _ = e.query(plain, code, b, 1024)
				e.mustStatus("not redirected", c.status, nt.STATUS_NOT_FOUND)
				// NOT_SUPPORTED on the listener (P-CAT).
				c, _ = e.query(ls, code, b, 1024)
				e.mustStatus("listener", c.status, nt.STATUS_NOT_SUPPORTED)
				for _, st := range []nt.Status{nt.STATUS_SUCCESS, nt.STATUS_BUFFER_TOO_SMALL, nt.STATUS_INTEGER_OVERFLOW, nt.STATUS_NOT_FOUND, nt.STATUS_ACCESS_DENIED} {
					if !wsk.StatusAllowed(call, st) {
						t.Fatalf("%v missing from the documented statuses of %s", st, call)
					}
				}
				e.free(b)
				for _, s := range []*wsk.Socket{in, ls, plain} {
					e.close(s)
				}
				e.teardown()
			}
			// ACCESS_DENIED: the accepted socket's owner (the listener's) is not elevated.
			e := newEnv(t)
			pr, _ := e.p.AddProcess(800, "user.exe", false)
			ls := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, pr)
			e.bind(ls, "127.0.0.1:9000")
			e.p.RedirectedConnect("", ap("10.0.0.1:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", []byte("x"), 800)
			in := e.accept(ls)
			c, _ := e.query(in, code, nil, 0)
			e.mustStatus("non-elevated", c.status, nt.STATUS_ACCESS_DENIED)
			e.close(in)
			e.close(ls)
			e.teardown()
		})
	}
}

func TestQueryPolicies(t *testing.T) {
	setup := func(e *env, ctx []byte) (ls, in *wsk.Socket) {
		ls = e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
		e.bind(ls, "127.0.0.1:9000")
		e.p.RedirectedConnect("", ap("10.0.0.1:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", ctx, 4)
		return ls, e.accept(ls)
	}
	done := func(e *env, ss ...*wsk.Socket) {
		for _, s := range ss {
			e.close(s)
		}
		e.teardown()
	}
	t.Run("P-SZ0", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyZeroProbe, "success")
		ls, in := setup(e, []byte("ctx"))
		c, osr := e.query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, nil, 0)
		if c.status != nt.STATUS_SUCCESS || osr != 3 || c.info != 0 {
			t.Fatalf("probe under success: %v osr=%d info=%d", c.status, osr, c.info)
		}
		done(e, in, ls)
	})
	t.Run("P-INFO", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyInfo, "required-size")
		ls, in := setup(e, []byte("ctx"))
		c, _ := e.query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, nil, 0)
		if c.status != nt.STATUS_BUFFER_TOO_SMALL || c.info != 3 {
			t.Fatalf("P-INFO=required-size: %v info=%d", c.status, c.info)
		}
		done(e, in, ls)
	})
	t.Run("P-OSR", func(t *testing.T) {
		for opt, want := range map[string]nt.Status{"accept": nt.STATUS_SUCCESS, "reject": nt.STATUS_INVALID_PARAMETER} {
			e := newEnv(t)
			e.policy(wsk.PolicyOSR, opt)
			ls, in := setup(e, []byte("ctx"))
			b := e.pool(nil, 16)
			_, c := e.do(func(i *irp.IRP) nt.Status {
				return e.p.WskControlSocket(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, 0, 0, nil, 16, b, nil, i)
			})
			e.mustStatus(opt, c.status, want)
			if want == nt.STATUS_SUCCESS && c.info != 3 {
				t.Fatalf("Information %d, want 3", c.info)
			}
			e.free(b)
			done(e, in, ls)
		}
	})
	t.Run("P-NF", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wfp.PolicyNotFound, "STATUS_FWP_NOT_FOUND")
		ls, in := setup(e, nil) // redirected without a context
		c, _ := e.query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, nil, 0)
		e.mustStatus("no context", c.status, nt.STATUS_FWP_NOT_FOUND)
		done(e, in, ls)
	})
	t.Run("P-CAT", func(t *testing.T) {
		for _, opt := range []string{"STATUS_NOT_SUPPORTED", "STATUS_INVALID_DEVICE_REQUEST", "STATUS_INVALID_PARAMETER"} {
			e := newEnv(t)
			e.policy(wsk.PolicyCategory, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil)
			c, _ := e.query(s, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, nil, 0)
			if c.status.String() != opt {
				t.Fatalf("P-CAT=%s: got %v", opt, c.status)
			}
			done(e, s)
		}
	})
}

func TestOptions(t *testing.T) {
	e := newEnv(t)
	s := e.socket(nt.AF_INET6, nt.WSK_FLAG_LISTEN_SOCKET, nil)
	get := func(level, code uint32) uint32 {
		b := e.pool(nil, 4)
		defer e.free(b)
		_, c := e.do(func(i *irp.IRP) nt.Status {
			return e.p.WskControlSocket(s, nt.WskGetOption, code, level, 0, nil, 4, b, nil, i)
		})
		e.mustStatus("get", c.status, nt.STATUS_SUCCESS)
		return uint32(b.Bytes()[0])
	}
	if get(nt.IPPROTO_IPV6, nt.IPV6_V6ONLY) != 1 {
		t.Fatal("IPV6_V6ONLY defaults to on")
	}
	e.mustStatus("v6only off", e.setOpt(s, nt.IPPROTO_IPV6, nt.IPV6_V6ONLY, 0), nt.STATUS_SUCCESS)
	e.mustStatus("reuse", e.setOpt(s, nt.SOL_SOCKET, nt.SO_REUSEADDR, 1), nt.STATUS_SUCCESS)
	e.mustStatus("excl with reuse", e.setOpt(s, nt.SOL_SOCKET, nt.SO_EXCLUSIVEADDRUSE, 1), nt.STATUS_INVALID_PARAMETER)
	if get(nt.SOL_SOCKET, nt.SO_REUSEADDR) != 1 || get(nt.IPPROTO_IPV6, nt.IPV6_V6ONLY) != 0 {
		t.Fatal("options not kept")
	}
	e.mustStatus("unknown option", e.setOpt(s, nt.SOL_SOCKET, 0x1234, 1), nt.STATUS_NOT_SUPPORTED)
	e.mustStatus("bind [::]:9000", e.bind(s, "[::]:9000"), nt.STATUS_SUCCESS)
	// Dual-stack listener: an IPv4 connect reaches it.
	if _, st, _ := e.p.PeerConnect(e.p.System(), ap("0.0.0.0:0"), ap("127.0.0.1:9000")); st != nt.STATUS_SUCCESS {
		t.Fatalf("IPv4 connect to a dual-stack listener: %v", st)
	}
	in := e.accept(s)
	e.close(in)
	e.close(s)
	e.teardown()
}

// TestBindSharing checks the table of "Sharing Transport Addresses".
func TestBindSharing(t *testing.T) {
	type opt int
	const (
		none opt = iota
		reuse
		excl
	)
	const (
		S = nt.STATUS_SUCCESS
		I = nt.STATUS_ADDRESS_ALREADY_EXISTS
		D = nt.STATUS_ACCESS_DENIED
	)
	// [second opts][second wildcard?][first opts][first wildcard?] with CHECK = D (no security descriptor).
	want := map[[4]int]nt.Status{}
	rows := [3][2][6]nt.Status{
		{{I, S, I, S, I, S}, {D, I, D, D, D, I}},
		{{D, S, S, S, D, S}, {D, D, S, S, D, D}},
		{{I, I, I, I, I, I}, {D, I, D, I, D, I}},
	}
	for so := 0; so < 3; so++ {
		for sw := 0; sw < 2; sw++ {
			for col := 0; col < 6; col++ {
				want[[4]int{so, sw, col / 2, col % 2}] = rows[so][sw][col]
			}
		}
	}
	for k, w := range want {
		e := newEnv(t)
		mk := func(o opt, wild int) *wsk.Socket {
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
			switch o {
			case reuse:
				e.setOpt(s, nt.SOL_SOCKET, nt.SO_REUSEADDR, 1)
			case excl:
				e.setOpt(s, nt.SOL_SOCKET, nt.SO_EXCLUSIVEADDRUSE, 1)
			}
			return s
		}
		addr := func(wild int) string {
			if wild == 0 {
				return "0.0.0.0:8000"
			}
			return "10.0.0.1:8000"
		}
		first := mk(opt(k[2]), k[3])
		e.mustStatus("first bind", e.bind(first, addr(k[3])), S)
		second := mk(opt(k[0]), k[1])
		if got := e.bind(second, addr(k[1])); got != w {
			t.Errorf("second %v/%s after first %v/%s: got %v, want %v", opt(k[0]), addr(k[1]), opt(k[2]), addr(k[3]), got, w)
		}
		e.close(first)
		e.close(second)
		e.teardown()
	}
	// A second bind of the same socket.
	e := newEnv(t)
	s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	e.bind(s, "0.0.0.0:0")
	e.mustStatus("rebind", e.bind(s, "0.0.0.0:0"), nt.STATUS_ADDRESS_ALREADY_ASSOCIATED)
	e.mustStatus("not local", func() nt.Status {
		s2 := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		defer e.close(s2)
		return e.bind(s2, "192.0.2.99:1")
	}(), nt.STATUS_INVALID_ADDRESS)
	e.close(s)
	e.teardown()
}

func TestAfterCloseForcedBadIRPPolicies(t *testing.T) {
	t.Run("P-AFTERCLOSE=complete", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyAfterClose, "complete")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		e.close(s)
		_, c := e.do(func(i *irp.IRP) nt.Status { return e.p.WskBind(s, ap("0.0.0.0:0"), 0, i) })
		e.mustStatus("bind after close", c.status, nt.STATUS_INVALID_HANDLE)
		e.teardown(wsk.RuleAfterClose)
	})
	t.Run("P-FORCED=inject", func(t *testing.T) {
		e := newEnv(t)
		e.policy(wsk.PolicyForced, "inject")
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		if err := e.w.FailNext(wsk.FaultForcedClose, 1); err != nil {
			t.Fatal(err)
		}
		e.mustStatus("forced", e.bind(s, "0.0.0.0:0"), nt.STATUS_FILE_FORCED_CLOSED)
		e.mustStatus("still dead", e.bind(s, "0.0.0.0:0"), nt.STATUS_FILE_FORCED_CLOSED)
		e.close(s) // close still works
		e.teardown()
	})
	t.Run("P-BADIRP", func(t *testing.T) {
		for opt, want := range map[string]nt.Status{"STATUS_INVALID_PARAMETER": nt.STATUS_INVALID_PARAMETER, "STATUS_INVALID_HANDLE": nt.STATUS_INVALID_HANDLE} {
			e := newEnv(t)
			e.policy(wsk.PolicyBadIRP, opt)
			s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
			e.mustStatus(opt, e.p.WskBind(s, ap("0.0.0.0:0"), 0, nil), want)
			e.close(s)
			e.teardown(wsk.RuleNullIRP)
		}
	})
}
