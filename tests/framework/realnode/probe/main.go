// Command probe runs inside the real node's test pods (tests/framework/realnode) and
// reports what a pod sees, one line per check, exiting non-zero when a check
// fails:
//
//	probe loops   lists the host's /dev/loop* devices (privileged host-network pod)
//	probe blocks  lists the loop devices in /host/sys/block (the node's /sys,
//	              mounted there from the host)
//	probe dial=HOST:PORT
//	              opens a TCP connection to HOST:PORT and closes it
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
	"strings"
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
		switch {
		case check == "loops":
			err = loops()
		case check == "blocks":
			err = blocks()
		case strings.HasPrefix(check, "dial="):
			err = dial(strings.TrimPrefix(check, "dial="))
		case check == "api":
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

func blocks() error {
	devs, err := filepath.Glob("/host/sys/block/loop*")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		names = append(names, filepath.Base(d))
	}
	fmt.Printf("blocks: %v\n", names)
	return nil
}

func dial(addr string) error {
	var err error
	// The other node's routes and kube-proxy may need a moment.
	for attempt := 0; attempt < 10; attempt++ {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, 3*time.Second); err == nil {
			_ = c.Close()
			fmt.Printf("dial: %s connected\n", addr)
			return nil
		}
		time.Sleep(time.Second)
	}
	return err
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
