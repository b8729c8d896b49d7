package ingest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// fluxEvent is what Flux's notification-controller posts to a generic (or
// generic-hmac) provider.
type fluxEvent struct {
	InvolvedObject struct {
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		UID        string `json:"uid"`
		APIVersion string `json:"apiVersion"`
	} `json:"involvedObject"`
	Severity            string            `json:"severity"`
	Timestamp           string            `json:"timestamp"`
	Message             string            `json:"message"`
	Reason              string            `json:"reason"`
	Metadata            map[string]string `json:"metadata"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance"`
}

// fluxReasons maps the reasons of successful Flux reconciliations to the
// kind of change they are. Everything else (progress, failures, which
// Flux retries every interval, dependency waits) yields no items.
var fluxReasons = map[string]graph.Kind{
	"ReconciliationSucceeded": graph.KindDeploy,
	"InstallSucceeded":        graph.KindDeploy,
	"UpgradeSucceeded":        graph.KindDeploy,
	"RollbackSucceeded":       graph.KindRollback,
}

// DecodeFlux decodes a Flux notification-controller event. A Kustomization
// or HelmRelease with severity info and reason ReconciliationSucceeded,
// InstallSucceeded or UpgradeSucceeded is a deploy (RollbackSucceeded a
// rollback) of the service named by involvedObject.name, in the
// environment named by its namespace, at timestamp. The revision comes
// from the metadata key "revision" or one ending in "/revision"; the
// externalId is the object's uid (or namespace/name) and the revision, so
// kustomize-controller's ReconciliationSucceeded, sent after every
// reconcile of one revision, is a repeat of the first (which keeps its
// time: see graph.Merge). A HelmRelease's revision is its chart version,
// which a values-only upgrade keeps, so its externalId adds the values
// digest (metadata "token") and the Helm release version the message
// names ("release prod/payments.v13"): each upgrade is its own deploy,
// and the controller's repeats of one are duplicates. Other events yield
// no items.
func DecodeFlux(body []byte, _ Headers, now time.Time) ([]Item, error) {
	var ev fluxEvent
	if err := decodeJSON("Flux event", body, &ev); err != nil {
		return nil, err
	}
	obj := ev.InvolvedObject
	if obj.Kind == "" && obj.Name == "" {
		return nil, undecodable("Flux event has no involvedObject: is this a Flux notification-controller event?")
	}
	what := "flux " + obj.Kind + " " + obj.Namespace + "/" + obj.Name
	kind, ok := fluxReasons[ev.Reason]
	if !ok || !strings.EqualFold(ev.Severity, "info") {
		return nil, nil
	}
	switch obj.Kind {
	case "Kustomization", "HelmRelease":
	default:
		return nil, nil
	}
	if strings.TrimSpace(obj.Name) == "" {
		return []Item{{Err: graph.Invalidf("%s: involvedObject.name is empty", what)}}, nil
	}
	at, err := parseTime("timestamp", ev.Timestamp)
	if err != nil {
		return []Item{{Err: itemError(what, err)}}, nil
	}
	rev := fluxRevision(ev.Metadata)
	attrs := map[string]any{"reason": ev.Reason, "objectKind": obj.Kind}
	setIf(attrs, "revision", rev)
	setIf(attrs, "message", truncate(ev.Message, graph.MaxSummaryLen))
	setIf(attrs, "reportingController", ev.ReportingController)
	if len(ev.Metadata) > 0 {
		attrs["metadata"] = stringMap(ev.Metadata)
	}
	summary := obj.Kind + " " + obj.Name + " " + map[graph.Kind]string{graph.KindDeploy: "applied", graph.KindRollback: "rolled back"}[kind]
	if rev != "" {
		summary += " " + fluxShortRevision(rev)
	}
	e := graph.Event{
		Kind:        kind,
		Service:     obj.Name,
		Environment: obj.Namespace,
		At:          at,
		Source:      "flux",
		Summary:     summary,
		Attributes:  attrs,
	}
	if rev != "" {
		id := obj.UID
		if id == "" {
			id = fmt.Sprintf("%s/%s/%s", obj.Kind, obj.Namespace, obj.Name)
		}
		e.ExternalID = id + "@" + rev
		if obj.Kind == "HelmRelease" {
			token := fluxMetadata(ev.Metadata, "token")
			release := helmReleaseVersion(ev.Message)
			setIf(attrs, "valuesDigest", token)
			setIf(attrs, "releaseVersion", release)
			if token != "" {
				e.ExternalID += "+" + token
			}
			if release != "" {
				e.ExternalID += "." + release
			}
		}
		if kind == graph.KindRollback {
			e.ExternalID += "#rollback"
		}
	}
	return []Item{eventItem(e, now, what)}, nil
}

// fluxRevision finds the revision in event metadata: the key "revision",
// else a group-qualified key such as "kustomize.toolkit.fluxcd.io/revision"
// (first in key order, for determinism).
func fluxRevision(md map[string]string) string { return fluxMetadata(md, "revision") }

// helmReleaseVersionRE finds the Helm release version in helm-controller's
// messages: "Helm upgrade succeeded for release prod/payments.v13 with
// chart payments@3.7.1".
var helmReleaseVersionRE = regexp.MustCompile(`release [^\s/]+/\S+\.(v[0-9]+)\b`)

// helmReleaseVersion returns the release version ("v13") a
// helm-controller message names, or "".
func helmReleaseVersion(msg string) string {
	if m := helmReleaseVersionRE.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// fluxMetadata finds a metadata value by its key, bare ("revision") or
// group-qualified ("helm.toolkit.fluxcd.io/revision"; the first in key
// order, for determinism).
func fluxMetadata(md map[string]string, key string) string {
	if v := strings.TrimSpace(md[key]); v != "" {
		return v
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		if strings.HasSuffix(k, "/"+key) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := strings.TrimSpace(md[k]); v != "" {
			return v
		}
	}
	return ""
}

// fluxShortRevision shortens "main@sha1:<40 hex>" or "main/<40 hex>" to
// the branch and 7 characters of the commit.
func fluxShortRevision(rev string) string {
	for _, sep := range []string{"@sha1:", "@sha256:", "/"} {
		if i := strings.LastIndex(rev, sep); i >= 0 {
			if short := shortRevision(rev[i+len(sep):]); short != rev[i+len(sep):] {
				return rev[:i] + "@" + short
			}
		}
	}
	return shortRevision(rev)
}

// Flux's generic-hmac provider signs with X-Signature:
// <hash function>=<hex HMAC>, the hash being sha1, sha256, sha384 or
// sha512.
var fluxSignature = Signature{
	Header:   "X-Signature",
	Secret:   "flux-secret",
	Describe: "Flux generic-hmac provider secret",
	format:   "<sha1|sha256|sha384|sha512>=<hex HMAC of the body>",
	parse:    oneAlgDigest,
}
