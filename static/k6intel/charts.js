// uPlot charts as every page draws them: a chart fills its box and follows its width; a line spans gaps.
window.K6Charts = (function () {
  'use strict';
  const HEIGHT = 220;

  // `extra`: uPlot options over these, and `xLabel`, what the legend calls the x value.
  function chart(id, series, data, extra) {
    const box = document.getElementById(id);
    if (!box || typeof uPlot === 'undefined') return null;
    const { xLabel = 't (s)', ...overrides } = extra || {};
    const options = Object.assign({
      width: Math.max(box.clientWidth, 280), height: HEIGHT,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds' }, {}],
      series: [{ label: xLabel }].concat(series),
    }, overrides);
    const plot = new uPlot(options, data, box);
    new ResizeObserver(() => plot.setSize({ width: Math.max(box.clientWidth, 280), height: HEIGHT })).observe(box);
    return plot;
  }

  function line(label, colour, extra) {
    return Object.assign({ label: label, stroke: colour, width: 1.5, spanGaps: true }, extra || {});
  }

  return { chart: chart, line: line };
})();
