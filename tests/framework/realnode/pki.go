package realnode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// identity is one certificate the cluster's components present or serve.
type identity struct {
	// file is the base name of the .crt and .key files.
	file string
	// cn and orgs become the user name and groups of a client certificate.
	cn   string
	orgs []string
	// ips and dns make it a serving certificate for those names.
	ips []net.IP
	dns []string
}

// identities lists the certificates of a cluster's control plane, with its
// API server on controlPlane (and loopback, through the forwarder); each
// node adds nodeIdentities. Each component has its own identity so the API
// server's Node and RBAC authorizers see what they see on a production
// cluster.
func identities(controlPlane, kubernetesService net.IP) []identity {
	return []identity{
		{file: "kube-apiserver", cn: "kube-apiserver",
			ips: []net.IP{net.ParseIP("127.0.0.1"), controlPlane, kubernetesService},
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		{file: "admin", cn: "realnode-admin", orgs: []string{"system:masters"}},
		{file: "kube-controller-manager", cn: "system:kube-controller-manager"},
		{file: "kube-scheduler", cn: "system:kube-scheduler"},
		{file: "kube-proxy", cn: "system:kube-proxy"},
		// The API server's identity towards the kubelet (logs, exec).
		{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		// The API server's identity towards aggregated API servers (OLM's
		// package server), which trust the user it names in its headers.
		{file: "front-proxy-client", cn: frontProxyClient},
		// A node-local image registry's serving certificate (RegistryHost):
		// containerd and host tools trust it through ca.crt.
		{file: "registry", cn: "realnode-registry", ips: []net.IP{net.ParseIP("127.0.0.1")}, dns: []string{"localhost"}},
	}
}

// writePKI writes a new certificate authority (ca.crt, ca.key), one key pair
// per identity and the service-account signing key (sa.key, sa.pub) into dir.
func writePKI(dir string, ids []identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "realnode-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return fmt.Errorf("signing CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("parsing CA: %w", err)
	}
	if err := writePair(dir, "ca", caDER, caKey); err != nil {
		return err
	}
	for i, id := range ids {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("generating key for %s: %w", id.file, err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)),
			Subject:      pkix.Name{CommonName: id.cn, Organization: id.orgs},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(365 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			IPAddresses:  id.ips,
			DNSNames:     id.dns,
		}
		if len(id.ips)+len(id.dns) > 0 {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			return fmt.Errorf("signing certificate for %s: %w", id.file, err)
		}
		if err := writePair(dir, id.file, der, key); err != nil {
			return err
		}
	}
	// Service-account tokens are signed with RSA, which every consumer of
	// the tokens' JWKS supports.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating service-account key: %w", err)
	}
	if err := writeKey(filepath.Join(dir, "sa.key"), saKey); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return fmt.Errorf("encoding service-account public key: %w", err)
	}
	return writePEM(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", pub, 0o644)
}

func writePair(dir, name string, certDER []byte, key crypto.Signer) error {
	if err := writePEM(filepath.Join(dir, name+".crt"), "CERTIFICATE", certDER, 0o644); err != nil {
		return err
	}
	return writeKey(filepath.Join(dir, name+".key"), key)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// nodeIdentities are a node's kubelet's client and serving certificates.
func nodeIdentities(n node) []identity {
	return []identity{
		{file: n.pki("kubelet-client"), cn: "system:node:" + n.name, orgs: []string{"system:nodes"}},
		{file: n.pki("kubelet-serving"), cn: "system:node:" + n.name, ips: []net.IP{net.ParseIP(n.ip)}, dns: []string{n.name}},
	}
}
