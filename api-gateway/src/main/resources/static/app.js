// Forge Queue web page: plain JavaScript, no build step. Talks to the REST API (/api/v1) and the WebSocket
// relay (/ws, protocol in api-gateway/PROTOCOL.md). Everything shown comes from the server, so a reload
// shows the same as a live page; a dropped WebSocket reconnects and re-syncs by itself. The header and the
// outage banner follow the server's pushed queue overview (frame "queue"), never a timer.
(() => {
  'use strict';

  const KEY_STORAGE = 'forgequeue.apiKey';
  const NOTIFY_STORAGE = 'forgequeue.notify';
  const PAGE_SIZE = 20;
  /** A running job whose progress has not moved for this long says so. */
  const STALL_SECONDS = 15;
  const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
  const BADGE = { QUEUED: 'Queued', RUNNING: 'Running', SUCCEEDED: 'Done', FAILED: 'Failed', CANCELLED: 'Cancelled' };
  const PRIORITY_LABEL = { high: 'High: before normal jobs', normal: 'Normal', low: 'Low: after normal jobs' };
  /** API field names as the form labels them, for error messages. */
  const FIELD_LABEL = {
    prompt: 'Prompt', negativePrompt: 'Negative prompt', width: 'Size', height: 'Size', steps: 'Steps',
    cfgScale: 'CFG scale', seed: 'Seed', batchSize: 'Images', sampler: 'Sampler', checkpoint: 'Checkpoint',
    priority: 'Priority', pool: 'Pool', scheduler: 'Scheduler',
  };
  /** API field name -> form control name. */
  const FIELD_CONTROL = { width: 'size', height: 'size' };
  const EMPTY_TEXT = {
    '': 'No jobs yet. Write a prompt above and press Generate.',
    'QUEUED,RUNNING': 'Nothing is waiting or running right now.',
    SUCCEEDED: 'No finished jobs yet.',
    'FAILED,CANCELLED': 'No failed or cancelled jobs.',
  };
  const $ = (id) => document.getElementById(id);

  const state = {
    key: localStorage.getItem(KEY_STORAGE),
    me: null,
    options: null,
    queue: null,            // the last queue overview (GET /api/v1/queue or frame "queue")
    jobs: new Map(),        // id -> job view (as the API returns it)
    cards: new Map(),       // id -> card element
    imageUrls: new Map(),   // image url -> blob: URL
    live: new Map(),        // id -> { progress, step, attempt, advancedAt }: when a running job last moved
    movedBack: new Set(),   // queued jobs whose position grew (another job was put before them)
    rerunAs: new Map(),     // id -> id of the job that ran it again
    nextCursor: null,
    filter: '',
    query: '',
    ws: null,
    wsAttempt: 0,
    wsTimer: null,
    authenticated: false,
    submitting: false,
    outage: false,
    unseen: 0,              // jobs that ended while the tab was in the background
    undo: null,
    lightbox: null,         // { jobId, index, opener }
    announced: { text: '', at: 0 },
  };

  // ---------- REST ----------

  class ApiError extends Error {
    constructor(status, problem, retryAfter) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
      this.retryAfter = retryAfter || null;
    }
  }

  async function request(path, options = {}) {
    const headers = Object.assign({ Authorization: `Bearer ${state.key}` }, options.headers || {});
    let response;
    try {
      response = await fetch(path, Object.assign({}, options, { headers }));
    } catch (e) {
      throw new ApiError(0, { detail: 'The server cannot be reached. Check your connection and try again.' });
    }
    const type = response.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      throw new ApiError(response.status, body, response.headers.get('Retry-After'));
    }
    return { status: response.status, body, headers: response.headers };
  }

  /** A request of the signed-in page: a key that stops working signs out. */
  async function api(path, options = {}) {
    try {
      return await request(path, options);
    } catch (e) {
      if (e.status === 401) {
        signOut('Your API key is no longer accepted (it may have been disabled). Sign in with a valid key.');
      }
      throw e;
    }
  }

  function describeProblem(err) {
    const p = err.problem || {};
    const lines = [];
    if (err.status === 429) {
      lines.push(p.detail || 'Too many jobs are waiting.');
      if (err.retryAfter) lines.push(`Try again in ${err.retryAfter} s.`);
    } else if (p.code === 'validation-failed') {
      lines.push(p.errors && p.errors.length === 1 ? 'One setting needs a change:' : 'Some settings need a change:');
    } else {
      lines.push(p.detail || p.title || err.message);
    }
    for (const e of p.errors || []) lines.push(`${FIELD_LABEL[e.field] || e.field}: ${e.message}`);
    return lines.join('\n');
  }

  // ---------- announcements, title and notifications ----------

  /** Says something in the polite live region; messages within a moment of each other are read together. */
  function announce(text) {
    const now = Date.now();
    const region = $('announcer');
    const joined = now - state.announced.at < 1500 && state.announced.text ? `${state.announced.text} ${text}` : text;
    state.announced = { text: joined, at: now };
    region.textContent = joined;
  }

  function short(prompt, max = 60) {
    const text = (prompt || '').replace(/\s+/g, ' ').trim();
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }

  function quoted(job) {
    if (job.dataErased) return 'the job whose prompt was erased';
    return `"${short(job.spec ? job.spec.prompt : '')}"`;
  }

  function endMessage(job) {
    if (job.status === 'SUCCEEDED') {
      const n = job.images ? job.images.length : 0;
      return `${quoted(job)} is done${n > 1 ? ` (${n} images)` : ''}.`;
    }
    if (job.status === 'FAILED') return `${quoted(job)} failed: ${job.error ? job.error.message : 'unknown error'}`;
    return `${quoted(job)} was cancelled.`;
  }

  function jobEnded(job) {
    const message = endMessage(job);
    announce(message);
    if (document.visibilityState === 'hidden') {
      state.unseen++;
      showUnseen();
      if (localStorage.getItem(NOTIFY_STORAGE) === 'on' && 'Notification' in window
          && Notification.permission === 'granted') {
        try {
          new Notification('Forge Queue', { body: message, tag: job.id });
        } catch (e) {
          // some browsers allow notifications only from a service worker: the title still says it
        }
      }
    }
  }

  /** The tab's title and icon count the jobs that ended while it was in the background. */
  function showUnseen() {
    document.title = state.unseen > 0 ? `(${state.unseen}) Forge Queue` : 'Forge Queue';
    const icon = $('favicon');
    if (state.unseen === 0) {
      icon.href = 'data:,';
      return;
    }
    const canvas = document.createElement('canvas');
    canvas.width = 32;
    canvas.height = 32;
    const g = canvas.getContext('2d');
    g.fillStyle = '#1f5bd6';
    g.beginPath();
    g.arc(16, 16, 16, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = '#fff';
    g.font = 'bold 20px sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(state.unseen > 9 ? '9+' : String(state.unseen), 16, 17);
    icon.href = canvas.toDataURL('image/png');
  }

  function renderNotifyButton() {
    const button = $('notify');
    if (!('Notification' in window) || !state.key) {
      button.hidden = true;
      return;
    }
    const on = localStorage.getItem(NOTIFY_STORAGE) === 'on' && Notification.permission === 'granted';
    button.hidden = Notification.permission === 'denied' && !on;
    button.textContent = on ? 'Notifications on' : 'Notify me';
    button.setAttribute('aria-pressed', String(on));
    button.title = on ? 'A browser notification tells you when a job ends while this tab is in the background'
      : 'Get a browser notification when a job ends while this tab is in the background';
  }

  // ---------- sign in ----------

  function showSignIn(message) {
    $('app').hidden = true;
    $('sign-out').hidden = true;
    $('notify').hidden = true;
    $('sign-in').hidden = false;
    $('outage').hidden = true;
    $('queue-stats').textContent = '';
    $('key-error').textContent = message || '';
    $('key-input').focus();
  }

  function signOut(message) {
    localStorage.removeItem(KEY_STORAGE);
    state.key = null;
    state.me = null;
    state.queue = null;
    closeSocket();
    clearJobs();
    showSignIn(message);
  }

  function clearJobs() {
    state.jobs.clear();
    state.cards.clear();
    state.live.clear();
    state.movedBack.clear();
    $('jobs').replaceChildren();
  }

  async function start() {
    $('sign-in').hidden = true;
    $('app').hidden = false;
    $('sign-out').hidden = false;
    renderNotifyButton();
    $('prompt').focus();
    try {
      await Promise.all([loadMe(), refreshQueue()]);
    } catch (e) {
      if (e.status === 401) return;
    }
    loadOptions();
    await loadJobs(true);
    connectSocket();
  }

  /** Takes an API key from a #key= link (infra/local/up.sh prints one), also in a tab already on the page. */
  function takeKeyFromLink() {
    if (!location.hash.startsWith('#key=')) return false;
    const key = decodeURIComponent(location.hash.slice(5)).trim();
    history.replaceState(null, '', location.pathname + location.search);
    if (!key) return false;
    if (key === state.key) return false;
    if (state.key) {
      closeSocket();
      clearJobs();
    }
    state.key = key;
    localStorage.setItem(KEY_STORAGE, key);
    return true;
  }

  // ---------- key, queue overview, options ----------

  async function loadMe() {
    const { body } = await api('/api/v1/me');
    state.me = body;
    const select = $('priority');
    const allowed = body.priorities || [];
    select.replaceChildren(...allowed.map((p) => {
      const o = document.createElement('option');
      o.value = p;
      o.textContent = PRIORITY_LABEL[p] || p;
      o.selected = p === 'normal';
      return o;
    }));
    $('priority-label').hidden = allowed.length < 2;
  }

  async function refreshQueue() {
    const { body } = await api('/api/v1/queue');
    showQueue(body);
  }

  function showQueue(view) {
    state.queue = view;
    let queued = 0; let running = 0; let ready = 0; let paused = 0; let ownWaiting = 0; let share = null;
    for (const p of view.pools || []) {
      queued += p.depth;
      running += p.running;
      ready += p.availableWorkers;
      paused += p.pausedWorkers;
      if (p.own) {
        ownWaiting += p.own.queued;
        if (p.own.queued > 0 && p.own.fairShare < 1) share = p.own.fairShare;
      }
    }
    const parts = [`${queued} queued`, `${running} running`, `${ready} GPU${ready === 1 ? '' : 's'} ready`];
    if (paused > 0) parts.push(`${paused} paused`);
    if (share != null) parts.push(`your share ${Math.round(share * 100)} %`);
    const text = parts.join(' · ');
    if ($('queue-stats').textContent !== text) $('queue-stats').textContent = text;
    const waiting = Math.max(ownWaiting, [...state.jobs.values()].filter((j) => j.status === 'QUEUED').length);
    $('cancel-waiting').hidden = waiting === 0;
    $('cancel-waiting').textContent = `Cancel all waiting (${waiting})`;
    showOutage(view);
    const gpus = ready + paused;
    if (state.options && state.lastGpus !== undefined && state.lastGpus !== gpus) loadOptions();
    state.lastGpus = gpus;
  }

  /** The pools this user's jobs go to: the default one and any with a job of theirs. */
  function relevantPools(view) {
    const defaultPool = state.options && state.options.pools && state.options.pools[0] || 'default';
    const names = new Set([defaultPool]);
    for (const p of view.pools || []) if (p.own && (p.own.queued > 0 || p.own.running > 0)) names.add(p.pool);
    for (const j of state.jobs.values()) if (!TERMINAL.has(j.status)) names.add(j.pool);
    return [...names].map((name) => (view.pools || []).find((p) => p.pool === name)
      || { pool: name, availableWorkers: 0, pausedWorkers: 0 });
  }

  function showOutage(view) {
    const down = relevantPools(view).filter((p) => p.availableWorkers === 0);
    const banner = $('outage');
    if (down.length === 0) {
      if (state.outage) announce('GPUs are available again: your jobs continue.');
      state.outage = false;
      banner.hidden = true;
      banner.replaceChildren();
      return;
    }
    const paused = down.some((p) => p.pausedWorkers > 0);
    const title = paused ? 'No GPU is available right now.' : 'No GPU is connected right now.';
    const detail = paused
      ? 'The image server is not answering. Your jobs wait and resume on their own when it is back; nothing is lost.'
      : 'Your jobs wait and start on their own when a GPU connects; nothing is lost.';
    if (banner.textContent !== title + detail) {
      const strong = document.createElement('strong');
      strong.textContent = title;
      banner.replaceChildren(strong, document.createTextNode(detail));
    }
    banner.hidden = false;
    state.outage = true;
  }

  async function loadOptions() {
    try {
      const { body } = await api('/api/v1/options');
      state.options = body;
      fillSelect($('sampler'), (body.samplers || []).map((name) => ({ value: name, text: name })));
      const checkpoints = new Map();
      for (const name of body.checkpoints || []) checkpoints.set(name, { name, gpus: 0, loaded: 0 });
      for (const c of body.available || []) checkpoints.set(c.name, c);
      fillSelect($('checkpoint'), [...checkpoints.values()].map((c) => ({ value: c.name, text: checkpointText(c) })));
      if (state.queue) showOutage(state.queue);
    } catch (e) {
      // no list known: the server's defaults are used
    }
  }

  function checkpointText(c) {
    if (!c.gpus) return `${c.name} (no GPU offers it now: jobs wait)`;
    const loaded = c.loaded ? `, loaded on ${c.loaded}` : '';
    return `${c.name} (on ${c.gpus} GPU${c.gpus === 1 ? '' : 's'}${loaded})`;
  }

  /** Replaces the options after the first ("server default"), keeping the selection. */
  function fillSelect(select, items) {
    const selected = select.value;
    const keep = select.options[0];
    select.replaceChildren(keep, ...items.map((item) => {
      const o = document.createElement('option');
      o.value = item.value;
      o.textContent = item.text;
      return o;
    }));
    if ([...select.options].some((o) => o.value === selected)) select.value = selected;
  }

  // ---------- job list ----------

  async function loadJobs(reset) {
    if (reset) {
      state.nextCursor = null;
      clearJobs();
    }
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.filter) params.set('status', state.filter);
    if (state.query) params.set('q', state.query);
    if (state.nextCursor) params.set('cursor', state.nextCursor);
    try {
      const { body } = await api(`/api/v1/jobs?${params}`);
      for (const job of body.items) upsert(job, { announceEnd: false });
      state.nextCursor = body.nextCursor || null;
    } catch (e) {
      if (e.status !== 401) $('form-error').textContent = describeProblem(e);
    }
    $('load-more').hidden = !state.nextCursor;
    showEmpty();
  }

  function showEmpty() {
    const empty = $('empty');
    empty.hidden = state.cards.size > 0;
    empty.textContent = state.query ? `No jobs whose prompt contains "${state.query}".` : EMPTY_TEXT[state.filter];
  }

  function matchesView(job) {
    if (job.hiddenAt) return false;
    if (state.filter && !state.filter.split(',').includes(job.status)) return false;
    return !state.query || (job.spec && job.spec.prompt.toLowerCase().includes(state.query.toLowerCase()));
  }

  /** Applies a job view if it is not older than what is shown; its card goes where its ticket puts it. */
  function upsert(job, { announceEnd = true } = {}) {
    const known = state.jobs.get(job.id);
    if (known && job.version < known.version) return;
    const merged = Object.assign({}, known, job);
    if (!job.hiddenAt) delete merged.hiddenAt;
    if (known && job.position === undefined && job.status === 'QUEUED') {
      merged.position = known.position; // update frames leave the position to position frames
      merged.eta = known.eta;
      if (job.waiting === undefined) merged.waiting = known.waiting;
    }
    if (job.status !== 'QUEUED') state.movedBack.delete(job.id);
    trackProgress(merged, known);
    state.jobs.set(job.id, merged);
    let card = state.cards.get(job.id);
    if (!matchesView(merged)) {
      if (card) removeCard(job.id);
    } else {
      if (!card) {
        card = createCard(job.id);
        state.cards.set(job.id, card);
        placeCard(card, merged);
      }
      renderCard(card, merged);
    }
    if (announceEnd && known && !TERMINAL.has(known.status) && TERMINAL.has(merged.status)) jobEnded(merged);
    if (known && known.status !== merged.status && state.queue) showQueue(state.queue);
    showEmpty();
  }

  function removeCard(id) {
    const card = state.cards.get(id);
    if (card) card.remove();
    state.cards.delete(id);
    showEmpty();
  }

  /** Cards are newest first: by ticket, descending. */
  function placeCard(card, job) {
    card.dataset.ticket = String(job.ticket);
    const list = $('jobs');
    for (const other of list.children) {
      if (Number(other.dataset.ticket) < job.ticket) {
        list.insertBefore(card, other);
        return;
      }
    }
    list.append(card);
  }

  /** Remembers when a running job last moved on (progress, a new preview step, a new attempt). */
  function trackProgress(job, known) {
    if (job.status !== 'RUNNING') {
      state.live.delete(job.id);
      return;
    }
    const live = state.live.get(job.id);
    if (!live || !known || known.status !== 'RUNNING' || job.attempt !== live.attempt || job.progress > live.progress) {
      state.live.set(job.id, { progress: job.progress || 0, step: live && job.attempt === live.attempt ? live.step : 0,
        attempt: job.attempt, advancedAt: Date.now() });
    }
  }

  function stalledSeconds(job) {
    const live = state.live.get(job.id);
    if (!live || job.status !== 'RUNNING') return 0;
    const s = Math.floor((Date.now() - live.advancedAt) / 1000);
    return s >= STALL_SECONDS ? s : 0;
  }

  function createCard(id) {
    const card = $('job-card').content.firstElementChild.cloneNode(true);
    card.dataset.jobId = id;
    card.tabIndex = -1;
    card.querySelector('.cancel').addEventListener('click', () => cancelJob(id));
    card.querySelector('.reuse').addEventListener('click', () => useSettings(id));
    card.querySelector('.rerun').addEventListener('click', () => runAgain(id));
    card.querySelector('.rerun-link').addEventListener('click', () => showJob(state.rerunAs.get(id)));
    card.querySelector('.download-all').addEventListener('click', () => downloadAll(id));
    card.querySelector('.hide').addEventListener('click', () => hideJob(id));
    return card;
  }

  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function renderCard(card, job) {
    const name = quoted(job);
    const badge = card.querySelector('.badge');
    badge.className = `badge ${job.status}`;
    setText(badge, job.status === 'RUNNING' ? `Running ${job.progress || 0}%` : BADGE[job.status]);
    card.dataset.status = job.status;
    const prio = card.querySelector('.prio');
    prio.hidden = !job.priority || job.priority === 'normal';
    setText(prio, job.priority === 'high' ? 'High priority' : job.priority === 'low' ? 'Low priority' : '');
    setText(card.querySelector('.when'), formatTime(job.createdAt));
    // an erased job (docs/data-retention.md) has an empty prompt and no images: say so instead
    const promptText = job.dataErased ? 'Prompt and images erased' : (job.spec ? job.spec.prompt : '');
    const prompt = card.querySelector('.prompt');
    setText(prompt, promptText);
    prompt.title = promptText;

    setText(card.querySelector('.where'), statusLine(job));
    const why = card.querySelector('.why');
    const reason = job.status === 'QUEUED' ? waitingLine(job) : '';
    setText(why, reason);
    why.hidden = !reason;

    const bar = card.querySelector('.bar');
    bar.hidden = job.status !== 'RUNNING';
    bar.setAttribute('aria-valuenow', String(job.progress || 0));
    bar.setAttribute('aria-label', `Progress of ${name}`);
    bar.querySelector('.fill').style.width = `${job.progress || 0}%`;

    const media = card.querySelector('.media');
    if (job.dataErased) {
      media.dataset.final = 'true';
      media.classList.remove('preview');
      media.replaceChildren();
    } else if (job.status === 'SUCCEEDED' && job.images && media.dataset.final !== 'true') {
      media.dataset.final = 'true';
      media.classList.remove('preview');
      media.replaceChildren(...job.images.map((image) => imageFigure(job, image)));
    } else if (job.status !== 'SUCCEEDED' && job.status !== 'RUNNING' && media.childElementCount > 0) {
      // a job given back to the queue keeps no preview of the attempt that stopped; a failed one shows none
      media.classList.remove('preview');
      media.dataset.final = '';
      media.replaceChildren();
    }

    setText(card.querySelector('.error-text'), job.status === 'FAILED' && job.error ? job.error.message : '');
    setText(card.querySelector('.settings'), settingsLine(job));

    const finished = TERMINAL.has(job.status);
    const rerunAs = state.rerunAs.get(job.id);
    button(card, '.cancel', !finished && !job.cancelRequested, `Cancel ${name}`);
    // an erased job has no prompt left to reuse or run again
    button(card, '.reuse', finished && !job.dataErased, `Use the settings of ${name}`);
    button(card, '.rerun', (job.status === 'FAILED' || job.status === 'CANCELLED') && !rerunAs && !job.dataErased,
      `Run ${name} again`);
    button(card, '.rerun-link', !!rerunAs, `Show the job that runs ${name} again`);
    const images = job.status === 'SUCCEEDED' && job.images ? job.images.length : 0;
    button(card, '.download-all', images > 0, images > 1 ? `Download all ${images} images of ${name}`
      : `Download the image of ${name}`);
    setText(card.querySelector('.download-all'), images > 1 ? `Download all (${images})` : 'Download');
    button(card, '.hide', finished, `Remove ${name} from the history`);
  }

  function button(card, selector, shown, label) {
    const b = card.querySelector(selector);
    b.hidden = !shown;
    if (b.getAttribute('aria-label') !== label) b.setAttribute('aria-label', label);
  }

  /** The line under the badge: what the job does now, in a person's words. */
  function statusLine(job) {
    switch (job.status) {
      case 'QUEUED': {
        const position = job.position ? `Position ${job.position} in the queue` : 'Waiting in the queue';
        const eta = job.waiting && job.waiting.blocked ? '' : etaText(job.eta);
        if (wasReturned(job)) return `Returned to the queue, will run again · ${position.toLowerCase()}${eta}`;
        return position + eta;
      }
      case 'RUNNING': {
        if (job.cancelRequested) return 'Cancelling…';
        const stalled = stalledSeconds(job);
        return stalled ? `Generating… no progress for ${stalled} s` : 'Generating…';
      }
      case 'SUCCEEDED':
        return `Done${duration(job)}`;
      case 'FAILED':
        return `Failed${job.finishedAt ? ` at ${formatClock(job.finishedAt)}` : ''}`;
      case 'CANCELLED': {
        const when = job.finishedAt ? ` at ${formatClock(job.finishedAt)}` : '';
        if (!job.startedAt) return `Cancelled${when}, before it started`;
        return `Cancelled${when}, after ${job.progress || 0}% of the work`;
      }
      default:
        return '';
    }
  }

  /** Whether a queued job was on a GPU and came back (its GPU stopped): the server says so in its job view. */
  function wasReturned(job) {
    return !!(job.waiting && job.waiting.returned);
  }

  /** Why a queued job waits: what blocks it, or who is before it. */
  function waitingLine(job) {
    const w = job.waiting;
    if (!w) return '';
    if (w.blocked) return w.blocked;
    if (w.next) return 'Next on a GPU: it starts when the job running there ends.';
    const own = w.ownAhead || 0;
    const others = Math.max(0, (w.ahead || 0) - own);
    let text;
    if (own === 0 && others === 0) text = 'No job is before yours.';
    else if (own === 0) text = `${others} job${others === 1 ? '' : 's'} of other users before yours.`;
    else if (others === 0) text = `${own} of your own job${own === 1 ? '' : 's'} before this one.`;
    else text = `${own} of your own job${own === 1 ? '' : 's'} and ${others} of other users before this one.`;
    if (state.movedBack.has(job.id)) {
      text += ' Moved back: a higher-priority job or another user\'s fair turn came first.';
    }
    return text;
  }

  /** The settings the job used (what the worker reported, else what was asked). */
  function settingsLine(job) {
    const s = job.spec;
    if (!s) return '';
    const m = job.metadata || {};
    const parts = [`${m.width || s.width}×${m.height || s.height}`, `${m.steps || s.steps} steps`, `CFG ${m.cfgScale || s.cfgScale}`];
    const sampler = m.sampler || s.sampler;
    if (sampler) parts.push(sampler);
    const model = m.sdModelName || s.checkpoint;
    if (model) parts.push(`model ${model}`);
    if (s.batchSize > 1) parts.push(`${s.batchSize} images`);
    if (job.status !== 'SUCCEEDED') parts.push(s.seed === -1 ? 'random seed' : `seed ${s.seed}`);
    let line = parts.join(' · ');
    if (s.negativePrompt) line += `\nNegative: ${s.negativePrompt}`;
    return line;
  }

  function imageFigure(job, image) {
    const n = job.images.length;
    const figure = document.createElement('figure');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.setAttribute('aria-label', `Image ${image.index + 1}${n > 1 ? ` of ${n}` : ''} of ${quoted(job)}, seed ${image.seed}: view full size`);
    const img = document.createElement('img');
    img.alt = '';
    img.width = image.width;
    img.height = image.height;
    open.append(img);
    open.addEventListener('click', () => openLightbox(job.id, image.index, open));
    const caption = document.createElement('figcaption');
    const seed = document.createElement('span');
    seed.textContent = `Seed ${image.seed}`;
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'link copy-seed';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', `Copy seed ${image.seed}`);
    copy.addEventListener('click', () => copySeed(image.seed));
    const reuse = document.createElement('button');
    reuse.type = 'button';
    reuse.className = 'link reuse-seed';
    reuse.textContent = 'Reuse';
    reuse.setAttribute('aria-label', `Reuse seed ${image.seed} in the form`);
    reuse.addEventListener('click', () => reuseSeed(image.seed));
    caption.append(seed, copy, reuse);
    figure.append(open, caption);
    blobUrl(image.url).then((url) => {
      img.src = url;
    }).catch(() => {
      seed.textContent = `Image unavailable (seed ${image.seed})`;
    });
    return figure;
  }

  /** Images need the API key, which an <img src> cannot send: fetch them and use blob URLs. */
  async function blobUrl(url) {
    if (state.imageUrls.has(url)) return state.imageUrls.get(url);
    const response = await fetch(url, { headers: { Authorization: `Bearer ${state.key}` } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const objectUrl = URL.createObjectURL(await response.blob());
    state.imageUrls.set(url, objectUrl);
    return objectUrl;
  }

  function showPreview(frame) {
    const job = state.jobs.get(frame.jobId);
    const card = state.cards.get(frame.jobId);
    if (!job || job.status !== 'RUNNING' || (frame.attempt && frame.attempt < job.attempt)) return;
    const live = state.live.get(frame.jobId);
    if (live && frame.step !== live.step) {
      live.step = frame.step;
      live.advancedAt = Date.now();
    }
    if (!card) return;
    const media = card.querySelector('.media');
    media.classList.add('preview');
    let img = media.querySelector('img.live');
    if (!img) {
      img = document.createElement('img');
      img.className = 'live';
      img.alt = `Live preview of ${quoted(job)}`;
      media.replaceChildren(img);
    }
    img.src = `data:${frame.mimeType};base64,${frame.data}`;
    renderCard(card, job);
  }

  function etaText(eta) {
    if (!eta) return '';
    if (eta.minSeconds != null && eta.maxSeconds != null && eta.maxSeconds > eta.minSeconds) {
      return ` · about ${formatSeconds(eta.minSeconds)}–${formatSeconds(eta.maxSeconds)}`;
    }
    return ` · about ${formatSeconds(eta.seconds)}`;
  }

  function duration(job) {
    if (!job.startedAt || !job.finishedAt) return '';
    return ` in ${formatSeconds((Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000)}`;
  }

  function formatSeconds(s) {
    if (s < 60) return `${Math.max(0, Math.round(s * 10) / 10)} s`;
    const m = Math.floor(s / 60);
    return `${m} min ${Math.round(s - m * 60)} s`;
  }

  function formatTime(iso) {
    return iso ? new Date(iso).toLocaleString() : '';
  }

  function formatClock(iso) {
    return new Date(iso).toLocaleTimeString();
  }

  // ---------- the form ----------

  function readForm() {
    const f = $('job-form').elements;
    const [width, height] = f.size.value.split('x').map(Number);
    const body = {
      prompt: f.prompt.value,
      width, height,
      steps: Number(f.steps.value),
      cfgScale: Number(f.cfgScale.value),
      seed: Number(f.seed.value),
      batchSize: Number(f.batchSize.value),
    };
    if (f.negativePrompt.value) body.negativePrompt = f.negativePrompt.value;
    if (f.sampler.value) body.sampler = f.sampler.value;
    if (f.checkpoint.value) body.checkpoint = f.checkpoint.value;
    if (!$('priority-label').hidden && f.priority.value && f.priority.value !== 'normal') body.priority = f.priority.value;
    return body;
  }

  /** Puts a job's settings into the form (the seed it ran with when known). */
  function fillForm(job) {
    const s = job.spec;
    const f = $('job-form').elements;
    f.prompt.value = s.prompt;
    f.negativePrompt.value = s.negativePrompt || '';
    const size = `${s.width}x${s.height}`;
    if (![...f.size.options].some((o) => o.value === size)) {
      const o = document.createElement('option');
      o.value = size;
      o.textContent = `${s.width} × ${s.height}`;
      f.size.append(o);
    }
    f.size.value = size;
    f.steps.value = String(s.steps);
    f.cfgScale.value = String(s.cfgScale);
    const ranWith = job.images && job.images[0] ? job.images[0].seed : (job.metadata && job.metadata.seed);
    f.seed.value = String(s.seed !== -1 ? s.seed : ranWith != null ? ranWith : -1);
    f.batchSize.value = String(s.batchSize || 1);
    setSelect(f.sampler, s.sampler);
    setSelect(f.checkpoint, s.checkpoint);
    if (!$('priority-label').hidden) setSelect(f.priority, job.priority || 'normal');
    clearInvalid();
  }

  function setSelect(select, value) {
    if (!value) {
      select.value = select.options[0] ? select.options[0].value : '';
      return;
    }
    if (![...select.options].some((o) => o.value === value)) {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = value;
      select.append(o);
    }
    select.value = value;
  }

  function useSettings(id) {
    const job = state.jobs.get(id);
    fillForm(job);
    $('more').open = true;
    $('job-form').scrollIntoView({ block: 'start' });
    $('prompt').focus();
    announce(`The settings of ${quoted(job)} are in the form.`);
  }

  function reuseSeed(seed) {
    $('job-form').elements.seed.value = String(seed);
    $('more').open = true;
    const field = $('job-form').elements.seed;
    field.scrollIntoView({ block: 'center' });
    field.focus();
    announce(`Seed ${seed} is in the form.`);
  }

  async function copySeed(seed) {
    const text = String(seed);
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const field = document.createElement('textarea');
      field.value = text;
      field.className = 'visually-hidden';
      document.body.append(field);
      field.select();
      document.execCommand('copy');
      field.remove();
    }
    announce(`Seed ${seed} copied.`);
  }

  function clearInvalid() {
    for (const el of $('job-form').querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    $('form-error').textContent = '';
  }

  /** Marks the fields a problem names and moves the focus to the first. */
  function markInvalid(problem) {
    const form = $('job-form').elements;
    let first = null;
    for (const e of problem.errors || []) {
      const control = form[FIELD_CONTROL[e.field] || e.field];
      if (!control || !control.setAttribute) continue;
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', 'form-error');
      if (!first) first = control;
    }
    if (first) {
      if ($('more').contains(first)) $('more').open = true;
      first.focus();
    }
  }

  async function submit(body) {
    if (state.submitting) return false; // Ctrl+Enter twice, a double click: one job
    state.submitting = true;
    clearInvalid();
    $('submit').disabled = true;
    try {
      const { body: job } = await api('/api/v1/jobs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
        body: JSON.stringify(body),
      });
      if (!matchesView(job)) {
        // the list showed something else: show everything again, or the new job would be invisible
        state.filter = '';
        state.query = '';
        $('filter').value = '';
        $('search').value = '';
        await loadJobs(true);
        listStatus(`Submitted ${quoted(job)}. The list shows all jobs again, so you can follow it.`);
      } else {
        listStatus(`Submitted ${quoted(job)}.`);
      }
      upsert(job);
      send({ type: 'subscribe', jobId: job.id, version: job.version });
      return job;
    } catch (e) {
      if (e.status !== 401) {
        $('form-error').textContent = describeProblem(e);
        markInvalid(e.problem || {});
      }
      return null;
    } finally {
      state.submitting = false;
      $('submit').disabled = false;
    }
  }

  // ---------- card actions ----------

  async function cancelJob(id) {
    try {
      const { body } = await api(`/api/v1/jobs/${id}`, { method: 'DELETE' });
      upsert(body);
    } catch (e) {
      if (e.status !== 401) listStatus(describeProblem(e));
    }
  }

  async function runAgain(id) {
    const old = state.jobs.get(id);
    const body = Object.fromEntries(Object.entries(old.spec).filter(([, v]) => v !== null && v !== ''));
    if (old.priority && old.priority !== 'normal') body.priority = old.priority;
    const job = await submit(body);
    if (job) {
      state.rerunAs.set(id, job.id);
      const card = state.cards.get(id);
      if (card) renderCard(card, state.jobs.get(id));
    }
  }

  function showJob(id) {
    const card = state.cards.get(id);
    if (!card) return;
    card.scrollIntoView({ block: 'center' });
    card.focus();
  }

  async function hideJob(id) {
    const job = state.jobs.get(id);
    try {
      const { body } = await api(`/api/v1/jobs/${id}/hidden`, { method: 'PUT' });
      upsert(body);
      listStatus(`Removed ${quoted(job)} from the history.`, async () => {
        const { body: shown } = await api(`/api/v1/jobs/${id}/hidden`, { method: 'DELETE' });
        upsert(shown);
        listStatus(`${quoted(job)} is back in the history.`);
      });
      $('undo').focus();
    } catch (e) {
      if (e.status !== 401) listStatus(describeProblem(e));
    }
  }

  async function cancelWaiting() {
    const n = $('cancel-waiting').textContent.match(/\d+/);
    if (!confirm(`Cancel all your waiting jobs${n ? ` (${n[0]})` : ''}? Running jobs go on.`)) return;
    try {
      const { body } = await api('/api/v1/jobs/cancel-waiting', { method: 'POST' });
      listStatus(`Cancelled ${body.cancelled} waiting job${body.cancelled === 1 ? '' : 's'}.`);
    } catch (e) {
      if (e.status !== 401) listStatus(describeProblem(e));
    }
  }

  async function downloadAll(id) {
    const job = state.jobs.get(id);
    for (const image of job.images || []) {
      const a = document.createElement('a');
      a.href = await blobUrl(image.url);
      a.download = fileName(job, image);
      document.body.append(a);
      a.click();
      a.remove();
    }
  }

  function fileName(job, image) {
    const words = short(job.spec ? job.spec.prompt : 'image', 40).toLowerCase().replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    return `${words || 'image'}-${image.seed}-${image.index + 1}.png`;
  }

  /** The line above the list: what the last action did, optionally with Undo. */
  function listStatus(text, undo) {
    $('list-status-text').textContent = text;
    state.undo = undo || null;
    $('undo').hidden = !undo;
  }

  // ---------- lightbox ----------

  function openLightbox(jobId, index, opener) {
    state.lightbox = { jobId, index, opener };
    showLightboxImage();
    const dialog = $('lightbox');
    if (!dialog.open) dialog.showModal();
    $('lightbox-close').focus();
  }

  async function showLightboxImage() {
    const { jobId, index } = state.lightbox;
    const job = state.jobs.get(jobId);
    const images = job.images || [];
    const image = images[index];
    const n = images.length;
    $('lightbox-title').textContent = `${n > 1 ? `Image ${index + 1} of ${n}` : 'Image'} · seed ${image.seed} · ${short(job.spec.prompt, 50)}`;
    $('lightbox-prev').hidden = n < 2;
    $('lightbox-next').hidden = n < 2;
    const img = $('lightbox-image');
    img.alt = `Result ${index + 1} of ${quoted(job)}`;
    img.width = image.width;
    img.height = image.height;
    const url = await blobUrl(image.url);
    if (!state.lightbox || state.lightbox.index !== index || state.lightbox.jobId !== jobId) return;
    img.src = url;
    const download = $('lightbox-download');
    download.href = url;
    download.download = fileName(job, image);
    download.setAttribute('aria-label', `Download image ${index + 1} of ${quoted(job)}`);
  }

  function stepLightbox(delta) {
    if (!state.lightbox) return;
    const n = (state.jobs.get(state.lightbox.jobId).images || []).length;
    if (n < 2) return;
    state.lightbox.index = (state.lightbox.index + delta + n) % n;
    showLightboxImage();
  }

  // ---------- WebSocket ----------

  function connectSocket() {
    clearTimeout(state.wsTimer);
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    state.ws = ws;
    state.authenticated = false;
    setConnection('wait', 'connecting…');
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', apiKey: state.key }));
    ws.onmessage = (event) => onFrame(JSON.parse(event.data));
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (!state.key) return;
      const delay = Math.min(15000, 500 * 2 ** state.wsAttempt++);
      setConnection('off', `reconnecting in ${Math.round(delay / 1000)} s`);
      state.wsTimer = setTimeout(connectSocket, delay);
    };
  }

  function closeSocket() {
    clearTimeout(state.wsTimer);
    if (state.ws) {
      const ws = state.ws;
      state.ws = null;
      ws.close();
    }
    setConnection('off', 'offline');
  }

  function send(frame) {
    if (state.ws && state.authenticated) state.ws.send(JSON.stringify(frame));
  }

  function onFrame(frame) {
    switch (frame.type) {
      case 'authenticated': {
        state.authenticated = true;
        state.wsAttempt = 0;
        setConnection('on', 'live');
        // resume: the server sends a fresh snapshot of every job whose version moved on since we saw it
        const versions = {};
        for (const [id, job] of state.jobs) versions[id] = job.version;
        send({ type: 'subscribe', scope: 'all', versions });
        send({ type: 'subscribe', scope: 'queue' });
        break;
      }
      case 'snapshot':
      case 'update':
        upsert(frame.job);
        break;
      case 'position': {
        const job = state.jobs.get(frame.jobId);
        if (job && job.status === 'QUEUED') {
          if (job.position != null && frame.position > job.position) state.movedBack.add(job.id);
          else if (job.position != null && frame.position < job.position) state.movedBack.delete(job.id);
          job.position = frame.position;
          job.eta = frame.eta;
          // a position frame leaves out "returned": it changes only with the job (its update frame)
          if (frame.waiting) job.waiting = Object.assign({}, frame.waiting, { returned: job.waiting && job.waiting.returned });
          const card = state.cards.get(frame.jobId);
          if (card) renderCard(card, job);
        }
        break;
      }
      case 'queue':
        showQueue(frame.queue);
        break;
      case 'preview':
        showPreview(frame);
        break;
      case 'error':
        if (frame.code === 'unauthorized') signOut('Your API key is no longer accepted. Sign in with a valid key.');
        if (frame.code === 'key-disabled') signOut('This API key was disabled. Sign in with another key.');
        break;
      default:
        break;
    }
  }

  function setConnection(kind, text) {
    $('conn-dot').className = `dot ${kind}`;
    setText($('conn-text'), text);
  }

  // ---------- wiring ----------

  $('key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) {
      $('key-error').textContent = 'Paste your API key first.';
      return;
    }
    state.key = key;
    try {
      await request('/api/v1/me');
      $('key-input').value = '';
      localStorage.setItem(KEY_STORAGE, key);
      start();
    } catch (e) {
      state.key = null;
      $('key-error').textContent = e.status === 401
        ? 'This API key was not accepted. Check that you copied all of it, or ask for a new one.'
        : describeProblem(e);
      $('key-input').focus();
    }
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('notify').addEventListener('click', async () => {
    if (localStorage.getItem(NOTIFY_STORAGE) === 'on' && Notification.permission === 'granted') {
      localStorage.removeItem(NOTIFY_STORAGE);
    } else if ((await Notification.requestPermission()) === 'granted') {
      localStorage.setItem(NOTIFY_STORAGE, 'on');
    }
    renderNotifyButton();
  });
  $('job-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (state.submitting) return;
    if (!$('prompt').value.trim()) {
      $('form-error').textContent = 'Write a prompt first.';
      $('prompt').setAttribute('aria-invalid', 'true');
      $('prompt').focus();
      return;
    }
    if (await submit(readForm())) $('prompt').select();
  });
  $('job-form').addEventListener('input', (event) => {
    if (event.target.getAttribute && event.target.getAttribute('aria-invalid')) event.target.removeAttribute('aria-invalid');
  });
  $('prompt').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!state.submitting) $('job-form').requestSubmit();
    }
  });
  $('filter').addEventListener('change', () => {
    state.filter = $('filter').value;
    loadJobs(true);
  });
  let searchTimer = null;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      const query = $('search').value.trim();
      if (query === state.query) return;
      state.query = query;
      loadJobs(true);
    }, 250);
  });
  $('cancel-waiting').addEventListener('click', cancelWaiting);
  $('undo').addEventListener('click', () => {
    const undo = state.undo;
    listStatus('');
    if (undo) undo().catch((e) => listStatus(describeProblem(e)));
  });
  $('load-more').addEventListener('click', () => loadJobs(false));
  $('checkpoint').addEventListener('focus', () => loadOptions());
  $('lightbox-close').addEventListener('click', () => $('lightbox').close());
  $('lightbox-prev').addEventListener('click', () => stepLightbox(-1));
  $('lightbox-next').addEventListener('click', () => stepLightbox(1));
  $('lightbox').addEventListener('keydown', (event) => {
    if (event.key === 'ArrowLeft') stepLightbox(-1);
    if (event.key === 'ArrowRight') stepLightbox(1);
  });
  $('lightbox').addEventListener('click', (event) => {
    if (event.target === $('lightbox')) $('lightbox').close(); // a click on the backdrop
  });
  $('lightbox').addEventListener('close', () => {
    const opener = state.lightbox && state.lightbox.opener;
    state.lightbox = null;
    if (opener && opener.isConnected) opener.focus();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.unseen > 0) {
      state.unseen = 0;
      showUnseen();
    }
  });
  // a running job that stopped moving says so, counting the seconds
  setInterval(() => {
    for (const [id, job] of state.jobs) {
      if (job.status === 'RUNNING' && state.cards.has(id) && stalledSeconds(job)) renderCard(state.cards.get(id), job);
    }
  }, 1000);
  window.addEventListener('hashchange', () => {
    if (takeKeyFromLink()) start();
  });

  takeKeyFromLink();
  if (state.key) start(); else showSignIn();
})();
