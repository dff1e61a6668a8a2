// Validates every HTTP response the tests recorded (tests/http/support/recorder.cpp) against
// api/openapi.json with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses): the status must be
// documented for the operation, required headers present, the content type documented and the
// body valid against its schema. Unknown paths and methods must be the documented errors.
// Each operation must have been seen answering with success at least once.
//   node validate_responses.js TOOLS_DIR OPENAPI_JSON RECORD_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const [tools, docPath, recordDir] = process.argv.slice(2);
const load = createRequire(path.join(path.resolve(tools), 'package.json'));
const Ajv2020 = load('ajv/dist/2020').default;
const addFormats = load('ajv-formats').default;

const doc = JSON.parse(fs.readFileSync(docPath, 'utf8'));
const base = 'urn:taskpipe:openapi';
// Component schemas become $defs of one schema; references are rewritten to point there.
const rewrite = (x) => JSON.parse(JSON.stringify(x).replaceAll('"#/components/schemas/', `"${base}#/$defs/`));
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
ajv.addFormat('int64', { type: 'number', validate: Number.isInteger });
ajv.addSchema({ $id: base, $defs: rewrite(doc.components.schemas) });
const compiled = new Map();
const validator = (schema) => {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rewrite(schema)));
  return compiled.get(key);
};
const deref = (r) => (r && r.$ref ? doc.components.responses[r.$ref.split('/').pop()] : r);
const errorSchema = { $ref: '#/components/schemas/Error' };

const templates = Object.keys(doc.paths).map((p) => ({
  path: p,
  regex: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));

const records = [];
for (const file of fs.existsSync(recordDir) ? fs.readdirSync(recordDir) : []) {
  if (!file.endsWith('.jsonl')) continue;
  for (const line of fs.readFileSync(path.join(recordDir, file), 'utf8').split('\n'))
    if (line.trim()) records.push(JSON.parse(line));
}
if (records.length === 0) {
  console.error(`FAILED: no recorded responses in ${recordDir} (run the HTTP tests first)`);
  process.exit(1);
}

const problems = new Map();  // message -> count
const problem = (r, what) => {
  const key = `${r.method} ${r.target.split('?')[0]} -> ${r.status}: ${what}`;
  problems.set(key, (problems.get(key) || 0) + 1);
};
const seen = new Map();  // "get /v1/batches/{id}" -> Set of statuses
const contentType = (r) => (r.headers['content-type'] || '').split(';')[0].trim().toLowerCase();

function checkBody(r, content) {
  if (r.method === 'HEAD') {
    if (r.body !== '') problem(r, 'a HEAD response has a body');
    return;
  }
  const type = contentType(r);
  const media = content && content[type];
  if (!media) {
    problem(r, `content type "${type}" is not documented (${Object.keys(content || {}).join(', ') || 'none'})`);
    return;
  }
  let body = r.body;
  if (type === 'application/json') {
    try {
      body = JSON.parse(r.body);
    } catch (e) {
      problem(r, `the body is not JSON: ${e.message}`);
      return;
    }
  }
  const validate = validator(media.schema);
  if (!validate(body)) problem(r, `body: ${ajv.errorsText(validate.errors)}; body ${r.body.slice(0, 200)}`);
}

function checkError(r, allowed) {
  if (!allowed.includes(r.status)) problem(r, `expected one of ${allowed.join(', ')}`);
  checkBody(r, { 'application/json': { schema: errorSchema } });
}

for (const r of records) {
  const pathPart = r.target.split('?')[0];
  const t = templates.find((x) => x.regex.test(pathPart));
  if (!t) {  // an unknown path: 404 (or what comes before it: 400 framing, 401, 503)
    checkError(r, [400, 401, 404, 503]);
    continue;
  }
  const method = r.method === 'HEAD' ? 'get' : r.method.toLowerCase();
  const op = doc.paths[t.path][method];
  if (!op) {  // a known path with another method: 405 (or 400 framing, 401, 503)
    checkError(r, [400, 401, 405, 503]);
    if (r.status === 405 && !r.headers.allow) problem(r, '405 without Allow');
    continue;
  }
  const key = `${method} ${t.path}`;
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key).add(r.status);
  const spec = deref(op.responses[String(r.status)] || op.responses.default);
  if (!spec) {
    problem(r, `status not documented for ${key} (${Object.keys(op.responses).join(', ')})`);
    continue;
  }
  for (const [name, h] of Object.entries(spec.headers || {})) {
    const value = r.headers[name.toLowerCase()];
    if (value === undefined) {
      if (h.required) problem(r, `required header ${name} missing`);
      continue;
    }
    const v = h.schema && h.schema.type === 'integer' ? Number(value) : value;
    const validate = validator(h.schema || {});
    if (!validate(v)) problem(r, `header ${name}: ${ajv.errorsText(validate.errors)}`);
  }
  checkBody(r, spec.content);
}

console.log(`${records.length} recorded responses checked against ${docPath}`);
for (const [key, statuses] of [...seen.entries()].sort())
  console.log(`  ${key.padEnd(28)} ${[...statuses].sort().join(' ')}`);
let failed = problems.size > 0;
for (const [p, methods] of Object.entries(doc.paths))
  for (const m of ['get', 'post', 'delete', 'put', 'patch'])
    if (methods[m] && ![...(seen.get(`${m} ${p}`) || [])].some((s) => s >= 200 && s < 300)) {
      console.error(`FAILED: no successful response of ${m.toUpperCase()} ${p} was recorded: the tests do not cover it`);
      failed = true;
    }
for (const [p, n] of problems) console.error(`FAILED (${n}x): ${p}`);
console.log(failed ? 'responses: some do not match the document' : 'responses: all match the document');
process.exit(failed ? 1 : 0);
