// Package page serves sregraph's HTML pages: the breach-context page an
// alert links to, the same page for any service and instant, and the list
// of recent breaches.
//
// Routes (Register adds them to a ServeMux):
//
//	GET /                      recent breaches, newest first, each with its top suspect
//	GET /breaches/{id}         the context of one breach
//	GET /context?service=S&at=T[&before=&after=&depth=&direction=]
//	                           the same page for any service and instant
//	GET /static/page.css       the stylesheet (cached for good under ?v=<hash>)
//
// The pages are drawn on the server with html/template: the timeline and
// the neighbourhood are inline SVG laid out in Go, and every control
// (window wider and narrower, depth, direction, refocusing on a service)
// is a plain link, so the pages run no script at all. The
// Content-Security-Policy says so: nothing but the page's own stylesheet
// may load. Pages are never cached (Cache-Control: no-store) and report
// their server time in a Server-Timing header.
//
// Query parameters: at is RFC 3339 or Unix time in seconds or
// milliseconds (what Grafana's ${__value.time} gives), and defaults to now;
// before and after are durations in Go syntax, days or ISO 8601
// (defaults 2h and 15m); depth is 1 to 6 hops (default 2); direction is
// DEPENDENCIES, DEPENDENTS or BOTH. A mistake in any of them answers 400
// with a page naming each bad parameter and what it accepts. When the
// service had a breach that started at the given instant (within 30
// seconds), /context redirects to that breach's page, so an alert can link
// the service and its start time without knowing sregraph's breach id.
//
// docs/alert-links.md shows how to put the link into Alertmanager
// notifications, Grafana data links and PagerDuty incidents.
//
// The top suspect is drawn once, as the verdict at the top; the ranked
// list under it carries on from #2. The neighbourhood map orders the
// services of each column so that call edges cross as little as it can
// make them, and gives each edge its own ports on the services it joins;
// where the page is too narrow to draw the map legibly (the stylesheet
// decides with a container query, from the width the drawing needs), the
// same services are listed column by column instead, each with what
// changed on it and the calls it makes, so nothing is cut off on a phone.
// Every figure of errors says the span it counts: a failing edge's label
// gives the window it covers, or the error ratio before and after the
// onset where the errors rose inside it. Nothing needs a hover: each
// marker on the timeline links to its card, each edge to its row in the
// table of calls, and every link takes the keyboard focus.
//
// Colour is never the only signal: every kind of change has a letter and
// a shape (D deploy, R rollback, C config, F flag, S scale, T ticket,
// I incident, B breach, ! anomaly, and O for sregraph's own verdict that a
// service degraded and no change explains it), failing call edges carry
// their error counts as text, the top suspect is marked "#1", and the
// service where the telemetry says the degradation starts is tagged
// "starts here" on the map, with its onset a labelled line on the
// timeline.
package page
