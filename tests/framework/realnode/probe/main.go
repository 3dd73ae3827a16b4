// Command probe runs inside the real node's test pods (tests/framework/realnode) and
// reports what a pod sees, one line per check, exiting non-zero when a check
// fails:
//
//	probe loops   lists the host's /dev/loop* devices (privileged host-network pod)
//	probe api     asks the API server who it is, through the kubernetes Service,
//	              with the pod's service-account token, exactly as in-cluster
//	              clients do (KUBERNETES_SERVICE_HOST, the mounted CA and token)
//
// It uses only the standard library so its image is one small static file.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe loops|api ...")
		os.Exit(2)
	}
	for _, check := range os.Args[1:] {
		var err error
		switch check {
		case "loops":
			err = loops()
		case "api":
			err = api()
		default:
			err = fmt.Errorf("unknown check %q", check)
		}
		if err != nil {
			fmt.Printf("%s: FAIL: %v\n", check, err)
			os.Exit(1)
		}
	}
}

func loops() error {
	devs, err := filepath.Glob("/dev/loop*")
	if err != nil {
		return err
	}
	if len(devs) == 0 {
		return fmt.Errorf("no /dev/loop* device")
	}
	fmt.Printf("loops: %d devices: %v\n", len(devs), devs)
	return nil
}

func api() error {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return fmt.Errorf("KUBERNETES_SERVICE_HOST/PORT not set")
	}
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	url := "https://" + net.JoinHostPort(host, port) + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	var lastErr error
	// kube-proxy may program the Service a moment after the pod starts.
	for attempt := 0; attempt < 30; attempt++ {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			lastErr = err
			time.Sleep(time.Second)
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, raw)
		}
		var review struct {
			Status struct {
				UserInfo struct {
					Username string `json:"username"`
				} `json:"userInfo"`
			} `json:"status"`
		}
		if err := json.Unmarshal(raw, &review); err != nil {
			return err
		}
		fmt.Printf("api: %s answered as %s\n", net.JoinHostPort(host, port), review.Status.UserInfo.Username)
		return nil
	}
	return lastErr
}
