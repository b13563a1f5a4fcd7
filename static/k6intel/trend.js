// The test page's trend: each finished run's numbers by run order, the points tagged with their variant and
// git SHA and the baseline marked; hovering a point shows the run's labels, clicking it opens the run.
(function () {
  'use strict';
  const { chart, line } = window.K6Charts;
  const trend = JSON.parse(document.getElementById('trend-data').textContent);
  const tip = document.getElementById('trend-tip');
  const COLOURS = { p95: '#f58518', p99: '#e45756', rps: '#4c78a8', errors: '#c62828', score: '#54a24b', baseline: '#5b4cdb' };
  const MAX_TAGGED = 40;  // beyond this many runs the tags would overlap: hovering still tells

  function measured(label, colour) {
    return line(label, colour, { width: 2, points: { show: true, size: 7, fill: colour } });
  }

  // The baseline's value alone, drawn as a large ring and no line.
  function baseline(values) {
    return {
      series: { label: 'baseline', stroke: COLOURS.baseline, paths: () => null,
        points: { show: true, size: 16, width: 3, stroke: COLOURS.baseline, fill: 'rgba(91,76,219,.15)' } },
      values: values.map((value, index) => (index === trend.baseline ? value : null)),
    };
  }

  function showTip(plot) {
    const index = plot.cursor.idx;
    if (index === null || index === undefined || plot.cursor.left < 0) {
      tip.hidden = true;
      return;
    }
    const box = plot.over.getBoundingClientRect();
    tip.textContent = trend.tips[index];
    tip.hidden = false;
    tip.style.left = `${Math.min(box.left + plot.valToPos(trend.n[index], 'x') + 14, window.innerWidth - tip.offsetWidth - 8)}px`;
    tip.style.top = `${box.top + plot.cursor.top + 14}px`;
  }

  function drawTags(plot) {
    if (trend.n.length > MAX_TAGGED) return;
    const ctx = plot.ctx, ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    ctx.fillStyle = '#5b6878';
    ctx.textAlign = 'center';
    trend.tags.forEach((tag, index) => {
      const top = trend.p99_ms[index] ?? trend.p95_ms[index];
      if (!tag || top === null) return;
      ctx.fillText(tag, plot.valToPos(trend.n[index], 'x', true), plot.valToPos(top, 'y', true) - 9 * ratio);
    });
    ctx.restore();
  }

  function draw(id, yLabel, lines, columns, hooks) {
    const markers = trend.baseline === null ? [] : [baseline(columns[0])];
    const plot = chart(id, lines.concat(markers.map((m) => m.series)), [trend.n].concat(columns, markers.map((m) => m.values)), {
      xLabel: 'run',
      axes: [{ label: 'run', values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? `#${t}` : '')) }, { label: yLabel }],
      cursor: { drag: { x: false, y: false } },
      hooks: Object.assign({ setCursor: [showTip] }, hooks || {}),
    });
    if (!plot) return;
    document.getElementById(id).dataset.points = columns[0].filter((value) => value !== null).length;
    plot.over.addEventListener('mouseleave', () => { tip.hidden = true; });
    plot.over.addEventListener('click', () => {
      const index = plot.cursor.idx;
      if (index !== null && index !== undefined) window.location.href = trend.urls[index];
    });
  }

  draw('chart-trend-latency', 'ms', [measured('p95 ms', COLOURS.p95), measured('p99 ms', COLOURS.p99)],
    [trend.p95_ms, trend.p99_ms], { draw: [drawTags] });
  draw('chart-trend-rps', 'req/s', [measured('req/s', COLOURS.rps)], [trend.rps]);
  draw('chart-trend-errors', '%', [measured('errors %', COLOURS.errors)], [trend.error_percent]);
  draw('chart-trend-score', 'score', [measured('score', COLOURS.score)], [trend.score]);
})();
