// Audits a running sregraph's GraphQL over HTTP endpoint with graphql-http's
// auditServer (the GraphQL over HTTP specification's MUST and SHOULD
// rules). Prints every result; exits 1 on any failure or warning.
//
//   node scripts/graphql-audit/audit.mjs http://127.0.0.1:8080/graphql
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: audit.mjs <graphql url>");
  process.exit(2);
}
const results = await auditServer({ url });
let failures = 0;
let warnings = 0;
for (const r of results) {
  if (r.status === "ok") {
    console.log(`ok    ${r.id} ${r.name}`);
    continue;
  }
  if (r.status === "error") failures++;
  else warnings++;
  console.log(`${r.status === "error" ? "FAIL " : "WARN "} ${r.id} ${r.name}: ${r.reason}`);
  if (r.response) {
    const body = await r.response.text().catch((e) => `(body unreadable: ${e})`);
    console.log(`      status ${r.response.status}, content-type ${r.response.headers.get("content-type")}, body ${body.slice(0, 300)}`);
  }
}
console.log(`${results.length} checks: ${failures} failures, ${warnings} warnings`);
process.exit(failures + warnings > 0 ? 1 : 0);
