// Forge Queue web page: plain JavaScript, no build step. Talks to the REST API (/api/v1) and the WebSocket
// relay (/ws, protocol in api-gateway/PROTOCOL.md). Everything shown comes from the server, so a reload
// shows the same as a live page; a dropped WebSocket reconnects and re-syncs by itself.
(() => {
  'use strict';

  const KEY_STORAGE = 'forgequeue.apiKey';
  const PAGE_SIZE = 20;
  const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
  const $ = (id) => document.getElementById(id);

  const state = {
    key: localStorage.getItem(KEY_STORAGE),
    jobs: new Map(),        // id -> job view (as the API returns it)
    cards: new Map(),       // id -> card element
    imageUrls: new Map(),   // image url -> blob: URL
    nextCursor: null,
    filter: '',
    ws: null,
    wsAttempt: 0,
    wsTimer: null,
    authenticated: false,
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

  async function api(path, options = {}) {
    const headers = Object.assign({ Authorization: `Bearer ${state.key}` }, options.headers || {});
    let response;
    try {
      response = await fetch(path, Object.assign({}, options, { headers }));
    } catch (e) {
      throw new ApiError(0, { detail: 'The server cannot be reached. Check your connection and try again.' });
    }
    if (response.status === 401) {
      signOut('Your API key was not accepted. Please sign in again.');
      throw new ApiError(401, { detail: 'Not signed in.' });
    }
    const type = response.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      throw new ApiError(response.status, body, response.headers.get('Retry-After'));
    }
    return { status: response.status, body, headers: response.headers };
  }

  function describeProblem(err) {
    const p = err.problem || {};
    const lines = [];
    if (err.status === 429) {
      const retry = err.retryAfter;
      lines.push(p.detail || 'Too many jobs in progress.');
      if (retry) lines.push(`Try again in ${retry} s.`);
    } else {
      lines.push(p.detail || p.title || err.message);
    }
    for (const e of p.errors || []) lines.push(`${e.field}: ${e.message}`);
    return lines.join('\n');
  }

  // ---------- sign in ----------

  function showSignIn(message) {
    $('app').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    $('key-error').textContent = message || '';
    $('key-input').focus();
  }

  function signOut(message) {
    localStorage.removeItem(KEY_STORAGE);
    state.key = null;
    closeSocket();
    state.jobs.clear();
    state.cards.clear();
    $('jobs').replaceChildren();
    showSignIn(message);
  }

  async function start() {
    $('sign-in').hidden = true;
    $('app').hidden = false;
    $('sign-out').hidden = false;
    try {
      await refreshQueue();
    } catch (e) {
      if (e.status === 401) return;
    }
    loadOptions();
    await loadJobs(true);
    connectSocket();
  }

  // ---------- queue stats and options ----------

  async function refreshQueue() {
    const { body } = await api('/api/v1/queue');
    const parts = [`${body.depth} queued`, `${body.running} running`,
      `${body.activeWorkers} worker${body.activeWorkers === 1 ? '' : 's'}`];
    if (body.meanJobSeconds != null) parts.push(`~${formatSeconds(body.meanJobSeconds)} per job`);
    $('queue-stats').textContent = parts.join(' · ');
  }

  async function loadOptions() {
    try {
      const { body } = await api('/api/v1/options');
      fillSelect($('sampler'), body.samplers || []);
      fillSelect($('checkpoint'), body.checkpoints || []);
    } catch (e) {
      // no list known: the server's defaults are used
    }
  }

  function fillSelect(select, names) {
    for (const name of names) {
      const o = document.createElement('option');
      o.value = name;
      o.textContent = name;
      select.append(o);
    }
  }

  // ---------- job list ----------

  async function loadJobs(reset) {
    if (reset) {
      state.nextCursor = null;
      state.jobs.clear();
      state.cards.clear();
      $('jobs').replaceChildren();
    }
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.filter) params.set('status', state.filter);
    if (state.nextCursor) params.set('cursor', state.nextCursor);
    try {
      const { body } = await api(`/api/v1/jobs?${params}`);
      for (const job of body.items) upsert(job, false);
      state.nextCursor = body.nextCursor || null;
    } catch (e) {
      if (e.status !== 401) $('form-error').textContent = describeProblem(e);
    }
    $('load-more').hidden = !state.nextCursor;
    $('empty').hidden = state.jobs.size > 0;
  }

  function matchesFilter(job) {
    return !state.filter || state.filter.split(',').includes(job.status);
  }

  /** Applies a job view if it is not older than what is shown; new jobs go first unless appended. */
  function upsert(job, prepend) {
    const known = state.jobs.get(job.id);
    if (known && job.version < known.version) return;
    const merged = Object.assign({}, known, job);
    if (known && job.position === undefined && job.status === 'QUEUED') {
      merged.position = known.position;  // update frames leave the position to position frames
      merged.eta = known.eta;
    }
    state.jobs.set(job.id, merged);
    let card = state.cards.get(job.id);
    if (!card) {
      if (!matchesFilter(merged)) return;
      card = createCard(job.id);
      state.cards.set(job.id, card);
      if (prepend) $('jobs').prepend(card); else $('jobs').append(card);
    }
    renderCard(card, merged);
    $('empty').hidden = true;
  }

  function createCard(id) {
    const card = $('job-card').content.firstElementChild.cloneNode(true);
    card.dataset.jobId = id;
    card.querySelector('.cancel').addEventListener('click', () => cancelJob(id));
    card.querySelector('.retry').addEventListener('click', () => retryJob(id));
    return card;
  }

  function renderCard(card, job) {
    const badge = card.querySelector('.badge');
    badge.className = `badge ${job.status}`;
    badge.textContent = job.status === 'RUNNING' ? `RUNNING ${job.progress || 0}%` : job.status;
    card.dataset.status = job.status;
    card.querySelector('.when').textContent = new Date(job.createdAt).toLocaleString();
    // an erased job (docs/data-retention.md) has an empty prompt and no images: say so instead
    const prompt = job.dataErased ? 'Prompt and images erased' : (job.spec ? job.spec.prompt : '');
    card.querySelector('.prompt').textContent = prompt;
    card.querySelector('.prompt').title = prompt;

    const where = card.querySelector('.where');
    if (job.status === 'QUEUED') {
      where.textContent = job.position ? `Position ${job.position} in the queue${etaText(job.eta)}` : 'Waiting in the queue';
    } else if (job.status === 'RUNNING') {
      where.textContent = job.cancelRequested ? 'Cancelling…' : 'Generating…';
    } else if (job.status === 'SUCCEEDED') {
      const seed = job.images && job.images[0] ? ` · seed ${job.images[0].seed}` : '';
      where.textContent = `Done${duration(job)}${seed}`;
    } else {
      where.textContent = '';
    }
    where.classList.toggle('position', job.status === 'QUEUED');

    const bar = card.querySelector('.bar');
    bar.hidden = job.status !== 'RUNNING';
    bar.querySelector('.fill').style.width = `${job.progress || 0}%`;

    const media = card.querySelector('.media');
    if (job.dataErased) {
      media.dataset.final = 'true';
      media.replaceChildren();
    } else if (job.status === 'SUCCEEDED' && job.images && media.dataset.final !== 'true') {
      media.dataset.final = 'true';
      media.classList.remove('preview');
      media.replaceChildren(...job.images.map((image) => imageFigure(job, image)));
    } else if (TERMINAL.has(job.status) && job.status !== 'SUCCEEDED') {
      media.replaceChildren();
    }

    const error = card.querySelector('.error-text');
    error.textContent = job.status === 'FAILED' && job.error ? job.error.message : '';
    card.querySelector('.cancel').hidden = TERMINAL.has(job.status) || job.cancelRequested;
    card.querySelector('.retry').hidden = !(job.status === 'FAILED' || job.status === 'CANCELLED') || !!job.dataErased;
  }

  function imageFigure(job, image) {
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = `Result ${image.index + 1} of "${job.spec ? job.spec.prompt : ''}"`;
    img.width = image.width;
    img.height = image.height;
    const link = document.createElement('a');
    link.textContent = 'Download';
    link.download = `forge-${job.id}-${image.index}.png`;
    figure.append(img, link);
    blobUrl(image.url).then((url) => {
      img.src = url;
      link.href = url;
    }).catch(() => {
      link.textContent = 'Image unavailable';
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
    if (!job || !card || job.status !== 'RUNNING') return;
    const media = card.querySelector('.media');
    media.classList.add('preview');
    let img = media.querySelector('img.live');
    if (!img) {
      img = document.createElement('img');
      img.className = 'live';
      img.alt = 'Live preview';
      media.replaceChildren(img);
    }
    img.src = `data:${frame.mimeType};base64,${frame.data}`;
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

  // ---------- actions ----------

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
    return body;
  }

  async function submit(body) {
    $('form-error').textContent = '';
    $('submit').disabled = true;
    try {
      const { body: job } = await api('/api/v1/jobs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
        body: JSON.stringify(body),
      });
      upsert(job, true);
      send({ type: 'subscribe', jobId: job.id, version: job.version });
      return true;
    } catch (e) {
      if (e.status !== 401) $('form-error').textContent = describeProblem(e);
      return false;
    } finally {
      $('submit').disabled = false;
    }
  }

  async function cancelJob(id) {
    try {
      const { body } = await api(`/api/v1/jobs/${id}`, { method: 'DELETE' });
      upsert(body, false);
    } catch (e) {
      if (e.status !== 401) alert(describeProblem(e));
    }
  }

  function retryJob(id) {
    const spec = state.jobs.get(id).spec;
    const body = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null && v !== ''));
    submit(body);
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
        break;
      }
      case 'snapshot':
      case 'update': {
        const isNew = !state.jobs.has(frame.job.id);
        upsert(frame.job, isNew);
        if (frame.type === 'update' && frame.job.status !== 'QUEUED') refreshQueue().catch(() => {});
        break;
      }
      case 'position': {
        const job = state.jobs.get(frame.jobId);
        const card = state.cards.get(frame.jobId);
        if (job && card && job.status === 'QUEUED') {
          job.position = frame.position;
          job.eta = frame.eta;
          renderCard(card, job);
        }
        break;
      }
      case 'preview':
        showPreview(frame);
        break;
      case 'error':
        if (frame.code === 'unauthorized') signOut('Your API key was not accepted. Please sign in again.');
        break;
      default:
        break;
    }
  }

  function setConnection(kind, text) {
    $('conn-dot').className = `dot ${kind}`;
    $('conn-text').textContent = text;
  }

  // ---------- wiring ----------

  $('key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    state.key = $('key-input').value.trim();
    $('key-input').value = '';
    try {
      await api('/api/v1/queue');
      localStorage.setItem(KEY_STORAGE, state.key);
      start();
    } catch (e) {
      if (e.status !== 401) $('key-error').textContent = describeProblem(e);
    }
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('job-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!$('prompt').value.trim()) {
      $('form-error').textContent = 'Write a prompt first.';
      return;
    }
    if (await submit(readForm())) $('prompt').select();
  });
  $('prompt').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) $('job-form').requestSubmit();
  });
  $('filter').addEventListener('change', () => {
    state.filter = $('filter').value;
    loadJobs(true);
  });
  $('load-more').addEventListener('click', () => loadJobs(false));
  setInterval(() => { if (state.key && !document.hidden) refreshQueue().catch(() => {}); }, 5000);

  // infra/local/up.sh prints a link with the key in the fragment (never sent to the server): take it and drop it.
  if (location.hash.startsWith('#key=')) {
    state.key = decodeURIComponent(location.hash.slice(5));
    localStorage.setItem(KEY_STORAGE, state.key);
    history.replaceState(null, '', location.pathname + location.search);
  }
  if (state.key) start(); else showSignIn();
})();
