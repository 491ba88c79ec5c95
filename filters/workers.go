package filters

import "time"

// The checks of a phase run on a goroutine other than the session's (see
// runPhase), so that one overrunning its deadline cannot hold up the
// session. A goroutine started afresh for every message begins with a
// small stack and grows it again each time (runtime.newstack was 4 to 8%
// of the chain's CPU on corpus mail); one that finished its work waits
// workerIdle for more instead, with the stack it grew.
const workerIdle = time.Second

// idleWorkers hands work to a worker waiting for some.
var idleWorkers = make(chan func())

// goCheck runs f on an idle worker, or on a new one when none is idle.
func goCheck(f func()) {
	select {
	case idleWorkers <- f:
	default:
		go checkWorker(f)
	}
}

func checkWorker(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil // what the check held is garbage while the worker waits
		idle.Reset(workerIdle)
		select {
		case f = <-idleWorkers:
		case <-idle.C:
			return
		}
	}
}
