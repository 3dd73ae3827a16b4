// Package plugin is the kubectl plugin `kubectl ceph`: commands that read a
// CephCluster, its DiskInventories and their events with the user's own
// kubeconfig and permissions, and print them. The rendering functions are
// pure (API objects in, text out), so the demo prints its table with the
// same code as `kubectl ceph disks`.
package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/version"
)

// Options are the flags every command shares, and what the commands write
// to.
type Options struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Cluster    string

	Stdout io.Writer
	Stderr io.Writer
	// Now is the clock ages are computed from; time.Now when nil.
	Now func() time.Time
}

// Main runs the plugin with args (without the program name) and returns the
// process's exit code: 0, or 1 after printing the error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Run(ctx, &Options{Stdout: stdout, Stderr: stderr}, args)
}

// Run is Main with a given clock and writers.
func Run(ctx context.Context, o *Options, args []string) int {
	cmd := NewCommand(o)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(o.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// NewCommand returns the `kubectl ceph` command with its subcommands.
func NewCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-ceph",
		Short: "Read a CephCluster, its disks and the operator's plan",
		Long: `kubectl ceph reads a CephCluster, the DiskInventories of its nodes and
their events with your kubeconfig and permissions (get and list on
cephclusters, diskinventories and events in the namespace are enough). It
never runs the Ceph command line and changes nothing.

The CephCluster is the namespace's only one, or the one --cluster names.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ceph"},
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(o.Stdout)
	root.SetErr(o.Stderr)
	f := root.PersistentFlags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "the kubeconfig context to use")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "the CephCluster's namespace (default: the context's namespace)")
	f.StringVar(&o.Cluster, "cluster", "", "the CephCluster's name, when the namespace has more than one")

	root.AddCommand(statusCommand(o), disksCommand(o), planCommand(o), explainCommand(o))
	return root
}

func statusCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The cluster's conditions, counts, Ceph health, monitors and what it waits for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.connect()
			if err != nil {
				return err
			}
			cluster, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			return RenderStatus(o.Stdout, cluster, o.now())
		},
	}
}

func disksCommand(o *Options) *cobra.Command {
	var filter DiskFilter
	var output string
	cmd := &cobra.Command{
		Use:   "disks",
		Short: "Every disk of every node: identity, verdict, reason, plan and OSD",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != OutputTable && output != OutputWide && output != OutputJSON {
				return fmt.Errorf("unknown output format %q: use wide or json", output)
			}
			s, err := o.connect()
			if err != nil {
				return err
			}
			_, invs, err := s.clusterAndInventories(cmd.Context())
			if err != nil {
				return err
			}
			rows := Rows(invs)
			if filter.Node != "" && !hasNode(rows, filter.Node) {
				return fmt.Errorf("no DiskInventory for node %q in namespace %s (nodes: %s)", filter.Node, s.namespace, nodeList(rows))
			}
			return RenderDisks(o.Stdout, filter.Filter(rows), output)
		},
	}
	cmd.Flags().StringVar(&filter.Node, "node", "", "only the disks of this node")
	cmd.Flags().StringVar(&filter.Reason, "reason", "", "only the disks whose verdict or plan gives this reason, such as HasFilesystem")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide or json")
	return cmd
}

func planCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "The operator's plan for every disk, grouped by node (what Preview would do)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.connect()
			if err != nil {
				return err
			}
			cluster, invs, err := s.clusterAndInventories(cmd.Context())
			if err != nil {
				return err
			}
			return RenderPlan(o.Stdout, cluster, invs)
		},
	}
}

func explainCommand(o *Options) *cobra.Command {
	var node string
	cmd := &cobra.Command{
		Use:   "explain DISK",
		Short: "The whole story of one disk: verdict, message, plan, attempts, events",
		Long: `explain shows everything known about one disk: what the node's agent
found and decided, the operator's plan and its failed attempts, and the
events that mention it. DISK is NODE/NAME (node-1/sdb), or a kernel name,
stable id, device path or /dev/disk/by-* link that only one disk has.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.connect()
			if err != nil {
				return err
			}
			cluster, invs, err := s.clusterAndInventories(cmd.Context())
			if err != nil {
				return err
			}
			row, err := FindDisk(Rows(invs), args[0], node)
			if err != nil {
				return err
			}
			var events corev1.EventList
			var picked []corev1.Event
			eventsErr := s.client.List(cmd.Context(), &events, client.InNamespace(s.namespace))
			if eventsErr != nil {
				eventsErr = s.explainErr("list", "events", eventsErr)
			} else {
				picked = DiskEvents(events.Items, cluster, row)
			}
			return RenderExplain(o.Stdout, row, picked, eventsErr, o.now())
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "the disk's node, when its name is on several")
	return cmd
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// session is a connection to the API server for one namespace.
type session struct {
	client    client.Client
	namespace string
	name      string
}

// connect loads the kubeconfig as kubectl does (--kubeconfig, $KUBECONFIG,
// ~/.kube/config; --context; the context's namespace unless -n is given).
func (o *Options) connect() (*session, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	overrides.Context.Namespace = o.Namespace
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-ceph/" + version.String()
	if cfg.Timeout == 0 {
		// An unreachable API server fails the command instead of hanging it.
		cfg.Timeout = 30 * time.Second
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return &session{client: c, namespace: ns, name: o.Cluster}, nil
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := cephv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// cluster returns the CephCluster --cluster names, or the namespace's only
// one.
func (s *session) cluster(ctx context.Context) (*cephv1alpha1.CephCluster, error) {
	if s.name != "" {
		c := &cephv1alpha1.CephCluster{}
		err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.name}, c)
		if apierrors.IsNotFound(err) {
			var list cephv1alpha1.CephClusterList
			if lerr := s.client.List(ctx, &list, client.InNamespace(s.namespace)); lerr == nil && len(list.Items) > 0 {
				return nil, fmt.Errorf("no CephCluster %q in namespace %s; it has: %s", s.name, s.namespace, clusterNames(list.Items))
			}
			return nil, fmt.Errorf("no CephCluster %q in namespace %s", s.name, s.namespace)
		}
		if err != nil {
			return nil, s.explainErr("get", "cephclusters", err)
		}
		return c, nil
	}
	var list cephv1alpha1.CephClusterList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace)); err != nil {
		return nil, s.explainErr("list", "cephclusters", err)
	}
	switch len(list.Items) {
	case 0:
		return nil, fmt.Errorf("no CephCluster in namespace %s; name the namespace with -n (kubectl get cephcluster -A lists them all)", s.namespace)
	case 1:
		return &list.Items[0], nil
	}
	return nil, fmt.Errorf("namespace %s has %d CephClusters (%s); choose one with --cluster", s.namespace, len(list.Items), clusterNames(list.Items))
}

func (s *session) clusterAndInventories(ctx context.Context) (*cephv1alpha1.CephCluster, []cephv1alpha1.DiskInventory, error) {
	cluster, err := s.cluster(ctx)
	if err != nil {
		return nil, nil, err
	}
	var invs cephv1alpha1.DiskInventoryList
	if err := s.client.List(ctx, &invs, client.InNamespace(s.namespace)); err != nil {
		return nil, nil, s.explainErr("list", "diskinventories", err)
	}
	return cluster, invs.Items, nil
}

// explainErr turns an API error into one that says what was refused and
// what the plugin needs.
func (s *session) explainErr(verb, resource string, err error) error {
	full := resource
	if resource != "events" {
		full += "." + cephv1alpha1.GroupVersion.Group
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("forbidden: you may not %s %s in namespace %s (kubectl ceph needs get and list on cephclusters and diskinventories of %s, and on events, there): %w",
			verb, full, s.namespace, cephv1alpha1.GroupVersion.Group, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server did not accept your credentials: %w", err)
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return fmt.Errorf("the API server does not serve %s (%s): are the ceph-operator CRDs installed? %w",
			full, cephv1alpha1.GroupVersion, err)
	}
	return fmt.Errorf("%s %s in namespace %s: %w", verb, full, s.namespace, err)
}

func clusterNames(items []cephv1alpha1.CephCluster) string {
	var names []string
	for _, c := range items {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func hasNode(rows []DiskRow, node string) bool {
	for _, r := range rows {
		if r.Node == node {
			return true
		}
	}
	return false
}

func nodeList(rows []DiskRow) string {
	var nodes []string
	for _, r := range rows {
		if len(nodes) == 0 || nodes[len(nodes)-1] != r.Node {
			nodes = append(nodes, r.Node)
		}
	}
	if len(nodes) == 0 {
		return "none"
	}
	return strings.Join(nodes, ", ")
}
