// Package deploy holds no Go code: it is the Kubernetes manifests
// (kubernetes/) and Slurm scripts (slurm/) that run valuescope as a sharded
// run on a cluster, and this test of them. There is no cluster here, so the
// test does what each scheduler would: it decodes the manifests into the
// Kubernetes API's own types, and runs the Jobs' and scripts' own commands
// as local processes (one per shard index, with the container's paths
// mapped to local folders, or Slurm's array variables set), then the merge,
// and checks the merged run against one valuescope run of the same config.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/valuescope/valuescope/internal/shareddata"
)

// The objects the manifests must define, by name.
const (
	shardJobName = "valuescope-shards"
	mergeJobName = "valuescope-merge"
	pvcName      = "valuescope-data"
	secretName   = "valuescope-api-keys"
	configName   = "valuescope-config"
)

// fakeSbatchEnv, when set, makes the test binary act as sbatch (see
// fakeSbatch): its value is the folder where the fake keeps its jobs.
const fakeSbatchEnv = "VALUESCOPE_DEPLOY_TEST_SBATCH"

func TestMain(m *testing.M) {
	if state := os.Getenv(fakeSbatchEnv); state != "" {
		os.Exit(fakeSbatch(state, os.Args[1:]))
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// ---- the manifests, decoded ----

// object is one document of a manifest file, decoded into its API type.
type object struct {
	file string
	kind string
	name string
	obj  any
}

// apiTypes are the kinds the manifests may hold, with their API version and
// Go type: a kind outside this list fails the test rather than go unchecked.
var apiTypes = map[string]struct {
	apiVersion string
	new        func() any
}{
	"Job":                   {"batch/v1", func() any { return new(batchv1.Job) }},
	"Pod":                   {"v1", func() any { return new(corev1.Pod) }},
	"Secret":                {"v1", func() any { return new(corev1.Secret) }},
	"ConfigMap":             {"v1", func() any { return new(corev1.ConfigMap) }},
	"PersistentVolumeClaim": {"v1", func() any { return new(corev1.PersistentVolumeClaim) }},
}

// loadKubernetes decodes every document of kubernetes/*.yaml strictly: a
// field the API type does not have (a typo, a field of another version) or
// a key given twice fails.
func loadKubernetes(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no kubernetes/*.yaml (%v)", err)
	}
	var objs []object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			typ, ok := apiTypes[head.Kind]
			if !ok {
				t.Fatalf("%s, document %d: kind %q is not one this test knows (%v)", f, i+1, head.Kind, slices.Sorted(mapKeys(apiTypes)))
			}
			if head.APIVersion != typ.apiVersion {
				t.Fatalf("%s: %s has apiVersion %q, want %q", f, head.Kind, head.APIVersion, typ.apiVersion)
			}
			obj := typ.new()
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s, document %d (%s): %v", f, i+1, head.Kind, err)
			}
			name := obj.(interface{ GetName() string }).GetName()
			if name == "" {
				t.Fatalf("%s: a %s without metadata.name", f, head.Kind)
			}
			objs = append(objs, object{file: f, kind: head.Kind, name: name, obj: obj})
		}
	}
	return objs
}

func stripComments(doc string) string {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")
}

func mapKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// find returns the one object of that kind and name.
func find[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.kind == kind && o.name == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %q in kubernetes/, found %d", kind, name, len(found))
	}
	return found[0].obj.(T)
}

// theContainer is a Job's one container.
func theContainer(t *testing.T, j *batchv1.Job) corev1.Container {
	t.Helper()
	cs := j.Spec.Template.Spec.Containers
	if len(cs) != 1 || len(j.Spec.Template.Spec.InitContainers) != 0 {
		t.Fatalf("job %s: want exactly one container, have %d (and %d init containers)", j.Name, len(cs), len(j.Spec.Template.Spec.InitContainers))
	}
	return cs[0]
}

func envValue(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			if e.ValueFrom != nil {
				t.Fatalf("container %s: %s comes from elsewhere; want a literal value", c.Name, name)
			}
			return e.Value
		}
	}
	t.Fatalf("container %s declares no %s", c.Name, name)
	return ""
}

// commandLine is what the container runs: its command, then its args.
func commandLine(t *testing.T, c corev1.Container) []string {
	t.Helper()
	argv := append(slices.Clone(c.Command), c.Args...)
	if len(argv) != 3 || argv[0] != "sh" || argv[1] != "-c" {
		t.Fatalf("container %s runs %q; want sh -c SCRIPT", c.Name, argv)
	}
	return argv
}

// exitCodes are valuescope's exit statuses, read from the constants in
// cmd/valuescope/main.go (package main, so a test elsewhere cannot import
// them): a status renumbered there fails this test until the manifests'
// podFailurePolicy follows.
func exitCodes(t *testing.T) map[string]int32 {
	t.Helper()
	path := filepath.Join("..", "cmd", "valuescope", "main.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int32{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "exit") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					t.Fatalf("%s: %s is not an integer literal", path, n.Name)
				}
				v, err := strconv.ParseInt(lit.Value, 0, 32)
				if err != nil {
					t.Fatal(err)
				}
				codes[n.Name] = int32(v)
			}
		}
	}
	for _, n := range []string{"exitFailed", "exitUsage", "exitStageErrors", "exitStopped", "exitInterrupted"} {
		if _, ok := codes[n]; !ok {
			t.Fatalf("%s: no constant %s (have %v)", path, n, codes)
		}
	}
	return codes
}

// ---- static checks ----

func TestKubernetesManifests(t *testing.T) {
	objs := loadKubernetes(t)
	codes := exitCodes(t)
	shards := find[*batchv1.Job](t, objs, "Job", shardJobName)
	merge := find[*batchv1.Job](t, objs, "Job", mergeJobName)
	pvc := find[*corev1.PersistentVolumeClaim](t, objs, "PersistentVolumeClaim", pvcName)
	secret := find[*corev1.Secret](t, objs, "Secret", secretName)
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap", configName)

	t.Run("shared volume", func(t *testing.T) {
		if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
			t.Errorf("PVC %s: access modes %v; every shard pod mounts it at once: want ReadWriteMany", pvc.Name, pvc.Spec.AccessModes)
		}
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
			t.Errorf("PVC %s requests no storage", pvc.Name)
		}
	})

	t.Run("secret holds placeholders only", func(t *testing.T) {
		if len(secret.Data) > 0 {
			t.Errorf("secret %s has base64 data %v: keep placeholders in stringData, real keys out of the repository", secret.Name, slices.Sorted(mapKeys(secret.Data)))
		}
		for _, k := range []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY"} {
			if _, ok := secret.StringData[k]; !ok {
				t.Errorf("secret %s: no %s", secret.Name, k)
			}
		}
		placeholder := regexp.MustCompile(`^REPLACE_WITH_[A-Z_]+$`)
		for k, v := range secret.StringData {
			if !placeholder.MatchString(v) {
				t.Errorf("secret %s: %s is %q, not a placeholder like REPLACE_WITH_YOUR_KEY", secret.Name, k, v)
			}
		}
	})

	t.Run("shard job", func(t *testing.T) {
		s := shards.Spec
		if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
			t.Fatalf("completionMode %v: want Indexed (JOB_COMPLETION_INDEX is the shard)", deref(s.CompletionMode))
		}
		c := theContainer(t, shards)
		n, err := strconv.Atoi(envValue(t, c, "SHARDS"))
		if err != nil || s.Completions == nil || int(*s.Completions) != n {
			t.Errorf("completions %v and SHARDS %q must be the same number of shards", deref(s.Completions), envValue(t, c, "SHARDS"))
		}
		if s.Parallelism == nil || *s.Parallelism < 1 || *s.Parallelism > deref(s.Completions) {
			t.Errorf("parallelism %v: want 1..completions", deref(s.Parallelism))
		}
		if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
			t.Errorf("backoffLimitPerIndex %v: want retries of an index", deref(s.BackoffLimitPerIndex))
		}
		if s.PodReplacementPolicy == nil || *s.PodReplacementPolicy != batchv1.Failed {
			t.Errorf("podReplacementPolicy %v: want Failed, so that a replacement never opens a shard's store while the pod it replaces still runs", deref(s.PodReplacementPolicy))
		}
		checkFailurePolicy(t, shards, c.Name, map[batchv1.PodFailurePolicyAction][]int32{
			batchv1.PodFailurePolicyActionFailJob:   {codes["exitUsage"], codes["exitStopped"]},
			batchv1.PodFailurePolicyActionFailIndex: {codes["exitFailed"]},
			batchv1.PodFailurePolicyActionIgnore:    {codes["exitInterrupted"]},
		})
		if g := shards.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
			t.Errorf("terminationGracePeriodSeconds %v: want time for valuescope to stop cleanly on SIGTERM (at least 30 s)", deref(g))
		}
		script := commandLine(t, c)[2]
		for _, want := range []string{
			`valuescope run "$CONFIG" --shard "$JOB_COMPLETION_INDEX/$SHARDS"`,
			`--out "$RUNS/shard-$JOB_COMPLETION_INDEX"`,
			fmt.Sprintf(`"$status" -eq %d`, codes["exitStageErrors"]),
			"trap ",
		} {
			if !strings.Contains(script, want) {
				t.Errorf("the shard script lacks %q:\n%s", want, script)
			}
		}
		checkPod(t, shards.Name, shards.Spec.Template.Spec, c, pvc, cm)
		if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
			return e.SecretRef != nil && e.SecretRef.Name == secret.Name
		}) {
			t.Errorf("the shard container does not take its API keys from secret %s", secret.Name)
		}
	})

	t.Run("merge job", func(t *testing.T) {
		if merge.Spec.CompletionMode != nil && *merge.Spec.CompletionMode != batchv1.NonIndexedCompletion {
			t.Errorf("the merge is one pod; completionMode %v", *merge.Spec.CompletionMode)
		}
		c := theContainer(t, merge)
		script := commandLine(t, c)[2]
		if !strings.Contains(script, `valuescope merge ${MERGE_FLAGS:-} "$RUNS/merged" "$RUNS"/shard-*`) {
			t.Errorf("the merge script does not merge $RUNS/shard-* into $RUNS/merged:\n%s", script)
		}
		if got, want := envValue(t, c, "RUNS"), envValue(t, theContainer(t, shards), "RUNS"); got != want {
			t.Errorf("the merge reads RUNS=%s, the shards write RUNS=%s", got, want)
		}
		checkFailurePolicy(t, merge, c.Name, map[batchv1.PodFailurePolicyAction][]int32{
			batchv1.PodFailurePolicyActionFailJob: {codes["exitUsage"]},
			batchv1.PodFailurePolicyActionIgnore:  {codes["exitInterrupted"]},
		})
		checkPod(t, merge.Name, merge.Spec.Template.Spec, c, pvc, nil)
	})

	t.Run("config", func(t *testing.T) {
		if len(cm.Data) == 0 {
			t.Fatalf("configmap %s carries no config", cm.Name)
		}
		for k, v := range cm.Data {
			var cfg map[string]any
			if _, err := toml.Decode(v, &cfg); err != nil {
				t.Errorf("configmap %s, %s: %v", cm.Name, k, err)
			}
		}
	})
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// checkFailurePolicy: disruptions are ignored, and the exit codes of each
// action are exactly want's.
func checkFailurePolicy(t *testing.T, j *batchv1.Job, container string, want map[batchv1.PodFailurePolicyAction][]int32) {
	t.Helper()
	p := j.Spec.PodFailurePolicy
	if p == nil {
		t.Errorf("job %s has no podFailurePolicy", j.Name)
		return
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("job %s: a podFailurePolicy needs restartPolicy Never, have %q", j.Name, j.Spec.Template.Spec.RestartPolicy)
	}
	got := map[batchv1.PodFailurePolicyAction][]int32{}
	disruption := false
	for i, r := range p.Rules {
		if e := r.OnExitCodes; e != nil {
			if e.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn {
				t.Errorf("job %s, rule %d: operator %s; want In", j.Name, i, e.Operator)
			}
			if deref(e.ContainerName) != container {
				t.Errorf("job %s, rule %d: containerName %q; want %q", j.Name, i, deref(e.ContainerName), container)
			}
			if !slices.IsSorted(e.Values) || len(slices.Compact(slices.Clone(e.Values))) != len(e.Values) {
				t.Errorf("job %s, rule %d: values %v must be sorted and distinct (the API refuses others)", j.Name, i, e.Values)
			}
			got[r.Action] = append(got[r.Action], e.Values...)
		}
		for _, c := range r.OnPodConditions {
			if c.Type == corev1.DisruptionTarget && (c.Status == "" || c.Status == corev1.ConditionTrue) {
				disruption = r.Action == batchv1.PodFailurePolicyActionIgnore
			}
		}
	}
	if !disruption {
		t.Errorf("job %s: a disrupted pod (DisruptionTarget: evicted, preempted) must be ignored, not counted", j.Name)
	}
	for a, codes := range want {
		slices.Sort(got[a])
		codes = slices.Sorted(slices.Values(codes))
		if !slices.Equal(got[a], codes) {
			t.Errorf("job %s: %s on exit codes %v; valuescope's (cmd/valuescope/main.go) say %v", j.Name, a, got[a], codes)
		}
	}
}

// checkPod: the pod mounts the shared claim and keeps the run folders on
// it, takes its config from the ConfigMap (when cm is not nil), and states
// what it needs of the node.
func checkPod(t *testing.T, job string, spec corev1.PodSpec, c corev1.Container, pvc *corev1.PersistentVolumeClaim, cm *corev1.ConfigMap) {
	t.Helper()
	mountOf := func(pred func(corev1.Volume) bool) string {
		for _, v := range spec.Volumes {
			if !pred(v) {
				continue
			}
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					return m.MountPath
				}
			}
		}
		return ""
	}
	data := mountOf(func(v corev1.Volume) bool {
		return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name
	})
	if data == "" {
		t.Fatalf("job %s does not mount claim %s", job, pvc.Name)
	}
	if runs := envValue(t, c, "RUNS"); !under(runs, data) {
		t.Errorf("job %s: RUNS=%s is not on the shared volume (mounted at %s)", job, runs, data)
	}
	if cm != nil {
		dir := mountOf(func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name })
		cfg := envValue(t, c, "CONFIG")
		if dir == "" || filepath.Dir(cfg) != dir {
			t.Errorf("job %s: CONFIG=%s is not a file of configmap %s (mounted at %q)", job, cfg, cm.Name, dir)
		} else if _, ok := cm.Data[filepath.Base(cfg)]; !ok {
			t.Errorf("job %s: CONFIG=%s, but configmap %s has no key %s", job, cfg, cm.Name, filepath.Base(cfg))
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("job %s: %s needs a request and a limit", job, r)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("job %s: %s request %s over its limit %s", job, r, req.String(), lim.String())
		}
	}
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// sbatchDirectives are a script's #SBATCH options, as option → value.
func sbatchDirectives(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		opt, ok := strings.CutPrefix(line, "#SBATCH ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
		d[k] = v
	}
	return d
}

func TestSlurmScripts(t *testing.T) {
	d := sbatchDirectives(t, filepath.Join("slurm", "shards.sbatch"))
	if d["--array"] != "0-2" {
		t.Errorf("shards.sbatch: --array=%s; want 0-2 (the default 3 shards of submit.sh; the array's IDs are the shards)", d["--array"])
	}
	if _, ok := d["--requeue"]; !ok {
		t.Error("shards.sbatch: no --requeue: a preempted or failed node's task would not resume")
	}
	// B: signals the batch shell, which passes SIGTERM on to valuescope
	// and requeues the task; USR1 tells the time limit from scancel's TERM.
	m := regexp.MustCompile(`^B:USR1@(\d+)$`).FindStringSubmatch(d["--signal"])
	if m == nil {
		t.Errorf("shards.sbatch: --signal=%s; want B:USR1@SECONDS", d["--signal"])
	} else if s, _ := strconv.Atoi(m[1]); s < 60 {
		t.Errorf("shards.sbatch: --signal %s s before the limit; Slurm may send it up to 60 s late", m[1])
	}
	for _, f := range []string{"shards.sbatch", "merge.sbatch"} {
		d := sbatchDirectives(t, filepath.Join("slurm", f))
		for _, k := range []string{"--time", "--mem", "--cpus-per-task", "--open-mode"} {
			if d[k] == "" {
				t.Errorf("%s: no #SBATCH %s", f, k)
			}
		}
	}
	for _, f := range []string{"shards.sbatch", "merge.sbatch", "submit.sh"} {
		if fi, err := os.Stat(filepath.Join("slurm", f)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", f, err)
		}
		if testing.Short() {
			continue // bash -n is a process
		}
		if out, err := exec.Command("bash", "-n", filepath.Join("slurm", f)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}

// ---- the scripts' own logic, with a stand-in valuescope ----

// fakeValuescope records its arguments and exits with $FAKE_STATUS, or,
// with FAKE_STATUS=wait, runs until SIGTERM, which it records, then exits
// 130 as valuescope does. fakeScontrol records its arguments.
const (
	fakeValuescope = `#!/bin/sh
printf '%s\n' "$*" > "$FAKE_DIR/args"
if [ "$FAKE_STATUS" = wait ]; then
	trap 'echo TERM > "$FAKE_DIR/signal"; exit 130' TERM
	: > "$FAKE_DIR/started"
	while :; do sleep 0.01; done
fi
exit "$FAKE_STATUS"
`
	fakeScontrol = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_DIR/scontrol"
`
)

// TestScriptStatusesAndSignals runs each Job's and script's command with a
// stand-in valuescope: valuescope's arguments are as documented, its exit
// status comes back (3 as 0: the run finished, its stage errors recorded),
// and a SIGTERM to the shell (Kubernetes stopping the pod, scancel) reaches
// valuescope, whose 130 comes back; Slurm's time-limit warning (SIGUSR1)
// does too, and requeues the task.
func TestScriptStatusesAndSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts shells")
	}
	objs := loadKubernetes(t)
	codes := exitCodes(t)
	shardC := theContainer(t, find[*batchv1.Job](t, objs, "Job", shardJobName))
	mergeC := theContainer(t, find[*batchv1.Job](t, objs, "Job", mergeJobName))

	bin := t.TempDir()
	for name, text := range map[string]string{"valuescope": fakeValuescope, "scontrol": fakeScontrol} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runs := t.TempDir()
	for _, s := range []string{"shard-0", "shard-1"} {
		if err := os.Mkdir(filepath.Join(runs, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shardArgs := "run /cfg/run.toml --shard 1/3 --out " + runs + "/shard-1 --no-report --quiet"
	mergeArgs := "merge " + runs + "/merged " + runs + "/shard-0 " + runs + "/shard-1"
	type script struct {
		name      string
		argv, env []string
		args      string // valuescope's
		flags     string // the variable of more flags for valuescope
		sigterm   bool   // the shell passes SIGTERM on
		timeLimit bool   // SIGUSR1 stops valuescope and requeues the task
	}
	scripts := []script{
		{"kubernetes shard", commandLine(t, shardC), []string{"CONFIG=/cfg/run.toml", "RUNS=" + runs, "SHARDS=3", "JOB_COMPLETION_INDEX=1"}, shardArgs, "RUN_FLAGS", true, false},
		{"kubernetes merge", commandLine(t, mergeC), []string{"RUNS=" + runs}, mergeArgs, "MERGE_FLAGS", true, false},
		{"slurm shard", []string{"bash", filepath.Join("slurm", "shards.sbatch")},
			[]string{"VALUESCOPE_CONFIG=/cfg/run.toml", "VALUESCOPE_RUNS=" + runs, "SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_JOB_ID=77"}, shardArgs, "VALUESCOPE_RUN_FLAGS", true, true},
		{"slurm merge", []string{"bash", filepath.Join("slurm", "merge.sbatch")}, []string{"VALUESCOPE_RUNS=" + runs}, mergeArgs, "VALUESCOPE_MERGE_FLAGS", false, false},
	}
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			start := func(t *testing.T, status, path string, extra ...string) (*exec.Cmd, string) {
				dir := t.TempDir()
				env := slices.Concat(cleanEnv(), s.env, extra, []string{"PATH=" + path, "FAKE_DIR=" + dir, "FAKE_STATUS=" + status})
				cmd := command(s.argv, env)
				cmd.Stderr = &bytes.Buffer{}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				return cmd, dir
			}
			path := bin + string(os.PathListSeparator) + os.Getenv("PATH")
			for _, st := range []int32{0, codes["exitFailed"], codes["exitUsage"], codes["exitStageErrors"], codes["exitStopped"], codes["exitInterrupted"]} {
				cmd, dir := start(t, strconv.Itoa(int(st)), path)
				want := st
				if st == codes["exitStageErrors"] {
					want = 0
				}
				if got := exitStatus(t, waitAtMost(t, cmd, 30*time.Second)); got != int(want) {
					t.Errorf("valuescope exited %d: the script exited %d, want %d\n%s", st, got, want, cmd.Stderr)
				}
				if args := readTrim(t, filepath.Join(dir, "args")); args != s.args {
					t.Errorf("valuescope was run as\n  %s\nwant\n  %s", args, s.args)
				}
			}
			// The flags variable, split into valuescope's arguments: after
			// the others for run, before OUT for merge.
			flagged := s.args + " --retry-errors --cache-from /x"
			if strings.HasPrefix(s.args, "merge ") {
				flagged = "merge --retry-errors --cache-from /x " + strings.TrimPrefix(s.args, "merge ")
			}
			cmd, dir := start(t, "0", path, s.flags+"=--retry-errors --cache-from /x")
			if got := exitStatus(t, waitAtMost(t, cmd, 30*time.Second)); got != 0 {
				t.Errorf("with %s set, the script exited %d\n%s", s.flags, got, cmd.Stderr)
			}
			if args := readTrim(t, filepath.Join(dir, "args")); args != flagged {
				t.Errorf("with %s set, valuescope was run as\n  %s\nwant\n  %s", s.flags, args, flagged)
			}
			signals := map[string]syscall.Signal{}
			if s.sigterm {
				signals["SIGTERM"] = syscall.SIGTERM
			}
			if s.timeLimit {
				signals["SIGUSR1"] = syscall.SIGUSR1
			}
			for name, sig := range signals {
				cmd, dir := start(t, "wait", path)
				waitFor(t, filepath.Join(dir, "started"))
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if got := exitStatus(t, waitAtMost(t, cmd, 30*time.Second)); got != int(codes["exitInterrupted"]) {
					t.Errorf("%s to the shell: it exited %d, want valuescope's %d\n%s", name, got, codes["exitInterrupted"], cmd.Stderr)
				}
				if readTrim(t, filepath.Join(dir, "signal")) != "TERM" {
					t.Errorf("%s to the shell did not reach valuescope as SIGTERM", name)
				}
				requeued := readTrim(t, filepath.Join(dir, "scontrol"))
				if s.timeLimit && (sig == syscall.SIGUSR1) != (requeued == "requeue 77") {
					t.Errorf("after %s, scontrol was run as %q; want \"requeue 77\" after SIGUSR1 only", name, requeued)
				}
			}
			if strings.Contains(s.name, "shard") {
				// No valuescope on PATH: the shell's 127, not a status it
				// made up while waiting.
				cmd, _ := start(t, "0", t.TempDir())
				if got := exitStatus(t, waitAtMost(t, cmd, 30*time.Second)); got != 127 {
					t.Errorf("without valuescope the script exited %d, want 127\n%s", got, cmd.Stderr)
				}
			}
		})
	}
}

// ---- the commands run locally, shards merged, against one run ----

// built is the valuescope binary, built once for the tests that need it.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// valuescopeBin builds valuescope and returns the binary's path.
func valuescopeBin(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "valuescope-deploy-test"); built.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(built.dir, "valuescope"), "../cmd/valuescope").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("building valuescope: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, "valuescope")
}

// binDir is a folder for the front of PATH holding valuescope (as
// `valuescope`, the name the scripts call) and any extra links.
func binDir(t *testing.T, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	links["valuescope"] = valuescopeBin(t)
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// localPod maps a pod's volumes to local folders: a claim's or ConfigMap's
// by its name under root (pods of both Jobs share them, as on a cluster),
// anything else (emptyDir) to a folder of this pod alone.
type localPod struct {
	mounts map[string]string // mount path → local folder
}

func newLocalPod(t *testing.T, root string, spec corev1.PodSpec, c corev1.Container) localPod {
	t.Helper()
	p := localPod{mounts: map[string]string{}}
	for _, m := range c.VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			t.Fatalf("container %s mounts %s, which is no volume of its pod", c.Name, m.Name)
		}
		v := spec.Volumes[i]
		var dir string
		switch {
		case v.PersistentVolumeClaim != nil:
			dir = filepath.Join(root, "pvc-"+v.PersistentVolumeClaim.ClaimName)
		case v.ConfigMap != nil:
			dir = filepath.Join(root, "configmap-"+v.ConfigMap.Name)
		default:
			dir = t.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p.mounts[m.MountPath] = dir
	}
	return p
}

// remap turns a path in the container into the local one (paths outside
// every mount are kept).
func (p localPod) remap(path string) string {
	best := ""
	for m := range p.mounts {
		if under(path, m) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return path
	}
	return p.mounts[best] + strings.TrimPrefix(path, best)
}

// remapText remaps every quoted absolute path in a file (a config).
func (p localPod) remapText(text string) string {
	return regexp.MustCompile(`"(/[^"]*)"`).ReplaceAllStringFunc(text, func(q string) string {
		return strconv.Quote(p.remap(q[1 : len(q)-1]))
	})
}

// env is the container's environment with its paths remapped, after the
// test's own (less what the container sets), valuescope first on PATH.
func (p localPod) env(c corev1.Container, bin string, extra ...string) []string {
	env := cleanEnv()
	env = slices.DeleteFunc(env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == k })
	})
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, e := range c.Env {
		env = append(env, e.Name+"="+p.remap(e.Value))
	}
	return append(env, extra...)
}

// cleanEnv is the test's environment without PATH (the caller sets it)
// and the variables the scripts read.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "PATH" || k == "GOMAXPROCS" || strings.HasPrefix(k, "SLURM_") || strings.HasPrefix(k, "VALUESCOPE_") && k != "VALUESCOPE_SHARED_DATA"
	})
}

func TestKubernetesJobsRunLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("builds valuescope and runs the Jobs' commands")
	}
	arena := shareddata.Path(t, "chatbot-arena")
	objs := loadKubernetes(t)
	shards := find[*batchv1.Job](t, objs, "Job", shardJobName)
	merge := find[*batchv1.Job](t, objs, "Job", mergeJobName)
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap", configName)
	bin := binDir(t, map[string]string{})
	root := t.TempDir()

	sc := theContainer(t, shards)
	pod := newLocalPod(t, root, shards.Spec.Template.Spec, sc)
	// The ConfigMap's keys are the files of its mount.
	for _, v := range shards.Spec.Template.Spec.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
			continue
		}
		dir := filepath.Join(root, "configmap-"+cm.Name)
		for k, text := range cm.Data {
			if err := os.WriteFile(filepath.Join(dir, k), []byte(pod.remapText(text)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	config := pod.remap(envValue(t, sc, "CONFIG"))
	// The dataset, where deploy/README.md says to copy it.
	var cfg struct{ Dataset struct{ Paths []string } }
	if _, err := toml.DecodeFile(config, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Dataset.Paths) != 1 || filepath.Base(cfg.Dataset.Paths[0]) != "chatbot-arena" {
		t.Fatalf("the ConfigMap's config reads %v; this test lays out ../shared/data/chatbot-arena for it", cfg.Dataset.Paths)
	}
	copyDir(t, arena, cfg.Dataset.Paths[0])

	n := int(deref(shards.Spec.Completions))
	argv := commandLine(t, sc)
	runs := pod.remap(envValue(t, sc, "RUNS"))
	for i := range n {
		env := pod.env(sc, bin, "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
		if i == 1 {
			// Stopped as Kubernetes stops a pod (SIGTERM to the container's
			// first process), then run again as its replacement.
			stopOnce(t, argv, env, filepath.Join(runs, "shard-1", "store.sqlite-wal"))
		}
		runOK(t, argv, env)
	}
	mc := theContainer(t, merge)
	mergePod := newLocalPod(t, root, merge.Spec.Template.Spec, mc)
	runOK(t, commandLine(t, mc), mergePod.env(mc, bin))

	single := filepath.Join(root, "single")
	runOK(t, []string{filepath.Join(bin, "valuescope"), "run", config, "--out", single, "--quiet"}, pod.env(sc, bin))
	compareRuns(t, filepath.Join(mergePod.remap(envValue(t, mc, "RUNS")), "merged"), single, n)
}

func TestSlurmJobsRunLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("builds valuescope and runs the Slurm scripts")
	}
	arena := shareddata.Path(t, "chatbot-arena")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := binDir(t, map[string]string{"sbatch": self})
	root := t.TempDir()
	// configs/quickstart.toml, over the real data.
	orig, err := os.ReadFile(filepath.Join("..", "configs", "quickstart.toml"))
	if err != nil {
		t.Fatal(err)
	}
	demo := `paths = ["../data/demo/conversations.jsonl"]`
	if !bytes.Contains(orig, []byte(demo)) {
		t.Fatalf("configs/quickstart.toml no longer has %s", demo)
	}
	config := filepath.Join(root, "quickstart.toml")
	text := strings.Replace(string(orig), demo, "paths = ["+strconv.Quote(arena)+"]", 1)
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(root, "runs")
	state := t.TempDir()
	env := append(cleanEnv(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"VALUESCOPE_CONFIG="+config, "VALUESCOPE_RUNS="+runs, fakeSbatchEnv+"="+state)
	out := runOK(t, []string{"bash", filepath.Join("slurm", "submit.sh")}, env)

	// What was submitted: the array of the default 3 shards, then the merge
	// after it.
	jobs := strings.Split(readTrim(t, filepath.Join(state, "submitted")), "\n")
	want := []string{"1 shards.sbatch array=0-2 dependency=", "2 merge.sbatch array= dependency=afterok:1"}
	if !slices.Equal(jobs, want) {
		t.Errorf("submitted:\n%s\nwant:\n%s", strings.Join(jobs, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "shards: job 1 ") || !strings.Contains(out, "merge:  job 2 ") {
		t.Errorf("submit.sh says:\n%s", out)
	}
	single := filepath.Join(root, "single")
	runOK(t, []string{filepath.Join(bin, "valuescope"), "run", config, "--out", single, "--quiet"}, env)
	compareRuns(t, filepath.Join(runs, "merged"), single, 3)
}

// fakeSbatch is sbatch for TestSlurmJobsRunLocally: it takes the options
// submit.sh gives (refusing any other, so that a change there is seen),
// runs the job at once, an array's tasks one after the other with Slurm's
// variables set, and prints the job's ID as --parsable does. A job whose
// dependency (afterok:ID) did not succeed is refused. Every submission is
// a line in STATE/submitted; a job's outcome is STATE/ID.
func fakeSbatch(state string, args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "fake sbatch: "+format+"\n", a...)
		return 1
	}
	var parsable bool
	var array, dependency, script string
	var scriptArgs []string
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			script, scriptArgs = a, args[i+1:]
			break
		}
		switch k, v, _ := strings.Cut(a, "="); k {
		case "--parsable":
			parsable = true
		case "--array":
			array = v
		case "--dependency":
			dependency = v
		case "--kill-on-invalid-dep":
		default:
			return fail("unexpected option %s", a)
		}
	}
	if script == "" {
		return fail("no script")
	}
	if array == "" {
		// The script's own #SBATCH --array, as sbatch reads it, unless the
		// command line gave one.
		data, err := os.ReadFile(script)
		if err != nil {
			return fail("%v", err)
		}
		if m := regexp.MustCompile(`(?m)^#SBATCH --array=(\S+)`).FindSubmatch(data); m != nil {
			array = string(m[1])
		}
	}
	log, err := os.OpenFile(filepath.Join(state, "submitted"), os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return fail("%v", err)
	}
	defer log.Close()
	prev, _ := os.ReadFile(log.Name())
	id := strconv.Itoa(bytes.Count(prev, []byte("\n")) + 1)
	fmt.Fprintf(log, "%s %s array=%s dependency=%s\n", id, filepath.Base(script), array, dependency)
	if dependency != "" {
		after, ok := strings.CutPrefix(dependency, "afterok:")
		if !ok {
			return fail("dependency %s: only afterok:ID is known here", dependency)
		}
		if outcome, _ := os.ReadFile(filepath.Join(state, after)); string(outcome) != "ok" {
			return fail("job %s: dependency %s never satisfied (job %s: %q)", id, dependency, after, outcome)
		}
	}
	type task struct{ env []string }
	tasks := []task{{[]string{"SLURM_JOB_ID=" + id}}}
	if array != "" {
		m := regexp.MustCompile(`^(\d+)-(\d+)(%\d+)?$`).FindStringSubmatch(array)
		if m == nil {
			return fail("array %s: only A-B[%%K] is known here", array)
		}
		lo, _ := strconv.Atoi(m[1])
		hi, _ := strconv.Atoi(m[2])
		tasks = nil
		for i := lo; i <= hi; i++ {
			tasks = append(tasks, task{[]string{
				"SLURM_JOB_ID=" + id + strconv.Itoa(1000+i), "SLURM_ARRAY_JOB_ID=" + id,
				"SLURM_ARRAY_TASK_ID=" + strconv.Itoa(i), "SLURM_ARRAY_TASK_COUNT=" + strconv.Itoa(hi-lo+1),
				"SLURM_ARRAY_TASK_MIN=" + m[1], "SLURM_ARRAY_TASK_MAX=" + m[2],
			}})
		}
	}
	outcome := "ok"
	for _, tk := range tasks {
		cmd := exec.Command("bash", append([]string{script}, scriptArgs...)...)
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, fakeSbatchEnv+"=") }), tk.env...)
		// A job's output goes to its own file on a cluster; here, to
		// the test's log. stdout is sbatch's own (the job ID).
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "fake sbatch: job %s (%v): %v\n", id, tk.env, err)
			outcome = "failed"
		}
	}
	if err := os.WriteFile(filepath.Join(state, id), []byte(outcome), 0o644); err != nil {
		return fail("%v", err)
	}
	if parsable {
		fmt.Println(id)
	} else {
		fmt.Println("Submitted batch job " + id)
	}
	return 0
}

// ---- helpers ----

// runOK runs argv with env and wants status 0; it returns stdout.
func runOK(t *testing.T, argv, env []string) string {
	t.Helper()
	cmd := command(argv, env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	if err == nil {
		err = waitAtMost(t, cmd, 2*time.Minute)
	}
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", shortArgv(argv), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// command is argv with env in a process group of its own, so that a test
// giving up on it can end the shell and what the shell started.
func command(argv, env []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// waitAtMost waits for a started command; one still running after limit
// is a hang: its process group is killed and the test fails.
func waitAtMost(t *testing.T, cmd *exec.Cmd, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%s: still running after %s", shortArgv(cmd.Args), limit)
		return nil
	}
}

// stopOnce starts argv, sends its shell SIGTERM once the run has stored
// some conversations (its store's write-ahead log past 256 KiB), and wants
// valuescope's status for an interrupted run, or 0 when the run had
// finished first.
func stopOnce(t *testing.T, argv, env []string, wal string) {
	t.Helper()
	cmd := command(argv, env)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	deadline := time.Now().Add(time.Minute)
poll:
	for ; ; time.Sleep(2 * time.Millisecond) {
		select {
		case err = <-done:
			break poll // finished, or failed, first
		default:
		}
		if fi, serr := os.Stat(wal); serr == nil && fi.Size() > 256<<10 {
			cmd.Process.Signal(syscall.SIGTERM)
			deadline = time.Now().Add(time.Minute)
			select {
			case err = <-done:
				break poll
			case <-time.After(time.Until(deadline)):
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Fatalf("%s: still running after a minute (%s)\n%s", shortArgv(argv), wal, stderr.String())
		}
	}
	switch st := exitStatus(t, err); st {
	case 130:
		t.Logf("stopped by SIGTERM: %s", strings.TrimSpace(stderr.String()))
	case 0:
		t.Logf("the shard finished before SIGTERM reached it")
	default:
		t.Fatalf("stopped by SIGTERM, the shard's command exited %d, want 130 (or 0)\n%s", st, stderr.String())
	}
}

func shortArgv(argv []string) string {
	s := strings.Join(argv, " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatal(err)
	return -1
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func waitFor(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compareRuns wants the merged run folder to hold what the single run's
// holds: the same annotations (in any order), conversations and errors,
// and the same report data apart from times, paths and the records of
// which invocations and shards made it.
func compareRuns(t *testing.T, merged, single string, shards int) {
	t.Helper()
	lines := func(dir, name string) []string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	a, b := lines(merged, "annotations.csv"), lines(single, "annotations.csv")
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("annotations.csv (sorted): merged %d lines, single %d; first difference: %s", len(a), len(b), firstDiff(a, b))
	}
	for _, f := range []string{"conversations.csv", "errors.csv"} {
		if a, b := lines(merged, f), lines(single, f); !slices.Equal(a, b) {
			t.Errorf("%s: merged %d lines, single %d; first difference: %s", f, len(a), len(b), firstDiff(a, b))
		}
	}
	report := func(dir string) map[string]any {
		var r map[string]any
		b, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rm, rs := report(merged), report(single)
	if m, _ := rm["manifest"].(map[string]any); m == nil || !reflect.DeepEqual(m["merged"].(map[string]any)["shards"], float64(shards)) {
		t.Errorf("the merged report's manifest does not record %d merged shards", shards)
	}
	for _, r := range []map[string]any{rm, rs} {
		if m, ok := r["manifest"].(map[string]any); ok {
			delete(m, "invocations") // one per shard invocation, or one
			delete(m, "merged")      // which shards
		}
		dropTimesAndPaths(r)
	}
	if !reflect.DeepEqual(rm, rs) {
		t.Errorf("report.json differs: %s", jsonDiff("", rm, rs))
	}
}

// dropTimesAndPaths removes, at any depth, the report's fields that are a
// time, a duration or a path.
func dropTimesAndPaths(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch k {
			case "generated", "started", "finished", "Elapsed", "seconds", "dir", "file":
				delete(v, k)
			default:
				dropTimesAndPaths(x)
			}
		}
	case []any:
		for _, x := range v {
			dropTimesAndPaths(x)
		}
	}
}

func jsonDiff(path string, a, b any) string {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok {
			break
		}
		for _, k := range slices.Sorted(mapKeys(a)) {
			if !reflect.DeepEqual(a[k], b[k]) {
				return jsonDiff(path+"."+k, a[k], b[k])
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				return fmt.Sprintf("%s.%s: only in the single run", path, k)
			}
		}
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			break
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				return jsonDiff(fmt.Sprintf("%s[%d]", path, i), a[i], b[i])
			}
		}
	}
	sa, _ := json.Marshal(a)
	sb, _ := json.Marshal(b)
	return fmt.Sprintf("%s: merged %.200s, single %.200s", path, sa, sb)
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("line %d: %q vs %q", i+1, a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}
