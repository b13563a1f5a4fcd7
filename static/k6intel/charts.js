// uPlot charts as every page draws them: a chart fills its box and follows its width; a line spans gaps.
// `drawSpecs` draws the server's chart specs (runs/engine/charts.py): reusable by any page that loads uPlot
// and this file and embeds a spec as JSON — one x axis of elapsed seconds shared by every chart, a crosshair
// and a zoom synced across them (drag to zoom, double-click resets all), colours from the page's CSS
// variables (light or dark), limits as dashed lines, stage changes and the breaking point as marks.
window.K6Charts = (function () {
  'use strict';
  const HEIGHT = 220;
  const CATEGORICAL = 9;  // --chart-c0 … --chart-c8
  // Below this width a chart draws two value axes at most (the first left, the second right): four would
  // leave a phone little plot. The others' values are read in the legend, which says so.
  const NARROW_PX = 600;

  // `extra`: uPlot options over these, and `xLabel`, what the legend calls the x value.
  function chart(id, series, data, extra) {
    const box = document.getElementById(id);
    if (!box || typeof uPlot === 'undefined') return null;
    const { xLabel = 't (s)', ...overrides } = extra || {};
    const options = Object.assign({
      width: Math.max(box.clientWidth, 280), height: HEIGHT,
      scales: { x: { time: false } },
      axes: [themedAxis({ label: 'seconds' }), themedAxis({})],
      series: [{ label: xLabel }].concat(series),
    }, overrides);
    const plot = new uPlot(options, data, box);
    new ResizeObserver(() => plot.setSize({ width: Math.max(box.clientWidth, 280), height: HEIGHT })).observe(box);
    return plot;
  }

  function line(label, colour, extra) {
    return Object.assign({ label: label, stroke: colour, width: 1.5, spanGaps: true }, extra || {});
  }

  // --- theme: the CSS variables of the current colour scheme ---------------------------------

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function colour(name) {
    return cssVar(`--chart-${name}`) || cssVar(`--chart-c${Math.abs(hash(name)) % CATEGORICAL}`);
  }

  function hash(text) {
    let h = 0;
    for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) | 0;
    return h;
  }

  function themedAxis(axis) {
    return Object.assign({ stroke: cssVar('--ink'), grid: { stroke: cssVar('--line'), width: 1 }, ticks: { stroke: cssVar('--line') } }, axis);
  }

  // --- numbers: round ticks, never 1e-9 -------------------------------------------------------

  function formatNumber(value) {
    if (value === null || value === undefined) return '–';
    const rounded = Number(Number(value).toPrecision(6));
    return Math.abs(rounded) >= 1000 ? rounded.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(rounded);
  }

  function niceCeiling(value) {
    const exponent = Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      const top = step * Math.pow(10, exponent);
      if (top >= value) return top;
    }
    return Math.pow(10, exponent + 1);
  }

  // --- spec charts ----------------------------------------------------------------------------

  function specOptions(spec, chartSpec, width) {
    const narrow = width < NARROW_PX;
    const scales = { x: { time: false } };
    chartSpec.axes.forEach((axis) => {
      scales[axis.scale] = axis.range
        ? { range: axis.range }
        : { range: (u, min, max) => [0, niceCeiling(Math.max(max || 0, 1))] };  // live: follow the data
    });
    const places = spec.x;  // charts over runs: x is each run's place, named; else elapsed seconds
    if (places) scales.x.range = [-0.4, Math.max(spec.t.length - 1, 1) + 0.6];  // room for the last run's slanted name
    const xAxis = places
      ? { label: places.label, splits: () => spec.t, values: (u, ticks) => ticks.map((i) => places.names[i] ?? ''), rotate: -30, size: 64 }
      : { label: 'elapsed (s)', values: (u, ticks) => ticks.map(formatNumber) };
    const axes = [themedAxis(xAxis)].concat(
      chartSpec.axes.map((axis, index) => themedAxis({
        scale: axis.scale, side: axis.side === 'right' ? 1 : 3, label: axis.label,
        show: !narrow || index < 2,
        grid: { show: axis.side !== 'right', stroke: cssVar('--line'), width: 1 },
        values: (u, ticks) => ticks.map(formatNumber), size: narrow ? 44 : 56,
      })));
    const xValue = places
      ? (u, v) => (v === null || v === undefined ? '–' : places.names[v] ?? '–')
      : (u, v) => (v === null || v === undefined ? '–' : `${v} s`);
    const series = [{ label: places ? 'run' : 'elapsed', value: xValue }].concat(
      chartSpec.series.map((s) => ({
        label: s.label, scale: s.scale, stroke: colour(s.colour), width: 1.5, spanGaps: true,
        points: { show: Boolean(places) },
        value: (u, v) => (v === null || v === undefined ? '–' : `${formatNumber(v)} ${s.unit}`),
      })));
    return {
      width: width, height: HEIGHT, scales: scales, axes: axes, series: series,
      cursor: { sync: { key: spec.syncKey, setSeries: false }, drag: { x: true, y: false } },
      hooks: { draw: [(u) => drawMarks(u, chartSpec, spec.annotations || [])] },
    };
  }

  // Limits that fit as dashed horizontal lines; annotations as dotted vertical ones, labelled.
  function drawMarks(u, chartSpec, annotations) {
    const ctx = u.ctx, ratio = window.devicePixelRatio || 1, { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    ctx.lineWidth = 1.5 * ratio;
    for (const ref of chartSpec.references.filter((r) => r.drawn)) {
      const y = u.valToPos(ref.value, ref.scale, true);
      ctx.strokeStyle = ctx.fillStyle = colour('limit');
      ctx.setLineDash([6 * ratio, 4 * ratio]);
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
      ctx.fillText(`${ref.label} (${formatNumber(ref.value)} ${ref.unit})`, left + 4 * ratio, y - 4 * ratio);
    }
    ctx.setLineDash([2 * ratio, 3 * ratio]);
    for (const mark of annotations) {
      const x = u.valToPos(mark.t, 'x', true);
      if (x < left || x > left + width) continue;
      ctx.strokeStyle = ctx.fillStyle = colour(mark.kind === 'stage' ? 'stage' : 'event');
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      // Stage changes are many and listed under the charts; the breaking point and the recovery are named here.
      if (mark.kind !== 'stage') ctx.fillText(mark.label, x + 3 * ratio, top + 12 * ratio);
    }
    ctx.restore();
  }

  // Every chart of a spec in its box `#chart-<id>`, zoomed together: a zoom of one (drag) sets the x scale
  // of all; double-click resets one, and so all. Redrawn when the colour scheme changes.
  function drawSpecs(spec) {
    spec.syncKey = spec.syncKey || 'run';
    const group = { plots: [], spec: spec };
    const draw = () => {
      group.plots.forEach((plot) => { plot.observer.disconnect(); plot.destroy(); });
      group.plots = spec.charts.map((chartSpec) => drawOne(group, chartSpec)).filter(Boolean);
    };
    group.redraw = draw;
    draw();
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', draw);
    return group;
  }

  function drawOne(group, chartSpec) {
    const box = document.getElementById(`chart-${chartSpec.id}`);
    if (!box || typeof uPlot === 'undefined') return null;
    const spec = group.spec;
    const options = specOptions(spec, chartSpec, Math.max(box.clientWidth, 260));
    options.hooks.setScale = [(u, key) => {
      if (key !== 'x') return;
      box.dataset.xMin = u.scales.x.min;  // what a script (or a test) reads as the chart's zoom
      box.dataset.xMax = u.scales.x.max;
      syncZoom(group, u);
    }];
    const data = [spec.t].concat(chartSpec.series.map((s) => s.values));
    const plot = new uPlot(options, data, box);
    box.dataset.series = chartSpec.series.length;
    box.dataset.axesShown = options.axes.slice(1).filter((axis) => axis.show).length;  // read by the tests
    const hidden = chartSpec.axes.slice(2).map((axis) => axis.label);
    const note = box.parentElement.querySelector('.narrow-axes-note');
    if (note) note.remove();
    if (hidden.length && !options.axes[3].show) {
      const p = document.createElement('p');
      p.className = 'muted chart-note narrow-axes-note';
      p.textContent = `At this width the ${hidden.join(' and ')} axes are not drawn: hover or tap to read their values.`;
      box.after(p);
    }
    const narrow = box.clientWidth < NARROW_PX;
    plot.observer = new ResizeObserver(() => {
      // Crossing NARROW_PX shows or hides axes: that takes new options, so the group is drawn again.
      if ((box.clientWidth < NARROW_PX) !== narrow) window.requestAnimationFrame(group.redraw);
      else plot.setSize({ width: Math.max(box.clientWidth, 260), height: HEIGHT });
    });
    plot.observer.observe(box);
    return plot;
  }

  function syncZoom(group, source) {
    if (group.zooming) return;
    group.zooming = true;
    const { min, max } = source.scales.x;
    group.plots.forEach((plot) => { if (plot !== source) plot.setScale('x', { min: min, max: max }); });
    group.zooming = false;
  }

  // Live: append a second to a spec's charts (values keyed by each series' `key`).
  function setData(group, t, columns) {
    group.spec.t = t;
    group.plots.forEach((plot, index) => {
      const chartSpec = group.spec.charts[index];
      chartSpec.series.forEach((s, i) => { s.values = columns[i]; });
      plot.setData([t].concat(columns));
    });
  }

  return { chart: chart, line: line, drawSpecs: drawSpecs, setData: setData, formatNumber: formatNumber };
})();
