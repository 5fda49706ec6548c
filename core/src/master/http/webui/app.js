// remesos web UI: one ES module, no framework, no build step, nothing from the internet.
//
// What it shows follows Mesos's UI (src/webui/app/: home.html, frameworks/, agents/,
// roles/, maintenance/, offers/ and the pailer): the cluster overview, frameworks, agents,
// tasks (filtered by state, framework, agent and name), roles with weights and quota,
// outstanding offers, the maintenance schedule and machine modes, and each task's sandbox.
//
// Where the data comes from:
// - One operator SUBSCRIBE (POST /api/v1, JSON, RecordIO) when the page opens and again
//   after the stream drops. Its SUBSCRIBED event carries GET_STATE, the model's start;
//   TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED and FRAMEWORK_ADDED/UPDATED/REMOVED
//   then change the model, and the page redraws. The full state is never polled. (Mesos's
//   UI re-reads /master/state every few seconds.)
// - GET_MASTER and GET_VERSION once per subscription; /metrics/snapshot (allocation
//   latency, unreachable agents), GET_ROLES, GET_QUOTA, GET_FRAMEWORKS (outstanding
//   offers, which have no operator event) and the maintenance calls when the page that
//   shows them is opened, and every 10 s while the overview or that page stays open.
// - Sandboxes through the master's proxy, /agent/<agent id>/files/{browse,read,download}
//   (master/http/sandbox.rs); a file view tails the file by reading from its last offset
//   every second while it is open.
//
// A standby master serves this page too. Its /api/v1 answers 307 to the leader, which a
// page cannot read across origins; the page sees the redirect and goes to
// /master/redirect, which sends the browser to the leader's own page with the same
// #/route. (Mesos's UI stays on the standby and reads the leader with JSONP; we do not run
// another origin's answer as script.)
//
// Cluster data is never put into HTML: the page builds elements and sets their text
// (see h() below), so a task or framework name cannot become markup.

const TERMINAL = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR',
  'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
]);
const TASK_STATES = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED',
  'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED',
  'TASK_UNREACHABLE', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNKNOWN',
];
const SIDE_REFRESH_MS = 10000;
const TAIL_MS = 1000;
const READ_CHUNK = 50000;

// ---------------------------------------------------------------- the model

const model = {
  connected: false,
  master: null, // GET_MASTER
  version: null, // GET_VERSION.version_info
  frameworks: new Map(), // id -> {info, active, connected, completed, registered_time, ...}
  agents: new Map(), // id -> GET_AGENTS agent
  tasks: new Map(), // framework id + '/' + task id -> v1 Task
  executors: [], // GET_EXECUTORS executors (as of the subscription)
  metrics: {},
  roles: null, // GET_ROLES roles
  quota: null, // GET_QUOTA status
  offers: null, // [{framework, offer}]
  schedule: null, // GET_MAINTENANCE_SCHEDULE schedule
  status: null, // GET_MAINTENANCE_STATUS status
  updates: 0, // events applied, for the status line
  snapshot: false, // a SUBSCRIBED snapshot was loaded
};

const val = (id) => (id && id.value) || '';
const taskKey = (t) => val(t.framework_id) + '/' + val(t.task_id);

function loadState(state) {
  model.frameworks.clear();
  model.agents.clear();
  model.tasks.clear();
  const fw = state.get_frameworks || {};
  for (const f of fw.frameworks || []) addFramework(f, false);
  for (const f of fw.completed_frameworks || []) addFramework(f, true);
  for (const a of (state.get_agents || {}).agents || []) model.agents.set(val(a.agent_info.id), a);
  const t = state.get_tasks || {};
  for (const list of ['pending_tasks', 'tasks', 'unreachable_tasks', 'completed_tasks', 'orphan_tasks']) {
    for (const task of t[list] || []) model.tasks.set(taskKey(task), task);
  }
  model.executors = (state.get_executors || {}).executors || [];
}

function addFramework(f, completed) {
  const info = f.framework_info || {};
  model.frameworks.set(val(info.id), { ...f, info, completed });
}

// Applies one operator event (include/mesos/v1/master/master.proto, Event).
function apply(event) {
  switch (event.type) {
    case 'TASK_ADDED': {
      const task = event.task_added.task;
      model.tasks.set(taskKey(task), task);
      break;
    }
    case 'TASK_UPDATED': {
      const u = event.task_updated;
      const key = val(u.framework_id) + '/' + val(u.status.task_id);
      const task = model.tasks.get(key) || {
        task_id: u.status.task_id, framework_id: u.framework_id, agent_id: u.status.agent_id,
        name: '', resources: [], statuses: [],
      };
      task.state = u.state;
      task.statuses = [...(task.statuses || []), u.status];
      model.tasks.set(key, task);
      break;
    }
    case 'AGENT_ADDED': {
      const a = event.agent_added.agent;
      model.agents.set(val(a.agent_info.id), a);
      break;
    }
    case 'AGENT_REMOVED':
      model.agents.delete(val(event.agent_removed.agent_id));
      break;
    case 'FRAMEWORK_ADDED':
      addFramework(event.framework_added.framework, false);
      break;
    case 'FRAMEWORK_UPDATED':
      addFramework(event.framework_updated.framework, false);
      break;
    case 'FRAMEWORK_REMOVED': {
      const info = event.framework_removed.framework_info;
      const old = model.frameworks.get(val(info.id)) || {};
      model.frameworks.set(val(info.id), { ...old, info, active: false, connected: false, completed: true });
      break;
    }
    default:
      return false; // HEARTBEAT and anything newer: nothing to redraw
  }
  model.updates += 1;
  return true;
}

// ---------------------------------------------------------------- calls

async function call(type, extra = {}) {
  const r = await fetch('/api/v1', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ type, ...extra }),
    redirect: 'manual',
  });
  if (r.type === 'opaqueredirect') throw new NotLeader();
  if (!r.ok) throw new Error(`${type}: ${r.status} ${await r.text()}`);
  return r.json();
}

class NotLeader extends Error {
  constructor() { super('this master is not the leader'); }
}

async function getJson(url) {
  const r = await fetch(url, { redirect: 'manual' });
  if (r.type === 'opaqueredirect') throw new NotLeader();
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

// Splits a RecordIO body ("<length>\n<record>"...) into parsed JSON records. The chunks
// read are kept as they came and joined once per record, when all of it is there: the
// SUBSCRIBED snapshot of a large cluster is tens of MB read in 64 KB chunks, and growing
// one buffer per chunk would copy it hundreds of times.
async function* records(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const chunks = [];
  let size = 0; // bytes in chunks
  // The first n bytes of chunks, taken out as one array.
  const take = (n) => {
    const out = new Uint8Array(n);
    for (let at = 0; at < n;) {
      const c = chunks[0];
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) chunks.shift(); else chunks[0] = c.subarray(k);
    }
    size -= n;
    return out;
  };
  let length = -1; // the next record's length, once its header was read
  for (;;) {
    for (;;) {
      if (length < 0) {
        let nl = -1;
        for (let i = 0, off = 0; i < chunks.length && nl < 0; off += chunks[i].length, i += 1) {
          const at = chunks[i].indexOf(10);
          if (at >= 0) nl = off + at;
        }
        if (nl < 0) {
          if (size > 20) throw new Error('malformed RecordIO');
          break;
        }
        const header = decoder.decode(take(nl + 1)).trim();
        length = /^[0-9]+$/.test(header) ? Number(header) : NaN;
        if (!Number.isSafeInteger(length)) throw new Error('malformed RecordIO');
      }
      if (size < length) break;
      // data-received: when the first record (the SUBSCRIBED snapshot) was all read, before
      // it is decoded and parsed (the scale bench splits the snapshot's time with it).
      if (!document.body.dataset.received) document.body.dataset.received = String(Math.round(performance.now()));
      yield JSON.parse(decoder.decode(take(length)));
      length = -1;
    }
    const { value, done } = await reader.read();
    if (done) return;
    chunks.push(value);
    size += value.length;
  }
}

function setLive(on, text) {
  model.connected = on;
  const el = document.getElementById('live');
  el.textContent = text;
  el.className = 'live ' + (on ? 'on' : 'off');
}

function banner(text) {
  const el = document.getElementById('banner');
  el.hidden = !text;
  el.textContent = text || '';
}

// Subscribes, applies events until the stream ends, and subscribes again (1 s, doubling
// to 30 s while it keeps failing).
async function subscribeForever() {
  let delay = 1000;
  for (;;) {
    try {
      const r = await fetch('/api/v1', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ type: 'SUBSCRIBE' }),
        redirect: 'manual',
      });
      if (r.type === 'opaqueredirect') throw new NotLeader();
      // data-headers: when the first answer's headers came (the scale bench reads it).
      if (!document.body.dataset.headers) document.body.dataset.headers = String(Math.round(performance.now()));
      if (r.status === 401 || r.status === 403) {
        banner(`The master refused the event stream (${r.status}): ` +
          'these credentials may not read the cluster state.');
        setLive(false, 'refused');
      } else if (!r.ok) {
        banner(`The master cannot serve the cluster state yet (${r.status} ${await r.text()}); retrying.`);
        setLive(false, 'waiting');
      } else {
        for await (const event of records(r.body)) {
          if (event.type === 'SUBSCRIBED') {
            if (!model.snapshot) document.body.dataset.snapshot = String(Math.round(performance.now()));
            loadState(event.subscribed.get_state || {});
            model.snapshot = true;
            banner('');
            setLive(true, 'live');
            delay = 1000;
            refreshInfo();
            refreshSide();
            schedule();
          } else if (apply(event)) {
            schedule();
          }
        }
        setLive(false, 'reconnecting');
      }
    } catch (e) {
      if (e instanceof NotLeader) return followLeader();
      setLive(false, 'reconnecting');
    }
    await new Promise((ok) => setTimeout(ok, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

function followLeader() {
  banner('This master is not the leader: going to the leading master.');
  setLive(false, 'standby');
  location.replace('/master/redirect' + location.hash);
}

async function refreshInfo() {
  try {
    const [m, v] = await Promise.all([call('GET_MASTER'), call('GET_VERSION')]);
    model.master = m.get_master;
    model.version = (v.get_version || {}).version_info;
    schedule();
  } catch (e) {
    if (e instanceof NotLeader) followLeader();
  }
}

// What the open page needs beyond the event stream.
async function refreshSide() {
  const page = route().page;
  try {
    if (page === 'overview' || page === 'roles' || page === 'agents') {
      model.metrics = await getJson('/metrics/snapshot');
    }
    if (page === 'overview' || page === 'roles') {
      model.roles = ((await call('GET_ROLES')).get_roles || {}).roles || [];
      model.quota = ((await call('GET_QUOTA')).get_quota || {}).status || {};
    }
    if (page === 'offers' || page === 'overview') {
      const fws = ((await call('GET_FRAMEWORKS')).get_frameworks || {}).frameworks || [];
      model.offers = fws.flatMap((f) => (f.offers || []).map((offer) => ({ framework: f, offer })));
    }
    if (page === 'maintenance') {
      model.schedule = ((await call('GET_MAINTENANCE_SCHEDULE')).get_maintenance_schedule || {}).schedule || {};
      model.status = ((await call('GET_MAINTENANCE_STATUS')).get_maintenance_status || {}).status || {};
    }
    schedule();
  } catch (e) {
    if (e instanceof NotLeader) followLeader();
  }
}

// ---------------------------------------------------------------- formatting

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const link = (href, text, attrs = {}) => h('a', { href, ...attrs }, text);
const enc = encodeURIComponent;

function sum(resources) {
  const out = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: 0 };
  for (const r of resources || []) {
    if (r.type === 'SCALAR' || r.scalar) {
      out[r.name] = (out[r.name] || 0) + ((r.scalar && r.scalar.value) || 0);
    } else if (r.ranges) {
      for (const range of r.ranges.range || []) out[r.name] = (out[r.name] || 0) + (range.end - range.begin + 1);
    }
  }
  return out;
}

function add(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] || 0) + v;
  return out;
}

const cpus = (v) => (Math.round((v || 0) * 100) / 100).toString();
function mb(v) {
  v = v || 0;
  if (v >= 1024 * 1024) return (v / 1024 / 1024).toFixed(1) + ' TB';
  if (v >= 1024) return (v / 1024).toFixed(1) + ' GB';
  return Math.round(v) + ' MB';
}
const resText = (s) => `${cpus(s.cpus)} cpus, ${mb(s.mem)} mem, ${mb(s.disk)} disk` + (s.gpus ? `, ${s.gpus} gpus` : '');

function time(seconds) {
  if (!seconds) return '';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
const nanos = (t) => (t && t.nanoseconds ? Number(t.nanoseconds) / 1e9 : 0);

function duration(s) {
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + 'd ' : '') + (d || hh ? hh + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

function table(head, rows, attrs = {}) {
  return h('div', { class: 'scroll' }, h('table', attrs,
    h('thead', null, h('tr', null, head.map((c) => (typeof c === 'string' ? h('th', null, c) : c)))),
    h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: head.length, class: 'muted' }, 'None')))));
}

const kv = (pairs) => h('dl', { class: 'kv' }, pairs.map(([k, v, key]) => [h('dt', null, k), h('dd', { 'data-stat': key }, v)]));
const card = (title, ...body) => h('section', { class: 'card' }, h('h2', null, title), body);

// ---------------------------------------------------------------- derived views

const tasks = () => [...model.tasks.values()];
const live = (t) => !TERMINAL.has(t.state);
const usedOf = (pred) => tasks().filter((t) => live(t) && pred(t)).reduce((acc, t) => add(acc, sum(t.resources)), sum([]));
const agentName = (id) => { const a = model.agents.get(id); return a ? a.agent_info.hostname : id; };
const frameworkName = (id) => { const f = model.frameworks.get(id); return f ? f.info.name : id; };
const draining = (a) => !!a.drain_info;

function reservedByRole() {
  const out = new Map();
  for (const a of model.agents.values()) {
    for (const r of a.total_resources || []) {
      const res = r.reservations || [];
      const role = res.length ? res[res.length - 1].role : r.role && r.role !== '*' ? r.role : null;
      if (!role) continue;
      out.set(role, add(out.get(role) || sum([]), sum([r])));
    }
  }
  return out;
}

// The executor directory's virtual path on its agent (src/slave/slave.cpp attaches it).
function sandboxPath(t) {
  const executor = val(t.executor_id) || val(t.task_id);
  return `/frameworks/${val(t.framework_id)}/executors/${executor}/runs/latest`;
}

// ---------------------------------------------------------------- pages

function overview() {
  const m = model.master || {};
  const info = m.master_info || {};
  const all = tasks();
  const byState = new Map();
  for (const t of all) byState.set(t.state, (byState.get(t.state) || 0) + 1);
  const agents = [...model.agents.values()];
  const fws = [...model.frameworks.values()];
  const total = agents.reduce((acc, a) => add(acc, sum(a.total_resources)), sum([]));
  const used = usedOf(() => true);
  // Offers come and go without operator events: as of the last GET_FRAMEWORKS.
  const offered = (model.offers || []).reduce((acc, o) => add(acc, sum(o.offer.resources)), sum([]));
  const reserved = [...reservedByRole().values()].reduce(add, sum([]));
  const metric = (k) => model.metrics[k];
  const leader = info.address ? `${info.address.hostname || info.address.ip}:${info.address.port}` : info.pid || '';
  return [
    h('h1', null, 'Cluster'),
    h('div', { class: 'grid' },
      card('Master', kv([
        ['Leader', leader, 'leader'],
        ['Master ID', info.id || '', 'master-id'],
        ['Version', (model.version && model.version.version) || info.version || '', 'version'],
        ['Started', time(m.start_time), 'started'],
        ['Elected', time(m.elected_time), 'elected'],
        ['Uptime', m.start_time ? duration(Date.now() / 1000 - m.start_time) : '', 'uptime'],
        ['Allocation run', metric('allocator/mesos/allocation_run_ms') !== undefined
          ? `${metric('allocator/mesos/allocation_run_ms').toFixed(3)} ms (${metric('allocator/mesos/allocation_runs')} runs)` : '', 'allocation'],
        ['Logs', link(fileView(null, '/master/log'), 'master log'), 'logs'],
      ])),
      card('Agents', kv([
        ['Active', agents.filter((a) => a.active).length, 'agents-active'],
        ['Deactivated', agents.filter((a) => a.deactivated).length, 'agents-deactivated'],
        ['Draining', agents.filter(draining).length, 'agents-draining'],
        ['Unreachable', metric('master/slaves_unreachable') ?? '', 'agents-unreachable'],
      ])),
      card('Frameworks', kv([
        ['Active', fws.filter((f) => !f.completed && f.active).length, 'frameworks-active'],
        ['Inactive', fws.filter((f) => !f.completed && !f.active).length, 'frameworks-inactive'],
        ['Completed', fws.filter((f) => f.completed).length, 'frameworks-completed'],
      ])),
      card('Tasks', kv(TASK_STATES.filter((s) => byState.get(s)).map((s) => [s, byState.get(s), 'tasks-' + s])
        .concat([['Total', all.length, 'tasks-total']]))),
    ),
    h('h2', null, 'Resources'),
    table(['', h('th', { class: 'num' }, 'CPUs'), h('th', { class: 'num' }, 'Memory'), h('th', { class: 'num' }, 'Disk'), h('th', { class: 'num' }, 'GPUs')],
      [['Total', total, 'total'], ['Used', used, 'used'], ['Offered', offered, 'offered'], ['Reserved', reserved, 'reserved'],
        ['Idle', add(total, { cpus: -used.cpus, mem: -used.mem, disk: -used.disk, gpus: -used.gpus }), 'idle']]
        .map(([label, s, key]) => h('tr', { 'data-res': key }, h('th', null, label),
          h('td', { class: 'num', 'data-k': 'cpus' }, cpus(s.cpus)), h('td', { class: 'num' }, mb(s.mem)),
          h('td', { class: 'num' }, mb(s.disk)), h('td', { class: 'num' }, s.gpus || 0)))),
    h('h2', null, 'Per role'),
    rolesTable(),
  ];
}

function rolesTable() {
  const roles = model.roles || [];
  const reserved = reservedByRole();
  const quota = new Map(((model.quota || {}).infos || []).concat((model.quota || {}).configs || []).map((q) => [q.role, q]));
  const scalarMap = (m) => Object.entries(m || {}).map(([k, v]) => `${k}:${(v && v.value) ?? v}`).join(', ');
  return table(['Role', h('th', { class: 'num' }, 'Weight'), h('th', { class: 'num' }, 'Frameworks'), 'Allocated', 'Offered', 'Reserved', 'Quota guarantee', 'Quota limit', 'Consumed'],
    roles.map((r) => {
      const q = r.quota || quota.get(r.name) || {};
      return h('tr', { 'data-role': r.name },
        h('td', null, r.name), h('td', { class: 'num' }, r.weight ?? 1),
        h('td', { class: 'num' }, (r.frameworks || []).length),
        h('td', null, resText(sum(r.allocated || r.resources))),
        h('td', null, r.offered ? resText(sum(r.offered)) : ''),
        h('td', null, r.reserved ? resText(sum(r.reserved)) : reserved.has(r.name) ? resText(reserved.get(r.name)) : ''),
        h('td', null, q.guarantee ? (Array.isArray(q.guarantee) ? resText(sum(q.guarantee)) : scalarMap(q.guarantees || q.guarantee)) : scalarMap(q.guarantees)),
        h('td', null, scalarMap(q.limits || q.limit)),
        h('td', null, q.consumed ? (Array.isArray(q.consumed) ? resText(sum(q.consumed)) : scalarMap(q.consumed)) : ''));
    }));
}

function frameworksPage() {
  const fws = [...model.frameworks.values()];
  const row = (f) => {
    const id = val(f.info.id);
    const ts = tasks().filter((t) => val(t.framework_id) === id);
    const used = usedOf((t) => val(t.framework_id) === id);
    return h('tr', { 'data-framework': id },
      h('td', null, link(`#/frameworks/${enc(id)}`, id)),
      h('td', { class: 'wrap' }, f.info.name),
      h('td', null, (f.info.roles || [f.info.role || '*']).join(', ')),
      h('td', null, f.info.principal || ''),
      h('td', null, f.info.user || ''),
      h('td', { class: 'state ' + (f.completed ? 'completed' : f.active ? 'active' : 'inactive') },
        f.completed ? 'completed' : f.active ? 'active' : 'inactive'),
      h('td', { class: 'num', 'data-k': 'active-tasks' }, ts.filter(live).length),
      h('td', { class: 'num' }, cpus(used.cpus)), h('td', { class: 'num' }, mb(used.mem)),
      h('td', null, f.info.webui_url ? link(f.info.webui_url, 'web UI', { rel: 'noopener noreferrer', target: '_blank' }) : ''),
      h('td', null, time(nanos(f.registered_time))));
  };
  const head = ['ID', 'Name', 'Roles', 'Principal', 'User', 'State', h('th', { class: 'num' }, 'Active tasks'),
    h('th', { class: 'num' }, 'CPUs'), h('th', { class: 'num' }, 'Mem'), 'Web UI', 'Registered'];
  return [
    h('h1', null, 'Frameworks'),
    h('h2', null, 'Active'), table(head, fws.filter((f) => !f.completed).map(row), { id: 'frameworks-active' }),
    h('h2', null, 'Completed'), table(head, fws.filter((f) => f.completed).map(row), { id: 'frameworks-completed' }),
  ];
}

function frameworkPage(id) {
  const f = model.frameworks.get(id);
  if (!f) return [h('h1', null, 'Framework'), h('p', { class: 'error' }, `No framework ${id} is known to the master.`)];
  const used = usedOf((t) => val(t.framework_id) === id);
  return [
    h('h1', null, `Framework ${f.info.name}`),
    kv([
      ['ID', id, 'framework-id'], ['Name', f.info.name], ['User', f.info.user || ''],
      ['Roles', (f.info.roles || [f.info.role || '*']).join(', ')], ['Principal', f.info.principal || ''],
      ['Hostname', f.info.hostname || ''], ['Checkpoint', String(!!f.info.checkpoint)],
      ['Failover timeout', f.info.failover_timeout ? f.info.failover_timeout + ' s' : '0'],
      ['State', f.completed ? 'completed' : f.active ? 'active' : 'inactive'],
      ['Web UI', f.info.webui_url ? link(f.info.webui_url, f.info.webui_url, { rel: 'noopener noreferrer', target: '_blank' }) : ''],
      ['Registered', time(nanos(f.registered_time))], ['Resources used', resText(used), 'framework-used'],
    ]),
    h('h2', null, 'Tasks'),
    tasksTable(tasks().filter((t) => val(t.framework_id) === id)),
  ];
}

function agentsPage() {
  // One pass over the tasks for every agent's use (a pass per agent would be 5,000 x
  // 100,000 at the scale bench's size).
  const byAgent = new Map();
  for (const t of model.tasks.values()) {
    if (!live(t)) continue;
    const id = val(t.agent_id);
    const u = byAgent.get(id) || { used: sum([]), count: 0 };
    u.used = add(u.used, sum(t.resources));
    u.count += 1;
    byAgent.set(id, u);
  }
  const rows = [...model.agents.values()].map((a) => {
    const id = val(a.agent_info.id);
    const total = sum(a.total_resources);
    const { used, count } = byAgent.get(id) || { used: sum([]), count: 0 };
    const mode = draining(a) ? 'draining' : a.deactivated ? 'deactivated' : a.active ? 'active' : 'inactive';
    return h('tr', { 'data-agent': id },
      h('td', null, link(`#/agents/${enc(id)}`, id)), h('td', null, a.agent_info.hostname),
      h('td', { class: 'state ' + mode }, mode),
      h('td', { class: 'num', 'data-k': 'cpus' }, `${cpus(used.cpus)} / ${cpus(total.cpus)}`),
      h('td', { class: 'num', 'data-k': 'mem' }, `${mb(used.mem)} / ${mb(total.mem)}`),
      h('td', { class: 'num' }, `${mb(used.disk)} / ${mb(total.disk)}`),
      h('td', { class: 'num', 'data-k': 'tasks' }, count),
      h('td', null, a.version || ''), h('td', null, time(nanos(a.registered_time))));
  });
  return [h('h1', null, 'Agents'),
    table(['ID', 'Host', 'Mode', h('th', { class: 'num' }, 'CPUs used / total'), h('th', { class: 'num' }, 'Mem'),
      h('th', { class: 'num' }, 'Disk'), h('th', { class: 'num' }, 'Active tasks'), 'Version', 'Registered'], rows, { id: 'agents' })];
}

function attributes(list) {
  return (list || []).map((a) => `${a.name}:${a.text ? a.text.value : a.scalar ? a.scalar.value
    : a.ranges ? a.ranges.range.map((r) => `[${r.begin}-${r.end}]`).join(',') : a.set ? a.set.item.join(',') : ''}`).join('; ');
}

function agentPage(id) {
  const a = model.agents.get(id);
  if (!a) return [h('h1', null, 'Agent'), h('p', { class: 'error' }, `No agent ${id} is registered.`)];
  const executors = model.executors.filter((e) => val(e.agent_id) === id);
  return [
    h('h1', null, `Agent ${a.agent_info.hostname}`),
    kv([
      ['ID', id, 'agent-id'], ['Address', a.pid || `${a.agent_info.hostname}:${a.agent_info.port}`],
      ['Mode', draining(a) ? 'draining' : a.deactivated ? 'deactivated' : a.active ? 'active' : 'inactive'],
      ['Total', resText(sum(a.total_resources)), 'agent-total'], ['Used', resText(usedOf((t) => val(t.agent_id) === id)), 'agent-used'],
      ['Offered', resText(sum(a.offered_resources))],
      ['Attributes', attributes(a.agent_info.attributes), 'agent-attributes'],
      ['Domain', a.agent_info.domain ? JSON.stringify(a.agent_info.domain) : ''],
      ['Registered', time(nanos(a.registered_time))],
      ['Logs', link(fileView(id, '/slave/log'), 'agent log')],
    ]),
    h('h2', null, 'Executors'),
    table(['ID', 'Framework', 'Name', 'Sandbox'], executors.map((e) => {
      const info = e.executor_info;
      const path = `/frameworks/${val(info.framework_id)}/executors/${val(info.executor_id)}/runs/latest`;
      return h('tr', null, h('td', null, val(info.executor_id)), h('td', null, frameworkName(val(info.framework_id))),
        h('td', null, info.name || ''), h('td', null, link(`#/agents/${enc(id)}/browse?path=${enc(path)}`, 'sandbox')));
    })),
    h('h2', null, 'Tasks'),
    tasksTable(tasks().filter((t) => val(t.agent_id) === id)),
  ];
}

// A task table shows PAGE_ROWS rows at a time (`?page=N` in the URL, as Mesos's UI pages
// its tables): a cluster's 100,000 tasks as DOM rows would take the browser seconds to
// draw and again on every event.
const PAGE_ROWS = 100;

// The current route with `page` set (1: removed), for the pager's links.
function pageHref(page) {
  const [path, query] = location.hash.split('?');
  const q = new URLSearchParams(query || '');
  if (page > 1) q.set('page', page); else q.delete('page');
  return path + (q.toString() ? '?' + q : '');
}

const byId = (x, y) => { const a = val(x.task_id), b = val(y.task_id); return a < b ? -1 : a > b ? 1 : 0; };

function tasksTable(list) {
  const pages = Math.max(1, Math.ceil(list.length / PAGE_ROWS));
  const page = Math.min(pages, Math.max(1, Math.floor(Number(route().params.get('page'))) || 1));
  // Live tasks first, then by ID.
  list = list.filter(live).sort(byId).concat(list.filter((t) => !live(t)).sort(byId))
    .slice((page - 1) * PAGE_ROWS, page * PAGE_ROWS);
  const rows = list.map((t) => {
    const fid = val(t.framework_id), aid = val(t.agent_id), tid = val(t.task_id);
    const s = sum(t.resources);
    return h('tr', { 'data-task': tid },
      h('td', null, link(`#/tasks/${enc(fid)}/${enc(tid)}`, tid)), h('td', { class: 'wrap' }, t.name),
      h('td', { class: 'state ' + t.state, 'data-k': 'state' }, t.state),
      h('td', null, link(`#/frameworks/${enc(fid)}`, frameworkName(fid))),
      h('td', null, aid ? link(`#/agents/${enc(aid)}`, agentName(aid)) : ''),
      h('td', { class: 'num' }, cpus(s.cpus)), h('td', { class: 'num' }, mb(s.mem)),
      h('td', null, aid ? link(`#/agents/${enc(aid)}/browse?path=${enc(sandboxPath(t))}`, 'sandbox', { 'data-k': 'sandbox' }) : ''));
  });
  const pager = pages > 1 ? h('p', { class: 'pager', id: 'task-pages' },
    page > 1 ? link(pageHref(page - 1), '‹ previous') : '',
    ` page ${page} of ${pages} `,
    page < pages ? link(pageHref(page + 1), 'next ›') : '') : '';
  return h('div', null, pager,
    table(['ID', 'Name', 'State', 'Framework', 'Agent', h('th', { class: 'num' }, 'CPUs'), h('th', { class: 'num' }, 'Mem'), 'Sandbox'],
      rows, { id: 'tasks' }));
}

function tasksPage(params, main) {
  // The filter form stays while the page redraws, so typing is never interrupted.
  let form = main.querySelector('form.filters');
  if (!form) {
    const input = (name, label, attrs = {}) => h('label', null, label, h('input', { name, value: params.get(name) || '', ...attrs }));
    const states = h('select', { name: 'state' }, h('option', { value: '' }, 'any'),
      TASK_STATES.map((s) => h('option', { value: s, selected: params.get('state') === s ? 'selected' : null }, s)));
    form = h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
      input('name', 'Name or ID contains', { type: 'search' }), h('label', null, 'State', states),
      input('framework', 'Framework ID or name'), input('agent', 'Agent ID or host'));
    const onChange = () => {
      const q = new URLSearchParams();
      for (const el of form.elements) if (el.name && el.value) q.set(el.name, el.value);
      history.replaceState(null, '', '#/tasks' + (q.toString() ? '?' + q : ''));
      render();
    };
    form.addEventListener('input', onChange);
    main.replaceChildren(h('h1', null, 'Tasks'), form, h('div', { id: 'task-count', class: 'muted' }), h('div', { id: 'task-table' }));
  }
  const f = Object.fromEntries([...form.elements].filter((e) => e.name).map((e) => [e.name, e.value.toLowerCase()]));
  const has = (text, needle) => !needle || (text || '').toLowerCase().includes(needle);
  const list = tasks().filter((t) => (!f.state || t.state === f.state.toUpperCase())
    && (has(t.name, f.name) || has(val(t.task_id), f.name))
    && (has(val(t.framework_id), f.framework) || has(frameworkName(val(t.framework_id)), f.framework))
    && (has(val(t.agent_id), f.agent) || has(agentName(val(t.agent_id)), f.agent)));
  main.querySelector('#task-count').textContent = `${list.length} of ${model.tasks.size} tasks`;
  main.querySelector('#task-table').replaceChildren(tasksTable(list));
}

function taskPage(fid, tid) {
  const t = model.tasks.get(fid + '/' + tid);
  if (!t) return [h('h1', null, 'Task'), h('p', { class: 'error' }, `No task ${tid} of framework ${fid} is known to the master.`)];
  const aid = val(t.agent_id);
  const base = `#/agents/${enc(aid)}/file?path=`;
  return [
    h('h1', null, `Task ${t.name || tid}`),
    kv([
      ['ID', tid, 'task-id'], ['Name', t.name || ''], ['State', h('span', { class: 'state ' + t.state }, t.state), 'task-state'],
      ['Framework', link(`#/frameworks/${enc(fid)}`, frameworkName(fid))],
      ['Agent', aid ? link(`#/agents/${enc(aid)}`, agentName(aid)) : ''],
      ['Executor', val(t.executor_id) || '(command executor)'], ['User', t.user || ''],
      ['Resources', resText(sum(t.resources))],
      ['Sandbox', aid ? [link(`#/agents/${enc(aid)}/browse?path=${enc(sandboxPath(t))}`, 'browse'), ' · ',
        link(base + enc(sandboxPath(t) + '/stdout'), 'stdout', { id: 'stdout-link' }), ' · ',
        link(base + enc(sandboxPath(t) + '/stderr'), 'stderr')] : ''],
    ]),
    h('h2', null, 'Status updates'),
    table(['State', 'Time', 'Source', 'Reason', 'Message'], (t.statuses || []).map((s) => h('tr', null,
      h('td', { class: 'state ' + s.state }, s.state), h('td', null, time(s.timestamp)), h('td', null, s.source || ''),
      h('td', null, s.reason || ''), h('td', { class: 'wrap' }, s.message || '')))),
  ];
}

// ---- sandboxes, through the master's proxy (master/http/sandbox.rs)

// `agent` null: the master's own /files (its log, /master/log, when --log_dir is set).
function filesUrl(agent, endpoint, query) {
  const base = agent ? `/agent/${enc(agent)}/files/` : '/files/';
  return base + endpoint + '?' + new URLSearchParams(query);
}
const fileView = (agent, path) => (agent ? `#/agents/${enc(agent)}` : '#/master') + `/file?path=${enc(path)}`;
const utf8Length = (text) => new TextEncoder().encode(text).length;

async function browsePage(agent, path, main) {
  main.replaceChildren(h('h1', null, 'Sandbox'), h('p', { class: 'muted' }, `${agentName(agent)}: ${path}`), h('p', null, 'Loading…'));
  const r = await fetch(filesUrl(agent, 'browse', { path }));
  if (!r.ok) {
    main.lastChild.replaceWith(h('p', { class: 'error', id: 'files-error' }, `The agent answered ${r.status}: ${await r.text()}`));
    return;
  }
  const entries = await r.json();
  const parent = path.replace(/\/[^/]*$/, '');
  const rows = entries.map((e) => {
    const name = e.path.split('/').pop();
    const dir = e.mode && e.mode.startsWith('d');
    const target = `#/agents/${enc(agent)}/${dir ? 'browse' : 'file'}?path=${enc(e.path)}`;
    return h('tr', { 'data-file': name }, h('td', null, e.mode || ''), h('td', null, e.uid || ''),
      h('td', { class: 'num' }, e.size ?? ''), h('td', null, time(e.mtime)),
      h('td', null, link(target, name + (dir ? '/' : ''))),
      h('td', null, dir ? '' : link(filesUrl(agent, 'download', { path: e.path }), 'download', { download: name })));
  });
  main.lastChild.replaceWith(h('div', null,
    parent && parent.includes('/runs/') ? h('p', null, link(`#/agents/${enc(agent)}/browse?path=${enc(parent)}`, '.. (up)')) : '',
    table(['Mode', 'Owner', h('th', { class: 'num' }, 'Size'), 'Modified', 'Name', ''], rows, { id: 'files' })));
}

let tail = null; // the open file view's timer

async function filePage(agent, path, main) {
  const pre = h('pre', { class: 'file', id: 'file-content' });
  const status = h('span', { class: 'muted', id: 'file-status' }, 'reading…');
  const follow = h('input', { type: 'checkbox', checked: 'checked', id: 'follow' });
  main.replaceChildren(h('h1', null, path.split('/').pop()),
    h('div', { class: 'toolbar' }, h('span', { class: 'muted' }, `${agent ? agentName(agent) : 'master'}: ${path}`),
      h('label', null, follow, ' follow'),
      link(filesUrl(agent, 'download', { path }), 'download', { download: path.split('/').pop() }),
      agent ? link(`#/agents/${enc(agent)}/browse?path=${enc(path.replace(/\/[^/]*$/, ''))}`, 'directory') : '', status),
    pre);
  const mine = {};
  tail = mine;
  // Mesos's pailer: ask the size first (offset -1), show the last READ_CHUNK bytes, then
  // read on from where the last read ended.
  let offset = null;
  while (tail === mine) {
    try {
      if (offset === null) {
        const r = await fetch(filesUrl(agent, 'read', { path, offset: -1 }));
        if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
        offset = Math.max(0, (await r.json()).offset - READ_CHUNK);
      }
      for (;;) {
        const r = await fetch(filesUrl(agent, 'read', { path, offset, length: READ_CHUNK }));
        if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
        const chunk = await r.json();
        if (tail !== mine) return;
        if (chunk.data) {
          const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.append(chunk.data);
          offset = chunk.offset + utf8Length(chunk.data);
          if (follow.checked && atEnd) pre.scrollTop = pre.scrollHeight;
        }
        status.textContent = `${offset} bytes`;
        if (!chunk.data || utf8Length(chunk.data) < READ_CHUNK) break;
      }
    } catch (e) {
      status.textContent = '';
      status.className = 'error';
      status.id = 'files-error';
      status.textContent = `The agent answered ${e.message}`;
      return;
    }
    if (!follow.checked) { status.textContent += ' (not following)'; }
    await new Promise((ok) => setTimeout(ok, TAIL_MS));
    while (tail === mine && !follow.checked) await new Promise((ok) => setTimeout(ok, TAIL_MS));
  }
}

function offersPage() {
  const offers = model.offers || [];
  return [h('h1', null, 'Outstanding offers'),
    table(['Offer', 'Framework', 'Agent', 'Resources'], offers.map(({ framework, offer }) => h('tr', { 'data-offer': val(offer.id) },
      h('td', null, val(offer.id)), h('td', null, framework.framework_info.name),
      h('td', null, link(`#/agents/${enc(val(offer.agent_id))}`, offer.hostname || val(offer.agent_id))),
      h('td', null, resText(sum(offer.resources))))), { id: 'offers' })];
}

function maintenancePage() {
  const windows = (model.schedule || {}).windows || [];
  const machine = (m) => `${m.hostname || ''}${m.ip ? ' (' + m.ip + ')' : ''}`;
  const st = model.status || {};
  return [h('h1', null, 'Maintenance'),
    h('h2', null, 'Schedule'),
    table(['Machines', 'Start', 'Duration'], windows.map((w) => h('tr', null,
      h('td', { class: 'wrap' }, (w.machine_ids || []).map(machine).join(', ')),
      h('td', null, time(nanos(w.unavailability && w.unavailability.start))),
      h('td', null, w.unavailability && w.unavailability.duration ? duration(nanos(w.unavailability.duration)) : 'indefinite'))), { id: 'schedule' }),
    h('h2', null, 'Machine modes'),
    table(['Machine', 'Mode'], [
      ...(st.draining_machines || []).map((d) => h('tr', null, h('td', null, machine(d.id || {})), h('td', { class: 'state draining' }, 'DRAINING'))),
      ...(st.down_machines || []).map((m) => h('tr', null, h('td', null, machine(m)), h('td', { class: 'state' }, 'DOWN'))),
    ], { id: 'machines' })];
}

function rolesPage() {
  return [h('h1', null, 'Roles'), rolesTable()];
}

// ---------------------------------------------------------------- routing

// `#/<page>/<args...>?<query>`: every view has its own shareable URL (as Mesos's UI).
function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || '');
  const page = parts[0] || 'overview';
  return { page, parts, params };
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

let shown = ''; // the hash of the view on screen, for views that draw themselves once

function render() {
  const { page, parts, params } = route();
  const main = document.getElementById('main');
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('current', a.dataset.nav === (page === 'overview' ? '' : page));
  }
  const hash = location.hash;
  // File views fetch from the agent (or the master) themselves and are not redrawn by
  // cluster events.
  const files = page === 'agents' && (parts[2] === 'browse' || parts[2] === 'file');
  if (files || (page === 'master' && parts[1] === 'file')) {
    if (shown === hash) return;
    shown = hash;
    const path = params.get('path') || '/';
    if (parts[2] === 'browse') { tail = null; browsePage(parts[1], path, main); } else filePage(files ? parts[1] : null, path, main);
    return;
  }
  tail = null;
  if (page === 'tasks' && !parts[1]) {
    if (!shown.startsWith('#/tasks') || shown.split('?')[0] !== hash.split('?')[0] || !main.querySelector('form.filters')) main.replaceChildren();
    shown = hash;
    tasksPage(params, main);
    markLoaded();
    return;
  }
  shown = hash;
  let view;
  switch (page) {
    case 'frameworks': view = parts[1] ? frameworkPage(parts[1]) : frameworksPage(); break;
    case 'agents': view = parts[1] ? agentPage(parts[1]) : agentsPage(); break;
    case 'tasks': view = taskPage(parts[1], parts[2]); break;
    case 'roles': view = rolesPage(); break;
    case 'offers': view = offersPage(); break;
    case 'maintenance': view = maintenancePage(); break;
    default: view = overview();
  }
  main.replaceChildren(...view);
  document.body.dataset.updates = String(model.updates);
  markLoaded();
}

// The page's "full data" signal: <body data-loaded="<ms>"> once a view was drawn from the
// first snapshot; the value is performance.now(), milliseconds since navigation start
// (the scale bench's UI figure, core/benches/scale.rs --ui, reads it). data-snapshot: when
// the first SUBSCRIBED record had arrived and was parsed.
function markLoaded() {
  if (model.snapshot && !document.body.dataset.loaded) {
    document.body.dataset.loaded = String(Math.round(performance.now()));
  }
}

window.addEventListener('hashchange', () => { shown = ''; render(); refreshSide(); });
setInterval(() => {
  if (model.connected && ['overview', 'roles', 'offers', 'maintenance'].includes(route().page)) refreshSide();
}, SIDE_REFRESH_MS);
render();
subscribeForever();
