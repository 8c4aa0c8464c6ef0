package wsktest_test

import (
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
	"github.com/wsksim/wsksim/wsktest"
)

// TestNewcomer is the first test a driver developer writes: SET succeeds
// with genuine records, fails with STATUS_INTEGER_OVERFLOW for a SIZE_T
// above MAXULONG and with STATUS_ACCESS_DENIED on a non-elevated process's
// socket. (This file is the ≤ 25-line measure of issue 19.)
func TestNewcomer(t *testing.T) {
	e := wsktest.New(t)
	s := e.Socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	if st := e.SetRecords(s, e.Records(wsk.SystemPID)).Status; st != nt.STATUS_SUCCESS {
		t.Errorf("SET: %v, want STATUS_SUCCESS", st)
	}
	if st := e.SetRecords(s, e.Records(wsk.SystemPID), 1<<32).Status; st != nt.STATUS_INTEGER_OVERFLOW {
		t.Errorf("SET with InputSize 2^32: %v, want STATUS_INTEGER_OVERFLOW", st)
	}
	user := e.SocketOf(e.Process(700, "user.exe", false), nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET)
	if st := e.SetRecords(user, e.Records(700)).Status; st != nt.STATUS_ACCESS_DENIED {
		t.Errorf("SET on a non-elevated socket: %v, want STATUS_ACCESS_DENIED", st)
	}
	e.CloseSocket(s)
	e.CloseSocket(user)
}
