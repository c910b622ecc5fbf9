package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// rendered is the output of a kustomize build, by kind and name.
type rendered struct {
	objects map[string]map[string][]byte // kind -> name -> JSON
	order   []string                     // "Kind/name" in output order
}

// build renders a kustomization directory (relative to the module root)
// exactly as "kustomize build" does.
func build(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), repoPath(t, dir))
	require.NoError(t, err, "kustomize build %s", dir)
	r := &rendered{objects: map[string]map[string][]byte{}}
	for _, res := range rm.Resources() {
		b, err := res.MarshalJSON()
		require.NoError(t, err)
		kind, name := res.GetKind(), res.GetName()
		if r.objects[kind] == nil {
			r.objects[kind] = map[string][]byte{}
		}
		require.NotContains(t, r.objects[kind], name, "duplicate %s/%s", kind, name)
		r.objects[kind][name] = b
		r.order = append(r.order, kind+"/"+name)
	}
	return r
}

// one decodes the only object of a kind into v and returns its name.
// Decoding into a typed object refuses unknown fields, so a misspelt
// field fails here instead of being ignored by the API server.
func (r *rendered) one(t *testing.T, kind string, v any) string {
	t.Helper()
	require.Len(t, r.objects[kind], 1, "exactly one %s", kind)
	for name, b := range r.objects[kind] {
		dec := json.NewDecoder(bytes.NewReader(b))
		if _, isMap := v.(*map[string]any); !isMap {
			dec.DisallowUnknownFields()
		}
		require.NoError(t, dec.Decode(v), "%s/%s", kind, name)
		return name
	}
	return ""
}

// unstructured decodes the only object of a kind as a map.
func (r *rendered) unstructured(t *testing.T, kind string) map[string]any {
	t.Helper()
	m := map[string]any{}
	r.one(t, kind, &m)
	return m
}

// pathOf walks nested maps and lists ("spec", "triggers", 0, ...).
func pathOf(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "not an object at %q", k)
			require.Contains(t, m, k)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok, "not a list at %d", k)
			require.Greater(t, len(l), k)
			v = l[k]
		}
	}
	return v
}

// base is everything the base renders, decoded.
type base struct {
	r          *rendered
	deployment appsv1.Deployment
	sa         corev1.ServiceAccount
	config     corev1.ConfigMap
	configName string
	pdb        policyv1.PodDisruptionBudget
	netpol     networkingv1.NetworkPolicy
	ns         corev1.Namespace
	scaled     map[string]any
	triggerAu  map[string]any
}

func buildBase(t *testing.T, dir string) *base {
	t.Helper()
	b := &base{r: build(t, dir)}
	b.r.one(t, "Deployment", &b.deployment)
	b.r.one(t, "ServiceAccount", &b.sa)
	b.configName = b.r.one(t, "ConfigMap", &b.config)
	b.r.one(t, "PodDisruptionBudget", &b.pdb)
	b.r.one(t, "NetworkPolicy", &b.netpol)
	b.r.one(t, "Namespace", &b.ns)
	b.scaled = b.r.unstructured(t, "ScaledObject")
	b.triggerAu = b.r.unstructured(t, "TriggerAuthentication")
	return b
}

func (b *base) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := b.deployment.Spec.Template.Spec.Containers
	require.Len(t, cs, 1)
	return cs[0]
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func TestKubernetesBaseRenders(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	assert.ElementsMatch(t, []string{
		"Namespace/licensefix", "ServiceAccount/licensefix", "ConfigMap/" + b.configName,
		"Deployment/licensefix", "PodDisruptionBudget/licensefix", "NetworkPolicy/licensefix",
		"ScaledObject/licensefix", "TriggerAuthentication/licensefix-servicebus",
	}, b.r.order, "the base needs no CRDs but KEDA's (no ServiceMonitor)")

	// Everything lives in one namespace, which enforces the restricted profile.
	assert.Equal(t, "restricted", b.ns.Labels["pod-security.kubernetes.io/enforce"])
	for _, obj := range []struct{ kind, ns string }{
		{"Deployment", b.deployment.Namespace}, {"ServiceAccount", b.sa.Namespace}, {"ConfigMap", b.config.Namespace},
		{"PodDisruptionBudget", b.pdb.Namespace}, {"NetworkPolicy", b.netpol.Namespace},
		{"ScaledObject", pathOf(t, b.scaled, "metadata", "namespace").(string)},
		{"TriggerAuthentication", pathOf(t, b.triggerAu, "metadata", "namespace").(string)},
	} {
		assert.Equal(t, b.ns.Name, obj.ns, obj.kind)
	}
}

func TestKubernetesWorkloadIdentity(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	pod := b.deployment.Spec.Template
	assert.Equal(t, "true", pod.Labels["azure.workload.identity/use"], "pod label opts in to the webhook")
	assert.Equal(t, b.sa.Name, pod.Spec.ServiceAccountName)
	assert.Regexp(t, guidRE, b.sa.Annotations["azure.workload.identity/client-id"])

	// The federated credential in Bicep names this ServiceAccount.
	bicep := readFile(t, "deploy", "azure", "main.bicep")
	assert.Equal(t, b.ns.Name, bicepDefault(t, bicep, "kubernetesNamespace"))
	assert.Equal(t, b.sa.Name, bicepDefault(t, bicep, "serviceAccountName"))
}

func TestKubernetesPodSecurity(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	spec := b.deployment.Spec.Template.Spec
	psc := spec.SecurityContext
	require.NotNil(t, psc)
	require.NotNil(t, psc.RunAsNonRoot)
	assert.True(t, *psc.RunAsNonRoot)
	require.NotNil(t, psc.RunAsUser)
	assert.NotZero(t, *psc.RunAsUser)
	require.NotNil(t, psc.SeccompProfile)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)

	c := b.container(t)
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.NotNil(t, sc.ReadOnlyRootFilesystem)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	require.NotNil(t, sc.AllowPrivilegeEscalation)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Empty(t, sc.Capabilities.Add)
	assert.Nil(t, sc.Privileged)

	// Requests and limits for both resources.
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := c.Resources.Requests[res]
		require.True(t, ok, "request %s", res)
		lim, ok := c.Resources.Limits[res]
		require.True(t, ok, "limit %s", res)
		assert.LessOrEqual(t, req.Cmp(lim), 0, "%s request <= limit", res)
	}

	// /tmp is the one writable path: an emptyDir.
	var tmpVolume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" {
			tmpVolume = m.Name
			assert.False(t, m.ReadOnly)
		}
	}
	require.NotEmpty(t, tmpVolume, "/tmp is mounted")
	var found bool
	for _, v := range spec.Volumes {
		if v.Name == tmpVolume {
			found = true
			assert.NotNil(t, v.EmptyDir, "/tmp is an emptyDir")
		}
	}
	assert.True(t, found)
	assert.Nil(t, b.deployment.Spec.Replicas, "KEDA owns the replica count")
}

func TestKubernetesProbesAndPorts(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	c := b.container(t)
	assert.Equal(t, []string{"run"}, c.Args, "the worker runs licensefix run")
	port := httpPort(t, b.config.Data["LICENSEFIX_HTTP_ADDR"])

	portByName := map[string]int32{}
	for _, p := range c.Ports {
		portByName[p.Name] = p.ContainerPort
	}
	resolve := func(p intstr.IntOrString) int32 {
		if p.Type == intstr.String {
			n, ok := portByName[p.StrVal]
			require.True(t, ok, "named port %q", p.StrVal)
			return n
		}
		return p.IntVal
	}
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.LivenessProbe.HTTPGet)
	assert.Equal(t, "/livez", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, int32(port), resolve(c.LivenessProbe.HTTPGet.Port))
	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.ReadinessProbe.HTTPGet)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, int32(port), resolve(c.ReadinessProbe.HTTPGet.Port))
	assert.Equal(t, int32(port), portByName["http"], "the http port is the worker's HTTP address")
}

func TestKubernetesConfiguration(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	c := b.container(t)
	require.Len(t, c.EnvFrom, 1)
	require.NotNil(t, c.EnvFrom[0].ConfigMapRef)
	assert.Equal(t, b.configName, c.EnvFrom[0].ConfigMapRef.Name, "envFrom names the generated ConfigMap")
	assert.True(t, strings.HasPrefix(b.configName, "licensefix-config-"), "hash suffix rolls pods on change")

	requireAccepted(t, "ConfigMap "+b.configName, "run", b.config.Data)
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	requireAccepted(t, "Deployment env", "run", env)

	// Workload identity only: no connection string anywhere.
	assert.NotContains(t, b.config.Data, "LICENSEFIX_SERVICEBUS_CONNECTION_STRING")
	assert.Regexp(t, `^[a-z0-9-]+\.servicebus\.windows\.net$`, b.config.Data["LICENSEFIX_SERVICEBUS_NAMESPACE"])
	assert.Equal(t, "azure", b.config.Data["LICENSEFIX_GRAPH_AUTH"])

	grace := b.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	require.NotNil(t, grace)
	shutdown := envDuration(t, b.config.Data, "LICENSEFIX_SHUTDOWN_TIMEOUT")
	assert.Greater(t, time.Duration(*grace)*time.Second, shutdown,
		"the kubelet must not SIGKILL before the worker's shutdown timeout")
}

func TestKubernetesDisruptionAndNetwork(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	podLabels := b.deployment.Spec.Template.Labels
	assert.Equal(t, b.deployment.Spec.Selector.MatchLabels, b.pdb.Spec.Selector.MatchLabels)
	assertSelects(t, b.pdb.Spec.Selector.MatchLabels, podLabels)
	require.NotNil(t, b.pdb.Spec.MaxUnavailable, "maxUnavailable, so a single replica never blocks drains")
	assert.Nil(t, b.pdb.Spec.MinAvailable)

	np := b.netpol.Spec
	assertSelects(t, np.PodSelector.MatchLabels, podLabels)
	assert.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.PolicyTypes)
	var egress []string
	for _, rule := range np.Egress {
		assert.Empty(t, rule.To, "destinations are public Azure endpoints: ports only")
		for _, p := range rule.Ports {
			require.NotNil(t, p.Protocol)
			require.NotNil(t, p.Port)
			egress = append(egress, string(*p.Protocol)+"/"+p.Port.String())
		}
	}
	assert.ElementsMatch(t, []string{"UDP/53", "TCP/53", "TCP/443", "TCP/5671"}, egress,
		"DNS, HTTPS (Graph, Entra ID) and AMQPS (Service Bus) only")

	var ingress []string
	for _, rule := range np.Ingress {
		for _, p := range rule.Ports {
			ingress = append(ingress, string(*p.Protocol)+"/"+p.Port.String())
		}
	}
	assert.Equal(t, []string{"TCP/" + strconv.Itoa(int(httpPort(t, b.config.Data["LICENSEFIX_HTTP_ADDR"])))}, ingress,
		"only the metrics port is reachable")
}

func TestKubernetesKEDA(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	so, ta := b.scaled, b.triggerAu
	assert.Equal(t, "keda.sh/v1alpha1", so["apiVersion"])
	assert.Equal(t, "keda.sh/v1alpha1", ta["apiVersion"])
	assert.Equal(t, "Deployment", pathOf(t, so, "spec", "scaleTargetRef", "kind"))
	assert.Equal(t, b.deployment.Name, pathOf(t, so, "spec", "scaleTargetRef", "name"))

	minR := pathOf(t, so, "spec", "minReplicaCount").(float64)
	maxR := pathOf(t, so, "spec", "maxReplicaCount").(float64)
	assert.GreaterOrEqual(t, minR, 0.0)
	assert.GreaterOrEqual(t, maxR, minR)
	assert.GreaterOrEqual(t, maxR, 1.0)

	triggers := pathOf(t, so, "spec", "triggers").([]any)
	require.Len(t, triggers, 1)
	trig := triggers[0]
	assert.Equal(t, "azure-servicebus", pathOf(t, trig, "type"))
	assert.Equal(t, b.config.Data["LICENSEFIX_QUEUE"], pathOf(t, trig, "metadata", "queueName"), "scales on the queue the worker reads")
	nsName, _, _ := strings.Cut(b.config.Data["LICENSEFIX_SERVICEBUS_NAMESPACE"], ".")
	assert.Equal(t, nsName, pathOf(t, trig, "metadata", "namespace"), "the namespace the worker reads")
	count, err := strconv.Atoi(pathOf(t, trig, "metadata", "messageCount").(string))
	require.NoError(t, err)
	assert.Positive(t, count)
	assert.Equal(t, pathOf(t, ta, "metadata", "name"), pathOf(t, trig, "authenticationRef", "name"))

	assert.Equal(t, "azure-workload", pathOf(t, ta, "spec", "podIdentity", "provider"))
	assert.Regexp(t, guidRE, pathOf(t, ta, "spec", "podIdentity", "identityId"))
	_, hasSecrets := pathOf(t, ta, "spec").(map[string]any)["secretTargetRef"]
	assert.False(t, hasSecrets, "no connection-string secrets")
}

func TestKubernetesExampleOverlay(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	o := buildBase(t, "deploy/kubernetes/overlays/example")

	// The overlay replaces every placeholder of the base.
	assert.NotEqual(t, b.container(t).Image, o.container(t).Image)
	assert.NotEqual(t, b.sa.Annotations["azure.workload.identity/client-id"], o.sa.Annotations["azure.workload.identity/client-id"])
	assert.Regexp(t, guidRE, o.sa.Annotations["azure.workload.identity/client-id"])
	assert.NotEqual(t, pathOf(t, b.triggerAu, "spec", "podIdentity", "identityId"), pathOf(t, o.triggerAu, "spec", "podIdentity", "identityId"))
	assert.NotEqual(t, b.config.Data["LICENSEFIX_SERVICEBUS_NAMESPACE"], o.config.Data["LICENSEFIX_SERVICEBUS_NAMESPACE"])
	nsName, _, _ := strings.Cut(o.config.Data["LICENSEFIX_SERVICEBUS_NAMESPACE"], ".")
	assert.Equal(t, nsName, pathOf(t, o.scaled, "spec", "triggers", 0, "metadata", "namespace"),
		"ScaledObject and worker agree on the namespace")
	assert.Equal(t, o.configName, o.container(t).EnvFrom[0].ConfigMapRef.Name)
	requireAccepted(t, "overlay ConfigMap", "run", o.config.Data)

	// And adds the Prometheus component: the metrics Service, the
	// ServiceMonitor and the alert rules.
	sm := assertScraped(t, o, "monitoring.coreos.com/v1")
	assert.Empty(t, sm.Spec.LabelLimit, "the Operator's ServiceMonitor sets no limits of its own")

	var pr monitoringv1.PrometheusRule
	o.r.one(t, "PrometheusRule", &pr)
	assert.Equal(t, "monitoring.coreos.com/v1", pr.APIVersion)
	assert.Equal(t, o.deployment.Namespace, pr.Namespace, "next to the worker")
	var file monitoringv1.PrometheusRule
	decodeYAMLStrict(t, readFile(t, "deploy", "monitoring", "licensefix-prometheusrule.yaml"), &file)
	require.NotEmpty(t, file.Spec.Groups)
	assert.Equal(t, file.Spec, pr.Spec, "the overlay deploys deploy/monitoring's rules unchanged")
}

// TestKubernetesAzureMonitorComponent renders the base with the AKS managed
// Prometheus component (deploy/testdata/azure-monitor is such an overlay).
func TestKubernetesAzureMonitorComponent(t *testing.T) {
	t.Parallel()
	o := buildBase(t, "deploy/testdata/azure-monitor")
	sm := assertScraped(t, o, "azmonitoring.coreos.com/v1")
	// The limits Microsoft's templates set, without which the add-on may
	// drop the target.
	require.NotNil(t, sm.Spec.LabelLimit)
	require.NotNil(t, sm.Spec.LabelNameLengthLimit)
	require.NotNil(t, sm.Spec.LabelValueLengthLimit)
	assert.Equal(t, int64(63), *sm.Spec.LabelLimit)
	assert.Equal(t, int64(511), *sm.Spec.LabelNameLengthLimit)
	assert.Equal(t, int64(1023), *sm.Spec.LabelValueLengthLimit)
	assert.NotContains(t, o.r.objects, "PrometheusRule", "managed Prometheus reads no PrometheusRule")
}

// assertScraped checks the metrics Service and the one ServiceMonitor of a
// render: the ServiceMonitor has apiVersion, decodes into the Prometheus
// Operator's type without unknown fields (AKS managed Prometheus uses the
// same schema under azmonitoring.coreos.com), sits next to the worker and
// scrapes /metrics on the Service's port, which selects the worker's pods
// and targets their http port.
func assertScraped(t *testing.T, o *base, apiVersion string) monitoringv1.ServiceMonitor {
	t.Helper()
	var svc corev1.Service
	o.r.one(t, "Service", &svc)
	assert.Equal(t, o.deployment.Namespace, svc.Namespace, "next to the worker")
	assertSelects(t, svc.Spec.Selector, o.deployment.Spec.Template.Labels)
	require.Len(t, svc.Spec.Ports, 1)
	sp := svc.Spec.Ports[0]
	assert.Equal(t, "http", sp.TargetPort.StrVal, "targets the container's http port")
	assert.Equal(t, int32(httpPort(t, o.config.Data["LICENSEFIX_HTTP_ADDR"])), sp.Port)

	var sm monitoringv1.ServiceMonitor
	o.r.one(t, "ServiceMonitor", &sm)
	assert.Equal(t, apiVersion, sm.APIVersion)
	assert.Equal(t, svc.Namespace, sm.Namespace)
	assertSelects(t, sm.Spec.Selector.MatchLabels, svc.Labels)
	assert.Empty(t, sm.Spec.Selector.MatchExpressions)
	assert.Empty(t, sm.Spec.NamespaceSelector.MatchNames, "its own namespace")
	require.Len(t, sm.Spec.Endpoints, 1)
	ep := sm.Spec.Endpoints[0]
	assert.Equal(t, sp.Name, ep.Port)
	assert.Equal(t, "/metrics", ep.Path)
	return sm
}

// decodeYAMLStrict decodes a YAML document into v, refusing unknown fields.
func decodeYAMLStrict(t *testing.T, doc string, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v))
}

// assertSelects checks that a non-empty selector matches labels.
func assertSelects(t *testing.T, selector, labels map[string]string) {
	t.Helper()
	require.NotEmpty(t, selector)
	for k, v := range selector {
		assert.Equal(t, v, labels[k], "selector %s=%s", k, v)
	}
}

// TestKubernetesSubscriptionComponent renders the base with the
// subscription component (deploy/testdata/subscription is such an
// overlay): the worker gets the topic and the subscription instead of the
// queue, and KEDA counts that subscription's messages.
func TestKubernetesSubscriptionComponent(t *testing.T) {
	t.Parallel()
	b := buildBase(t, "deploy/kubernetes")
	o := buildBase(t, "deploy/testdata/subscription")
	assert.Len(t, o.r.order, len(b.r.order), "the component adds no object")

	cfg := o.config.Data
	requireAccepted(t, "subscription ConfigMap", "run", cfg)
	assert.NotContains(t, cfg, "LICENSEFIX_QUEUE", "one form only: a queue and a topic together stop start-up")
	assert.Equal(t, "license-events", cfg["LICENSEFIX_TOPIC"])
	assert.Equal(t, "licensefix", cfg["LICENSEFIX_SUBSCRIPTION"])
	assert.Equal(t, o.configName, o.container(t).EnvFrom[0].ConfigMapRef.Name)
	assert.NotEqual(t, b.configName, o.configName, "a new hash rolls the pods")

	trig := pathOf(t, o.scaled, "spec", "triggers", 0).(map[string]any)
	meta := trig["metadata"].(map[string]any)
	assert.Equal(t, "azure-servicebus", trig["type"])
	assert.NotContains(t, meta, "queueName")
	assert.Equal(t, cfg["LICENSEFIX_TOPIC"], meta["topicName"], "scales on the topic the worker reads")
	assert.Equal(t, cfg["LICENSEFIX_SUBSCRIPTION"], meta["subscriptionName"], "and on its subscription")
	baseMeta := pathOf(t, b.scaled, "spec", "triggers", 0, "metadata").(map[string]any)
	for _, k := range []string{"namespace", "messageCount", "activationMessageCount", "cloud"} {
		assert.Equal(t, baseMeta[k], meta[k], "%s is the base's", k)
	}
	assert.Equal(t, pathOf(t, b.scaled, "spec", "triggers", 0, "authenticationRef"), trig["authenticationRef"])
}

// TestKubernetesSubscriptionComponentNeedsTheNames: an overlay that uses
// the component without naming the topic fails to build, naming the
// setting, instead of deploying a worker that cannot start.
func TestKubernetesSubscriptionComponentNeedsTheNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rel := func(elem ...string) string {
		p, err := filepath.Rel(dir, repoPath(t, elem...))
		require.NoError(t, err)
		return p
	}
	kz := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " +
		rel("deploy", "kubernetes", "base") + "\ncomponents:\n  - " + rel("deploy", "kubernetes", "components", "subscription") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kz), 0o600))
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	_, err := k.Run(filesys.MakeFsOnDisk(), dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "LICENSEFIX_TOPIC")
}
