package realceph

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// failures keeps every error the test reported, so that the test's last
// lines repeat them: the scenarios run for minutes and log a lot after an
// error, and a CI log often keeps only its tail.
var failures struct {
	sync.Mutex
	msgs []string
	// diagnoses are what diagnoseOnFailure found in the pods' logs.
	diagnoses []string
}

// errorf is t.Errorf, and remembers the message for summarizeFailures.
func errorf(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	failures.Lock()
	failures.msgs = append(failures.msgs, msg)
	failures.Unlock()
	t.Error(msg)
}

// summarizeFailures registers, as the test's first cleanup (so it runs
// last, after the node is down), a log of every error reported through
// errorf and of a fatal failure's state.
func summarizeFailures(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		failures.Lock()
		defer failures.Unlock()
		for _, d := range failures.diagnoses {
			t.Log(d)
		}
		if len(failures.msgs) == 0 {
			t.Log("FAILED: a fatal error, logged above where the test stopped")
			return
		}
		t.Logf("FAILED with %d error(s):\n  %s", len(failures.msgs), strings.Join(failures.msgs, "\n  "))
	})
}
