// The run page: live progress over the websocket while the run goes, the result charts afterwards.
// The server replays every stored event on connect, so a reload or a late visit rebuilds the same view.
(function () {
  'use strict';
  const config = JSON.parse(document.getElementById('run-config').textContent);
  const specs = JSON.parse(document.getElementById('chart-specs').textContent);
  const { drawSpecs, setData } = window.K6Charts;

  // --- after the run: the stored per-second series, as the server's chart specs ----------------

  function drawResults() {
    if (specs.t.length) drawSpecs(specs);
  }

  // --- while it runs: events from the websocket ------------------------------------------------

  const live = { t: [], rps: [], vus: [], p95: [], errors: [] };
  let liveCharts = null;
  let lastSeq = 0, ended = false, retryMs = 1000;

  function setupLiveCharts() {
    liveCharts = drawSpecs(specs);
  }

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function number(value, digits) {
    return value === null || value === undefined ? '–' : Number(value).toFixed(digits);
  }

  function setStage(stage, status) {
    const steps = Array.from(document.querySelectorAll('#stepper li'));
    const index = steps.findIndex((li) => li.dataset.key === stage);
    if (index < 0) return;
    steps.forEach((li, i) => {
      li.dataset.state = i < index ? 'done' : i === index ? 'current' : 'pending';
      if (i === index) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
    });
    if (status) text('run-status', status);
  }

  function onMetrics(data) {
    live.t.push(data.t);
    live.rps.push(data.rps);
    live.vus.push(data.vus);
    live.p95.push(data.p95_ms);
    live.errors.push(100 * data.error_rate);
    if (liveCharts) setData(liveCharts, live.t, [live.rps, live.vus, live.p95, live.errors]);  // the overview's series order
    text('live-vus', data.vus);
    text('live-rps', number(data.rps, 0));
    text('live-p95', number(data.p95_ms, 1));
    text('live-errors', number(100 * data.error_rate, 2) + ' %');
    text('live-iterations', data.iterations);
    text('live-time', `${Math.round(data.elapsed_s)} s / ${Math.round(data.remaining_s)} s`);
    const done = Math.min(100, Math.round(100 * data.elapsed_s / Math.max(1, config.planned_s)));
    const bar = document.getElementById('live-progress');
    bar.setAttribute('aria-valuenow', done);
    bar.firstElementChild.style.width = done + '%';
    const section = document.getElementById('live');
    section.dataset.metricsCount = live.t.length;
    text('live-note', 'Running: one point per second of the load test.');
  }

  function onLog(data) {
    if (!config.load_running) return;  // the live log is only shown while k6 runs; the result has the whole log
    const log = document.getElementById('live-log');
    const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent += data.lines.join('\n') + '\n' + (data.dropped ? `… ${data.dropped} more lines\n` : '');
    if (follow) log.scrollTop = log.scrollHeight;
  }

  function onEnd(data) {
    ended = true;
    setStage(data.status === 'done' ? 'done' : '', data.status);
    const verdict = data.verdict ? `, ${data.verdict.replace('_', ' ')}` : '';
    text('live-note', `The run has ended (${data.status}${verdict}). Loading the full results…`);
    reloadSoon();
  }

  // Results that exist on the server but not on this page (k6 finished, an analyzer finished): reload to show them.
  let reloading = false;
  function reloadSoon() {
    if (reloading) return;
    reloading = true;
    setTimeout(() => window.location.reload(), 600);
  }

  function onStage(event) {
    if (event.seq <= config.rendered_seq) return;  // history this page was drawn from: status and stepper already show it
    setStage(event.data.stage, event.data.status);
    // Cancel stops k6; once k6 has ended there is nothing left for it to stop.
    if (!['', 'queued', 'k6'].includes(event.data.stage)) document.getElementById('cancel-form')?.remove();
  }

  function onResults(event) {
    document.getElementById('cancel-form')?.remove();
    if (event.seq > config.rendered_seq) reloadSoon();  // stored after this page was drawn
  }

  function handle(event) {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    if (event.type === 'stage') onStage(event);
    else if (event.type === 'metrics') onMetrics(event.data);
    else if (event.type === 'log') onLog(event.data);
    else if (event.type === 'results') onResults(event);
    else if (event.type === 'end' && event.seq > config.rendered_seq) onEnd(event.data);
  }

  function connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/runs/${config.id}/`);
    socket.onopen = () => { retryMs = 1000; };
    socket.onmessage = (message) => handle(JSON.parse(message.data));
    socket.onclose = (close) => {
      if (ended) return;
      if (close.code === 4401 || close.code === 4404) {
        text('live-note', 'This page can no longer follow the run (signed out?). Reload to try again.');
        return;
      }
      text('live-note', 'Connection lost; reconnecting…');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  // --- analyzer tabs: arrow keys move between them, as the ARIA tabs pattern says --------------

  function setupTabs() {
    const tabs = Array.from(document.querySelectorAll('[role=tab]'));
    const select = (tab) => {
      tabs.forEach((other) => {
        const on = other === tab;
        other.setAttribute('aria-selected', on);
        other.tabIndex = on ? 0 : -1;
        document.getElementById(other.getAttribute('aria-controls')).hidden = !on;
      });
    };
    tabs.forEach((tab, i) => {
      tab.addEventListener('click', () => select(tab));
      tab.addEventListener('keydown', (key) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[key.key];
        if (!step) return;
        const next = tabs[(i + step + tabs.length) % tabs.length];
        select(next);
        next.focus();
      });
    });
    if (tabs.length) select(tabs[0]);
  }

  setupTabs();
  if (config.load_running) setupLiveCharts();
  else drawResults();
  if (config.live) connect();
})();
