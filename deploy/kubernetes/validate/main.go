// k8s-strict-validate: every object of a rendered chart decoded strictly against the Go types
// of the API that serves it, so an unknown or misspelt field, a wrong type or a kind nobody
// serves is an error and not a silently ignored key (the API server prunes unknown fields;
// `kubectl apply` would "succeed" and drop them).
//
// Types: Kubernetes from k8s.io/api (the API's own Go types, the release helm v3.22.0 builds
// with), PrometheusRule/ServiceMonitor/PodMonitor/Alertmanager/AlertmanagerConfig from the
// Prometheus Operator's own Go module (pkg/apis/monitoring). Names and labels are checked with
// apimachinery's validation functions, the ones the API server runs.
//
//	helm template ... | k8s-strict-validate          (or: k8s-strict-validate FILE...)
//
// Prints one line per object ("ok Kind/name") and one per error; exits 1 on any error.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
		monitoringv1.AddToScheme, monitoringv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// validateObject decodes one YAML document strictly; it returns "Kind/name" and the problems.
func validateObject(s *runtime.Scheme, doc []byte) (string, []string) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "?", []string{fmt.Sprintf("not a Kubernetes object: %v", err)}
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return "?", []string{"apiVersion and kind are required"}
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	obj, err := s.New(gvk)
	if err != nil {
		return tm.Kind + "/?", []string{fmt.Sprintf("%s %s is not a kind this validator knows (add its Go types): %v", tm.APIVersion, tm.Kind, err)}
	}
	var problems []string
	// The API server's own decoding: YAML to JSON (a duplicate key is an error), then
	// case-sensitive JSON with unknown and duplicate fields reported by their full path.
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return tm.Kind + "/?", []string{err.Error()}
	}
	strict, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, e := range strict {
		problems = append(problems, e.Error())
	}
	meta, ok := obj.(metav1.Object)
	if !ok {
		return tm.Kind + "/?", append(problems, "object has no metadata")
	}
	id := tm.Kind + "/" + meta.GetName()
	if meta.GetName() == "" {
		problems = append(problems, "metadata.name is required")
	}
	for _, msg := range validation.IsDNS1123Subdomain(meta.GetName()) {
		problems = append(problems, "metadata.name: "+msg)
	}
	for _, field := range []struct {
		name string
		m    map[string]string
	}{{"labels", meta.GetLabels()}, {"annotations", meta.GetAnnotations()}} {
		for k, v := range field.m {
			for _, msg := range validation.IsQualifiedName(k) {
				problems = append(problems, fmt.Sprintf("metadata.%s key %q: %s", field.name, k, msg))
			}
			if field.name == "labels" {
				for _, msg := range validation.IsValidLabelValue(v) {
					problems = append(problems, fmt.Sprintf("metadata.labels[%q]: %s", k, msg))
				}
			}
		}
	}
	return id, problems
}

func readDocuments(r io.Reader) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		// Skip documents that are only comments or whitespace (helm's "# Source:" headers).
		empty := true
		for _, line := range strings.Split(string(doc), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") && t != "---" {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, bytes.Clone(doc))
		}
	}
}

func main() {
	var inputs []io.Reader
	if len(os.Args) > 1 {
		for _, name := range os.Args[1:] {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			defer f.Close()
			inputs = append(inputs, f)
		}
	} else {
		inputs = append(inputs, os.Stdin)
	}
	s := newScheme()
	objects, failed := 0, 0
	for _, in := range inputs {
		docs, err := readDocuments(in)
		if err != nil {
			fmt.Fprintf(os.Stderr, "reading YAML: %v\n", err)
			os.Exit(2)
		}
		for _, doc := range docs {
			objects++
			id, problems := validateObject(s, doc)
			if len(problems) == 0 {
				fmt.Printf("ok %s\n", id)
				continue
			}
			failed++
			for _, p := range problems {
				fmt.Printf("error %s: %s\n", id, p)
			}
		}
	}
	if objects == 0 {
		fmt.Println("error: no objects in the input")
		os.Exit(1)
	}
	fmt.Printf("%d objects, %d invalid\n", objects, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
