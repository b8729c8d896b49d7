package main

import (
	"flag"
	"fmt"
	"strings"
)

// flagGroup is a topic of `sregraph serve -h`: the flags it lists, by
// name, or by prefix when the name ends in "*".
type flagGroup struct {
	title string
	flags []string
}

// serveGroups orders `serve -h` by topic. Every serve flag belongs to one
// group (TestServeHelpIsGrouped checks it), so a new flag needs a place
// here.
func serveGroups() []flagGroup {
	return []flagGroup{
		{"Configuration", []string{"config"}},
		{"Store", []string{"store", "data-dir", "retention", "neo4j-user", "neo4j-password", "neo4j-database"}},
		{"Demo", []string{"demo", "demo-dir"}},
		{"HTTP and GraphQL", []string{"http", "public-url", "http-read-timeout", "http-write-timeout", "http-idle-timeout", "max-body",
			"graphql-timeout", "graphql-max-expensive", "no-introspection", "shutdown-timeout"}},
		{"Security", []string{"tokens", "insecure-listen", "webhook-token", "webhook-token-file", "github-secret", "github-secret-file",
			"pagerduty-secret", "pagerduty-secret-file", "flux-secret", "flux-secret-file", "jira-secret", "jira-secret-file"}},
		{"Ingest", []string{"aliases", "webhooks-to-kafka", "slo-service-label"}},
		{"Traces", []string{"otlp-*"}},
		{"Kafka", []string{"kafka-brokers", "kafka", "kafka-*"}},
		{"Logging", []string{"log-format", "log-level"}},
	}
}

// groupOf returns the index of the group that lists name, or -1.
func groupOf(groups []flagGroup, name string) int {
	for i, g := range groups {
		for _, f := range g.flags {
			if f == name || strings.HasSuffix(f, "*") && strings.HasPrefix(name, strings.TrimSuffix(f, "*")) {
				return i
			}
		}
	}
	return -1
}

// serveUsage prints `sregraph serve -h`: the flags by topic, each with
// its environment variable.
func serveUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, `Usage: sregraph serve [flags]

Runs the server: GraphQL, the breach pages, ingest (HTTP, OTLP, Kafka).
Every flag can also be set with the environment variable shown, or in a
--config file under its name without the dashes; the command line wins
over the environment, which wins over the file.
`)
	groups := serveGroups()
	byGroup := make([][]*flag.Flag, len(groups)+1)
	fs.VisitAll(func(f *flag.Flag) {
		i := groupOf(groups, f.Name)
		if i < 0 {
			i = len(groups)
		}
		byGroup[i] = append(byGroup[i], f)
	})
	for i, flags := range byGroup {
		if len(flags) == 0 {
			continue
		}
		title := "Other"
		if i < len(groups) {
			title = groups[i].title
			order := map[string]int{}
			for j, f := range groups[i].flags {
				order[f] = j
			}
			// Listed flags in the group's order, prefixed ones after, by name.
			rank := func(f *flag.Flag) int {
				if j, ok := order[f.Name]; ok {
					return j
				}
				return len(order)
			}
			sortFlags(flags, rank)
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, f := range flags {
			printFlag(fs, f)
		}
	}
}

func sortFlags(flags []*flag.Flag, rank func(*flag.Flag) int) {
	for i := 1; i < len(flags); i++ {
		for j := i; j > 0; j-- {
			a, b := flags[j-1], flags[j]
			if rank(a) < rank(b) || rank(a) == rank(b) && a.Name <= b.Name {
				break
			}
			flags[j-1], flags[j] = b, a
		}
	}
}

// printFlag prints one flag the way the flag package does, with its
// environment variable.
func printFlag(fs *flag.FlagSet, f *flag.Flag) {
	name, usage := flag.UnquoteUsage(f)
	line := "  --" + f.Name
	if name != "" {
		line += " " + name
	}
	fmt.Fprintf(fs.Output(), "%s    (%s)\n    \t%s", line, envName(f.Name), strings.ReplaceAll(usage, "\n", "\n    \t"))
	if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "0s" {
		fmt.Fprintf(fs.Output(), " (default %s)", def)
	}
	fmt.Fprintln(fs.Output())
}
