// Tests of the Helm chart in sregraph/: helm lint and helm template through
// Helm's own packages, every rendered manifest decoded strictly into the
// Kubernetes API types (and the ServiceMonitor into prometheus-operator's),
// the manifests checked against each other, and the rendered sregraph.yaml
// checked against the binary's flags and run.
package helm

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/sregraph/sregraph/deploy/internal/httpcheck"
)

var update = flag.Bool("update", false, "rewrite the golden manifests in testdata/")

const (
	chartDir  = "sregraph"
	release   = "sre"
	namespace = "observability"
)

// kubeVersion is the oldest Kubernetes the chart declares (Chart.yaml
// kubeVersion) and renders for.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.25.0", Major: "1", Minor: "25"}

// cases are the values files under testdata/, each a way teams install.
func cases(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.values.yaml")
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".values.yaml"))
	}
	return names
}

func mustValues(t *testing.T, name string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(filepath.Join("testdata", name+".values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render is `helm template sre sregraph -n observability -f VALUES`.
func render(t *testing.T, vals map[string]any) (string, error) {
	t.Helper()
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.DryRunOption = "client"
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = release
	install.Namespace = namespace
	install.KubeVersion = kubeVersion
	rel, err := install.Run(mustChart(t), vals)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

func TestLint(t *testing.T) {
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			res := lint.AllWithKubeVersion(chartDir, mustValues(t, name), namespace, kubeVersion)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
	// The chart's own defaults have no tokens: rendering them fails with
	// what to set (TestRenderRefuses), which helm lint reports as
	// information, not as a fault of the chart.
	for _, m := range lint.AllWithKubeVersion(chartDir, nil, namespace, kubeVersion).Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint (defaults): %s", m)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values string
		want   string
	}{
		{"no tokens", `{}`, "give API tokens"},
		{"replicas on the embedded store", `{insecureListen: true, replicaCount: 2}`, "replicaCount > 1 needs the Neo4j store"},
		{"listen address in config", `{insecureListen: true, config: {http: ":9090"}}`, "config.http: the chart sets it"},
		{"data dir in config", `{insecureListen: true, config: {data-dir: /var/lib/x}}`, "config.data-dir: the chart sets it"},
		{"ServiceMonitor without a token", `{secrets: {tokens: [{name: a, token: 0123456789abcdef, scopes: [read]}]}, serviceMonitor: {enabled: true}}`, "set serviceMonitor.token"},
		{"unknown Kafka family", `{insecureListen: true, kafka: {brokers: ["k:9092"], topics: {deploy: x}}}`, "kafka.topics.deploy: no such family"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := chartutil.ReadValues([]byte(tc.values))
			if err != nil {
				t.Fatal(err)
			}
			_, err = render(t, vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// objects is one rendering, decoded.
type objects struct {
	statefulSet    *appsv1.StatefulSet
	configMap      *corev1.ConfigMap
	secret         *corev1.Secret // nil with an existing Secret
	services       []*corev1.Service
	serviceAccount *corev1.ServiceAccount
	serviceMonitor *monitoringv1.ServiceMonitor
}

// decode reads every manifest strictly into its API type: an unknown or
// misspelt field, a duplicate key or a wrong type is an error, as the API
// server's strict field validation would report it.
func decode(t *testing.T, manifest string) objects {
	t.Helper()
	var o objects
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		doc := []byte(docs[k])
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/StatefulSet":
			o.statefulSet = &appsv1.StatefulSet{}
			obj = o.statefulSet
		case "v1/ConfigMap":
			o.configMap = &corev1.ConfigMap{}
			obj = o.configMap
		case "v1/Secret":
			o.secret = &corev1.Secret{}
			obj = o.secret
		case "v1/Service":
			s := &corev1.Service{}
			o.services = append(o.services, s)
			obj = s
		case "v1/ServiceAccount":
			o.serviceAccount = &corev1.ServiceAccount{}
			obj = o.serviceAccount
		case "monitoring.coreos.com/v1/ServiceMonitor":
			o.serviceMonitor = &monitoringv1.ServiceMonitor{}
			obj = o.serviceMonitor
		default:
			t.Fatalf("%s: %s %s has no decoder here: add one", k, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s (%s): not a valid %s: %v", k, tm.Kind, tm.Kind, err)
		}
	}
	if o.statefulSet == nil || o.configMap == nil || len(o.services) != 2 {
		t.Fatalf("rendered %d objects without a StatefulSet, a ConfigMap and two Services", len(docs))
	}
	return o
}

func TestRender(t *testing.T) {
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			vals := mustValues(t, name)
			manifest, err := render(t, vals)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(manifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != manifest {
				t.Errorf("rendered manifests differ from %s (go test -run TestRender -update to accept):\n%s", golden, manifest)
			}
			o := decode(t, manifest)
			checkWorkload(t, o)
			checkFiles(t, o, vals)
			checkServiceMonitor(t, o)
		})
	}
}

func container(t *testing.T, o objects) corev1.Container {
	t.Helper()
	cs := o.statefulSet.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

// checkWorkload: selectors, Services, probes, ports and the security
// context fit together and fit the image.
func checkWorkload(t *testing.T, o objects) {
	sts := o.statefulSet
	pod := sts.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the StatefulSet's selector %s does not select its pods %v", sel, pod.Labels)
	}
	c := container(t, o)
	if !slices.Equal(c.Args, []string{"--config", "/etc/sregraph/sregraph.yaml"}) {
		t.Errorf("args %q, want the config file", c.Args)
	}
	if len(c.Command) != 0 {
		t.Errorf("command %q overrides the image's entrypoint", c.Command)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 {
		t.Errorf("container ports %v, want http on the image's 8080", ports)
	}
	for _, e := range c.Env {
		if e.Name == "SREGRAPH_HTTP" && e.Value != ":8080" {
			t.Errorf("SREGRAPH_HTTP=%s, but the container port is 8080", e.Value)
		}
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/healthz"},
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe GET %s on %s, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("no security context")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 || psc.FSGroup == nil || *psc.FSGroup != 65532 {
		t.Errorf("pod security context %+v: want non-root 65532 with fsGroup 65532 (the image's user, the volume's owner)", psc)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
	}

	// Every mount has a volume; the store, /tmp (read-only root) and the
	// config are mounted.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	claims := map[string]bool{}
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		claims[pvc.Name] = true
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if _, ok := vols[m.Name]; !ok && !claims[m.Name] {
			t.Errorf("mount %s at %s has no volume", m.Name, m.MountPath)
		}
		mounts[m.MountPath] = m.Name
	}
	for _, p := range []string{"/data", "/tmp", "/etc/sregraph"} {
		if _, ok := mounts[p]; !ok {
			t.Errorf("nothing mounted at %s", p)
		}
	}
	if v, ok := vols[mounts["/data"]]; ok == claims[mounts["/data"]] || (ok && v.EmptyDir == nil) {
		t.Errorf("/data is neither a claim nor an emptyDir: %+v", v)
	}

	var governing, api *corev1.Service
	for _, s := range o.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) || len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s selects %v, not the pods %v", s.Name, s.Spec.Selector, pod.Labels)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.String() != "http" {
				t.Errorf("Service %s targets port %s, want http", s.Name, p.TargetPort.String())
			}
		}
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			governing = s
		} else {
			api = s
		}
	}
	if governing == nil || api == nil || sts.Spec.ServiceName != governing.Name {
		t.Errorf("serviceName %q: want the headless Service, besides the API's", sts.Spec.ServiceName)
	}
	if o.serviceAccount != nil && (o.serviceAccount.AutomountServiceAccountToken == nil || *o.serviceAccount.AutomountServiceAccountToken) {
		t.Error("the ServiceAccount mounts an API token sregraph never uses")
	}
}

// projected lists the files the config volume puts under /etc/sregraph,
// and the Secret keys they come from ("" for the ConfigMap's).
func projected(t *testing.T, o objects) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, v := range o.statefulSet.Spec.Template.Spec.Volumes {
		if v.Name != "config" {
			continue
		}
		if v.Projected == nil {
			t.Fatalf("the config volume is not projected: %+v", v)
		}
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				if src.ConfigMap.Name != o.configMap.Name {
					t.Errorf("config volume reads ConfigMap %s; the chart renders %s", src.ConfigMap.Name, o.configMap.Name)
				}
				for k := range o.configMap.Data {
					files["/etc/sregraph/"+k] = ""
				}
			case src.Secret != nil:
				for _, it := range src.Secret.Items {
					files["/etc/sregraph/"+it.Path] = it.Key
				}
			}
		}
	}
	return files
}

// secretKeys are the keys of the Secret the pod reads: the chart's, or
// those the values say the existing one holds.
func secretKeys(t *testing.T, o objects, vals map[string]any) map[string]bool {
	keys := map[string]bool{}
	if o.secret != nil {
		for k := range o.secret.Data {
			keys[k] = true
		}
		return keys
	}
	s, _ := vals["secrets"].(map[string]any)
	existing, _ := s["existingSecretKeys"].([]any)
	for _, k := range existing {
		keys[fmt.Sprint(k)] = true
	}
	return keys
}

// checkFiles: every file sregraph.yaml names is mounted, from a key that
// exists; the tokens file is one the server accepts.
func checkFiles(t *testing.T, o objects, vals map[string]any) {
	cfg := map[string]any{}
	if err := yaml.UnmarshalStrict([]byte(o.configMap.Data["sregraph.yaml"]), &cfg); err != nil {
		t.Fatalf("sregraph.yaml: %v", err)
	}
	files := projected(t, o)
	keys := secretKeys(t, o, vals)
	if _, ok := files["/etc/sregraph/sregraph.yaml"]; !ok {
		t.Error("sregraph.yaml is not mounted at /etc/sregraph/sregraph.yaml")
	}
	for k, v := range cfg {
		p, ok := v.(string)
		if !ok || !strings.HasPrefix(p, "/") {
			continue
		}
		key, mounted := files[p]
		if !mounted {
			t.Errorf("sregraph.yaml %s: %s is not mounted", k, p)
		} else if key != "" && !keys[key] {
			t.Errorf("sregraph.yaml %s: %s comes from Secret key %s, which it does not hold", k, p, key)
		}
	}
	for path, key := range files {
		if key != "" && !keys[key] {
			t.Errorf("%s is projected from Secret key %s, which it does not hold", path, key)
		}
	}
	for _, e := range container(t, o).Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !keys[e.ValueFrom.SecretKeyRef.Key] {
			t.Errorf("env %s reads Secret key %s, which it does not hold", e.Name, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	if o.secret != nil && o.secret.Data["tokens.yaml"] != nil {
		var tokens []struct {
			Name   string   `json:"name"`
			Token  string   `json:"token"`
			SHA256 string   `json:"sha256"`
			Scopes []string `json:"scopes"`
		}
		if err := yaml.UnmarshalStrict(o.secret.Data["tokens.yaml"], &tokens); err != nil {
			t.Fatalf("tokens.yaml: %v", err)
		}
		for _, tok := range tokens {
			if (len(tok.Token) < 16) == (len(tok.SHA256) != 64) || len(tok.Scopes) == 0 {
				t.Errorf("tokens.yaml entry %q: want a token of 16+ characters or a sha256, and scopes", tok.Name)
			}
		}
	}
}

// checkServiceMonitor: it scrapes /metrics on the API Service (once, not
// again through the headless one) with a token the server knows.
func checkServiceMonitor(t *testing.T, o objects) {
	sm := o.serviceMonitor
	if sm == nil {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	var selected []*corev1.Service
	for _, s := range o.services {
		if sel.Matches(labels.Set(s.Labels)) {
			selected = append(selected, s)
		}
	}
	if len(selected) != 1 || selected[0].Spec.ClusterIP == corev1.ClusterIPNone {
		t.Fatalf("the ServiceMonitor selects %d Services; want the API Service only", len(selected))
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("namespaceSelector %v, want %s", sm.Spec.NamespaceSelector.MatchNames, namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Path != "/metrics" || !slices.ContainsFunc(selected[0].Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
		t.Errorf("endpoint %s on port %q, want /metrics on a port of the Service", ep.Path, ep.Port)
	}
	auth := ep.Authorization
	if auth == nil || auth.Credentials == nil {
		t.Fatal("the ServiceMonitor sends no token, and /metrics needs one")
	}
	if o.secret == nil {
		return // the existing Secret's token is its owner's to match
	}
	if auth.Credentials.Name != o.secret.Name {
		t.Errorf("the token comes from Secret %s; the chart renders %s", auth.Credentials.Name, o.secret.Name)
	}
	token := string(o.secret.Data[auth.Credentials.Key])
	if token == "" || !bytes.Contains(o.secret.Data["tokens.yaml"], []byte(token)) {
		t.Errorf("Prometheus's token (key %s) is not in tokens.yaml", auth.Credentials.Key)
	}
}

// serveFlags runs `sregraph serve -h` and returns its flag names.
func serveFlags(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^ +--?([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["data-dir"] || !flags["store"] {
		t.Fatalf("sregraph serve -h lists no flags:\n%s", out)
	}
	return flags
}

// TestConfigRunsTheServer checks every rendered sregraph.yaml against the
// flags of `sregraph serve`, then starts the server on the embedded
// rendering's configuration, its files written out as the pod would see
// them, and uses the tokens, aliases and metrics token the chart rendered.
func TestConfigRunsTheServer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sregraph")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sregraph")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	flags := serveFlags(t, bin)

	rendered := map[string]objects{}
	for _, name := range cases(t) {
		manifest, err := render(t, mustValues(t, name))
		if err != nil {
			t.Fatal(err)
		}
		o := decode(t, manifest)
		rendered[name] = o
		cfg := map[string]any{}
		if err := yaml.Unmarshal([]byte(o.configMap.Data["sregraph.yaml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		for k := range cfg {
			if !flags[k] {
				t.Errorf("%s: sregraph.yaml key %q is not a flag of sregraph serve", name, k)
			}
		}
	}

	// The pod's /etc/sregraph, in a directory.
	o := rendered["embedded"]
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	for path, key := range projected(t, o) {
		var data []byte
		if key == "" {
			data = []byte(o.configMap.Data[filepath.Base(path)])
		} else {
			data = o.secret.Data[key]
		}
		local := filepath.Join(etc, strings.TrimPrefix(path, "/etc/sregraph/"))
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	// The chart's own config file, as the pod reads it with --config, its
	// paths moved to the directory.
	conf := filepath.Join(etc, "sregraph.yaml")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(o.configMap.Data["sregraph.yaml"], "/etc/sregraph/", etc+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--data-dir", filepath.Join(dir, "data"), "--config", conf}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, args...)
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	srv.Env = append(os.Environ(), fmt.Sprintf("SREGRAPH_HTTP=127.0.0.1:%d", port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = srv.Wait(); close(exited) }()
	defer func() {
		if err := srv.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
		<-exited
		if waitErr != nil {
			t.Errorf("the server did not stop cleanly: %v\n%s", waitErr, logs.String())
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitReady(ctx, base+"/readyz", exited); err != nil {
		t.Fatalf("%v\nargs %q\n%s", err, args, logs.String())
	}

	read := "6f1c0e9b2a7d4e3f8a5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d" // grafana, read
	ingest := "b5e1f0d2c3a4958677685a4b3c2d1e0f"               // argo-cd, ingest
	metrics := string(o.secret.Data["metrics-token"])
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		contains                  string
	}{
		{"GET", "/metrics", "", "", 401, ""},
		{"GET", "/metrics", metrics, "", 200, "go_goroutines"},
		{"POST", "/v1/events", read, `{}`, 403, "lacks the ingest scope"},
		{"POST", "/v1/events", ingest, `{"id": "rel-1842", "kind": "deploy", "service": "payments-api",
			"at": "2026-11-21T11:50:00Z", "source": "argo-cd", "summary": "payments 1.42.0 deployed"}`, 200, `"accepted":1`},
		// The alias file turned payments-api into payments.
		{"POST", "/graphql", read, `{"query": "{ events(services: [\"payments\"]) { nodes { summary service { name } } } }"}`,
			200, `{"summary":"payments 1.42.0 deployed","service":{"name":"payments"}}`},
	} {
		status, body := httpcheck.Call(ctx, t, tc.method, base+tc.path, tc.token, tc.body)
		if status != tc.status || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, status, body, tc.status, tc.contains)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitReady polls url until it answers 200, the server exits or ctx ends.
func waitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			if cerr := resp.Body.Close(); cerr != nil {
				return cerr
			}
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("the server exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("%s never answered 200 (last error %v)", url, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
