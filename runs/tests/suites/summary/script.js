// handleSummary writing the team's own reports, with the constructs a regex once misread as file writes.
import http from 'k6/http';

export const options = { iterations: 4, thresholds: { http_req_duration: ['p(95)<5000'] } };

export default function () {
  http.get(`${__ENV.BASE_URL}/summary`);
}

function verdict(data) {
  const failed = Object.values(data.metrics).some((m) => m.thresholds && Object.values(m.thresholds).some((t) => !t.ok));
  switch (failed ? 'failed' : 'passed') {
    case "failed":
      return '❌ failed';
    case "passed":
      return '✅ passed';
  }
  return '?';
}

export function handleSummary(data) {
  const p95 = data.metrics.http_req_duration.values['p(95)'];
  console.log(p95 < 5000 ? "✅ p95 within budget" : "❌ p95 over budget");
  const json = { "p95_ms": p95, "requests": data.metrics.http_reqs.values.count, "verdict": verdict(data) };
  return {
    'summary.html': `<html><body><h1>${verdict(data)}</h1><p>p95 ${p95.toFixed(1)} ms</p></body></html>`,
    'summary.json': JSON.stringify(json),
    stdout: `custom summary: ${json.requests} requests\n`,
  };
}
