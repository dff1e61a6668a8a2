// The taskpipe dashboard: reads GET /v1/events (one snapshot a second) with fetch() streaming,
// because EventSource cannot send the Authorization header, and draws the snapshot. No framework,
// no external asset; everything is built with DOM calls and textContent (no HTML from data).
const TOKEN_KEY = 'taskpipe.token';
const SVG = 'http://www.w3.org/2000/svg';
const STALE_MS = 5000;  // no event for this long: the stream is dead, reconnect

const $ = (selector) => document.querySelector(selector);
let controller = null;
let retryMs = 2000;
let retryTimer = null;
let lastEventAt = 0;
let lastSeq = 0;

// -- the token -----------------------------------------------------------------------------------

const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

function showLogin(message) {
  stop();
  $('#login').hidden = false;
  $('#dashboard').hidden = true;
  $('#login-error').textContent = message;
  setConnection('unauthorized', 'token needed');
  $('#token').focus();
}

$('#login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  connect();
});

// -- the event stream ----------------------------------------------------------------------------

function setConnection(state, text) {
  const el = $('#connection');
  el.dataset.state = state;
  el.textContent = text;
}

function stop() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (controller) {
    controller.abort();
    controller = null;
  }
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, retryMs);
}

async function connect() {
  stop();
  if (document.hidden) {
    setConnection('paused', 'paused (tab hidden)');
    return;
  }
  const ctrl = new AbortController();
  controller = ctrl;
  try {
    const res = await fetch('/v1/events', {
      headers: { Accept: 'text/event-stream', ...authHeaders() },
      cache: 'no-store',
      signal: ctrl.signal,
    });
    if (res.status === 401) {
      const refused = token() !== '';
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(refused ? 'The node refused that token.' : '');
      return;
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    $('#login').hidden = true;
    $('#dashboard').hidden = false;
    lastEventAt = Date.now();
    await readEvents(res.body);
    throw new Error('the stream ended');
  } catch (error) {
    if (ctrl.signal.aborted) return;
    controller = null;
    setConnection('reconnecting', `reconnecting… (${error.message})`);
    scheduleRetry();
  }
}

async function readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    for (let m = buffer.match(/\r?\n\r?\n/); m; m = buffer.match(/\r?\n\r?\n/)) {
      handleEvent(buffer.slice(0, m.index));
      buffer = buffer.slice(m.index + m[0].length);
    }
  }
}

function handleEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
  }
  lastEventAt = Date.now();
  if (event === 'stats' && data.length > 0) {
    setConnection('live', 'live');
    render(JSON.parse(data.join('\n')));
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    stop();
    setConnection('paused', 'paused (tab hidden)');
  } else {
    connect();
  }
});

// A stream that stops delivering (a frozen node, a dead link) is dropped and reopened.
setInterval(() => {
  if (controller && Date.now() - lastEventAt > STALE_MS) {
    stop();
    setConnection('reconnecting', 'reconnecting… (no event for 5 s)');
    scheduleRetry();
  }
}, 1000);

// -- formatting ----------------------------------------------------------------------------------

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const count = (n) => integer.format(n);
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const rate = (x) => (x >= 100 ? integer.format(x) : x.toFixed(x >= 10 ? 0 : 1));
const percent = (x) => `${Math.round(x * 100)} %`;

function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

const latency = (ms) => (ms === null ? '–' : ms < 10 ? `${ms.toFixed(1)} ms` : duration(ms));

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function field(name, text) {
  const node = document.querySelector(`[data-field="${name}"]`);
  if (node) node.textContent = text;
}

// -- drawing -------------------------------------------------------------------------------------

const busyClass = (busy) => (busy < 0.5 ? 'ok' : busy < 0.8 ? 'warn' : 'hot');
const busyColour = { ok: '#2e9e5b', warn: '#e0a020', hot: '#d64545' };

function renderHeader(s) {
  field('node', s.node.name);
  field('version', s.node.version);
  field('uptime', duration(s.node.uptime_s * 1000) + (s.node.draining ? ' (draining)' : ''));
  field('store', `${s.store.kind}, ${s.store.health}${s.store.detail ? `: ${s.store.detail}` : ''}`);
  const hosts = document.querySelector('[data-field="hosts"]');
  if (s.hosts.length === 0) hosts.textContent = 'none (all stages local)';
  else hosts.replaceChildren(...s.hosts.map((h) => el('span', {
    class: `host ${h.state}`, 'data-host': h.peer, 'data-state': h.state,
    title: `${h.stages.join(', ')}${h.detail ? `: ${h.detail}` : ''}`,
  }, `${h.peer} ${h.state}`)));
  field('in_flight', count(s.totals.in_flight));
}

// One column per stage; one row for this node's own pools and one per stage host, where a remote
// stage has a box per host (its node).
function renderGraph(s) {
  const graph = $('#graph');
  graph.replaceChildren();
  const rows = [s.node.name];
  for (const stage of s.stages)
    for (const node of stage.nodes) if (!rows.includes(node.peer)) rows.push(node.peer);
  const rowHeight = 150;
  const top = 22;
  graph.setAttribute('viewBox', `0 0 1000 ${top + rows.length * rowHeight}`);
  const width = 228;
  const gap = (1000 - 4 * width) / 3;
  const boxes = [];
  s.stages.forEach((stage, column) => {
    const x = column * (width + gap);
    const place = (row, box) => {
      const y = top + rows.indexOf(row) * rowHeight;
      boxes.push({ column, y });
      graph.append(box(x, y, width, rowHeight - 22));
    };
    if (stage.where === 'local') place(s.node.name, (...at) => stageBox(stage, stage, ...at));
    else if (stage.nodes.length === 0) place(s.node.name, (...at) => stageBox(stage, null, ...at));
    else for (const node of stage.nodes) place(node.peer, (...at) => stageBox(stage, node, ...at));
  });
  rows.forEach((row, i) => graph.append(svg('text', { class: 'row-label', x: 0, y: top + i * rowHeight - 6 },
    i === 0 ? row : `stage host ${row}`)));
  // Tasks go from any box of a stage to any box of the next one.
  for (let column = 0; column + 1 < s.stages.length; ++column) {
    const x1 = column * (width + gap) + width;
    const x2 = x1 + gap;
    for (const from of boxes.filter((b) => b.column === column)) {
      for (const to of boxes.filter((b) => b.column === column + 1)) {
        const y1 = from.y + 60;
        const y2 = to.y + 60;
        graph.append(svg('path', { class: 'arrow', d: `M${x1 + 2},${y1} C${x1 + gap / 2},${y1} ${x1 + gap / 2},${y2} ${x2 - 9},${y2}` }));
        graph.append(svg('path', { class: 'arrowhead', d: `M${x2 - 1},${y2} l-9,-5 v10 z` }));
      }
    }
  }
}

const stateText = { stale: 'not answering', connecting: 'connecting', lost: 'lost', unreachable: 'unreachable' };

// A stage's box: `figures` is the stage itself (local), one of its nodes (remote), or null (a
// remote stage without hosts to show).
function stageBox(stage, figures, x, y, width, height) {
  const node = figures && figures !== stage ? figures : null;
  const live = figures !== null && (node === null || node.state === 'live');
  const attrs = { class: `stage ${stage.where}`, 'data-stage': stage.name };
  if (figures) Object.assign(attrs, { 'data-done': figures.done, 'data-failed': figures.failed, 'data-busy': busyClass(figures.busy) });
  if (node) Object.assign(attrs, { class: `stage remote node ${node.state}`, 'data-peer': node.peer, 'data-state': node.state });
  const g = svg('g', attrs);
  const box = svg('rect', { class: 'box', x, y, width, height, rx: 8 });
  if (live) {
    box.setAttribute('fill', busyColour[busyClass(figures.busy)]);
    box.setAttribute('fill-opacity', (0.18 + 0.5 * figures.busy).toFixed(2));
  }
  g.append(box);
  const line = (i, text, cls) => g.append(svg('text', { x: x + 10, y: y + 20 + i * 19, class: cls || '' }, text));
  line(0, stage.name[0].toUpperCase() + stage.name.slice(1), 'title');
  if (!figures) {
    line(1, 'on stage hosts');
    return g;
  }
  g.append(svg('text', { x: x + width - 10, y: y + 20, 'text-anchor': 'end', class: live ? '' : 'state' },
    live ? `busy ${percent(figures.busy)}` : stateText[node.state]));
  if (node && node.age_s === null) {
    line(1, node.state === 'connecting' ? 'no counters yet' : 'no counters from this host');
    if (node.detail) line(2, node.detail.slice(0, 36), 'detail');
    return g;
  }
  line(1, `${figures.workers} workers · ${count(figures.held)} held`);
  line(2, `${count(figures.queued_chunks)} chunks queued · ${count(figures.waiting)} waiting`);
  line(3, `done ${rate(figures.done_per_s)}/s · failed ${rate(figures.failed_per_s)}/s`);
  line(4, `p50 ${latency(figures.p50_ms)} · p99 ${latency(figures.p99_ms)}`);
  if (live) line(5, `total ${compact.format(figures.done)} done · ${compact.format(figures.failed)} failed`);
  else line(5, `last data ${duration(node.age_s * 1000)} old`, 'state');
  if (node && node.detail) g.append(svg('title', {}, node.detail));
  return g;
}

function renderChart(s) {
  const chart = $('#chart');
  chart.replaceChildren();
  const points = 120;
  const history = s.history.slice(-points);
  const max = Math.max(1, ...history.flatMap((p) => [p.accepted_per_s, p.done_per_s, p.failed_per_s]));
  const h = 200;
  const y = (v) => h - 16 - (v / max) * (h - 30);
  const x = (i) => 1000 - (history.length - 1 - i) * (1000 / (points - 1));
  for (const v of [0, max / 2, max]) {
    chart.append(svg('line', { class: 'gridline', x1: 0, x2: 1000, y1: y(v), y2: y(v) }));
    chart.append(svg('text', { class: 'axis', x: 4, y: y(v) - 3 }, rate(v)));
  }
  chart.append(svg('text', { class: 'axis', x: 996, y: h - 2, 'text-anchor': 'end' }, 'now'));
  chart.append(svg('text', { class: 'axis', x: 4, y: h - 2 }, '−2 min'));
  for (const [key, cls] of [['accepted_per_s', 'accepted'], ['done_per_s', 'done'], ['failed_per_s', 'failed']]) {
    const pts = history.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { class: cls, points: pts }));
  }
  field('rate_accepted', rate(s.rates.accepted_per_s));
  field('rate_done', rate(s.rates.done_per_s));
  field('rate_failed', rate(s.rates.failed_per_s));
}

function renderBatches(s) {
  const rows = s.batches.map((b) => {
    const tr = el('tr', { 'data-batch': b.batch_id, 'data-state': b.state, 'data-failed': b.failed });
    const link = el('a', { href: b.status_url, 'data-status': b.status_url }, b.batch_id);
    const bar = el('div', { class: 'progress', title: `${b.succeeded} done, ${b.failed} failed, ${b.pending} pending` });
    const done = el('span', { class: 'done' });
    const failed = el('span', { class: 'failed' });
    done.style.width = `${b.total ? (100 * b.succeeded) / b.total : 0}%`;
    failed.style.width = `${b.total ? (100 * b.failed) / b.total : 0}%`;
    bar.append(done, failed);
    const cells = [link, duration(b.age_ms), count(b.total), count(b.succeeded), count(b.failed),
      count(b.pending), bar, el('span', { class: `state-${b.state}` }, b.state), duration(b.elapsed_ms)];
    for (const c of cells) {
      const td = el('td');
      if (typeof c === 'string') td.textContent = c;
      else td.append(c);
      tr.append(td);
    }
    return tr;
  });
  if (rows.length === 0) rows.push(emptyRow(9, 'no batch yet'));
  $('#batches tbody').replaceChildren(...rows);
}

function emptyRow(columns, text) {
  const tr = el('tr');
  tr.append(el('td', { colspan: columns, class: 'zero' }, text));
  return tr;
}

// A batch id opens its status here: a plain link cannot carry the bearer token.
$('#batches tbody').addEventListener('click', async (event) => {
  const link = event.target.closest('a[data-status]');
  if (!link) return;
  event.preventDefault();
  const detail = $('#batch-detail');
  detail.hidden = false;
  try {
    const res = await fetch(link.dataset.status, { headers: authHeaders(), cache: 'no-store' });
    const body = await res.json();
    if (Array.isArray(body.failures) && body.failures.length > 100)
      body.failures = [...body.failures.slice(0, 100), `… ${body.failures.length - 100} more`];
    detail.textContent = `GET ${link.dataset.status} → ${res.status}\n${JSON.stringify(body, null, 2)}`;
  } catch (error) {
    detail.textContent = `GET ${link.dataset.status} failed: ${error.message}`;
  }
});

function renderFailures(s) {
  const span = s.failures.window_s;
  field("failure_window", span >= 299 ? "last 5 minutes" : `last ${duration(span * 1000)} (since start)`);
  const codes = Object.entries(s.failures.by_code).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const codeRows = codes.map(([code, n]) => {
    const tr = el('tr', { 'data-code': code });
    const td = el('td');
    td.append(el('code', { class: 'failure-code' }, code));
    tr.append(td, el('td', {}, count(n)));
    return tr;
  });
  if (codeRows.length === 0) codeRows.push(emptyRow(2, 'no failures'));
  $('#codes tbody').replaceChildren(...codeRows);
  const lastRows = s.failures.last.map((f) => {
    const tr = el('tr', { 'data-code': f.code, 'data-batch': f.batch_id });
    const code = el('td');
    code.append(el('code', { class: 'failure-code' }, f.code));
    tr.append(el('td', {}, String(f.id)), el('td', {}, f.batch_id), el('td', {}, f.stage), code,
      el('td', { class: 'reason' }, f.reason));
    return tr;
  });
  if (lastRows.length === 0) lastRows.push(emptyRow(5, 'no failures'));
  $('#last-failures tbody').replaceChildren(...lastRows);
}

function render(s) {
  lastSeq = s.seq;
  document.body.dataset.seq = String(lastSeq);
  renderHeader(s);
  renderGraph(s);
  renderChart(s);
  renderBatches(s);
  renderFailures(s);
}

connect();
