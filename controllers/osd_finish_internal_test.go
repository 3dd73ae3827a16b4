package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestFinishLater: a reconcile that created something leaves the status
// write and the Job deletions to a later one while the last were done less
// than finishEvery ago, and says how soon that one must come; a reconcile
// that created nothing, or comes after finishEvery, does them; clusters
// are paced apart, and a forgotten cluster starts afresh.
func TestFinishLater(t *testing.T) {
	r := &OSDReconciler{}
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	b := types.NamespacedName{Namespace: "ns", Name: "b"}
	if later, _ := r.finishLater(a, true); later {
		t.Fatal("the first reconcile that creates left its status for later")
	}
	later, in := r.finishLater(a, true)
	if !later || in <= 0 || in > finishEvery {
		t.Fatalf("a second creating reconcile at once: later %v in %s, want later within %s", later, in, finishEvery)
	}
	if later, _ := r.finishLater(b, true); later {
		t.Fatal("another cluster's status waited for this one's")
	}
	if later, _ := r.finishLater(a, false); later {
		t.Fatal("a reconcile that created nothing left its status for later")
	}
	// It just finished: a creating reconcile waits again.
	if later, _ := r.finishLater(a, true); !later {
		t.Fatal("a creating reconcile right after a finished one did not wait")
	}
	r.finishedMu.Lock()
	r.finished[a] = time.Now().Add(-finishEvery)
	r.finishedMu.Unlock()
	if later, _ := r.finishLater(a, true); later {
		t.Fatalf("a creating reconcile %s after the last status write waited", finishEvery)
	}
	r.forgetFinished(a)
	if later, _ := r.finishLater(a, true); later {
		t.Fatal("a forgotten cluster's reconcile waited")
	}
}
