// The compare page: each measure per second with the base and the run as two lines on one elapsed-time axis.
(function () {
  'use strict';
  const { chart, line } = window.K6Charts;
  const series = JSON.parse(document.getElementById('compare-data').textContent);
  const COLOURS = { base: '#4c78a8', run: '#f58518' };  // the page's .key-base and .key-run

  for (const key of ['p95_ms', 'rps', 'error_percent']) {
    chart(`chart-compare-${key}`,
      [line('base', COLOURS.base, { width: 2 }), line('run', COLOURS.run, { width: 2 })],
      [series.t, series[key].base, series[key].run]);
  }
})();
