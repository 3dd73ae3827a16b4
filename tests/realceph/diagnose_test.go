package realceph

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// diagnoseOnFailure registers a cleanup, to run while the node is still
// up, that logs the end of the logs of every pod that restarted or is not
// ready when the test has failed: a daemon that keeps failing says why
// only there, and CI keeps no node behind. The lines also join the
// failure summary, which a CI log's tail always shows.
func diagnoseOnFailure(t *testing.T, cs kubernetes.Interface) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Logf("diagnosis: listing pods: %v", err)
			return
		}
		for _, pod := range pods.Items {
			statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
			for _, st := range statuses {
				if st.RestartCount == 0 && (st.Ready || st.State.Terminated != nil && st.State.Terminated.ExitCode == 0) {
					continue
				}
				previous := st.RestartCount > 0
				tail := int64(25)
				raw, err := cs.CoreV1().Pods(namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: st.Name, Previous: previous, TailLines: &tail}).DoRaw(ctx)
				logs := strings.TrimSpace(string(raw))
				if err != nil {
					logs = fmt.Sprintf("(no logs: %v)", err)
				}
				which := "current run"
				if previous {
					which = "last failed run"
				}
				msg := fmt.Sprintf("diagnosis: pod %s container %s (restarts %d, ready %v), %s:\n%s", pod.Name, st.Name, st.RestartCount, st.Ready, which, logs)
				t.Log(msg)
				failures.Lock()
				failures.diagnoses = append(failures.diagnoses, msg)
				failures.Unlock()
			}
		}
	})
}
