// The MDN HTTP Observatory's own tests and grader (npm @mdn/mdn-http-observatory, pinned in
// package.json), run on responses the platform fetched under its target policy (scanners/headers.py)
// instead of the Observatory's own retriever. Reads one JSON document on stdin, writes one on stdout:
// what `mdn-http-observatory-scan` prints ({scan, tests}), from the same functions it calls.
import { pathToFileURL } from "node:url";

import { AxiosHeaders } from "axios";
import { CookieJar } from "tough-cookie";

import { ALGORITHM_VERSION, ALL_TESTS, NUM_TESTS } from "@mdn/mdn-http-observatory/src/constants.js";
import { MINIMUM_SCORE_FOR_EXTRA_CREDIT } from "@mdn/mdn-http-observatory/src/grader/charts.js";
import {
  getGradeForScore,
  getRecommendation,
  getScoreDescription,
  getScoreModifier,
} from "@mdn/mdn-http-observatory/src/grader/grader.js";
import { parseHttpEquivHeaders } from "@mdn/mdn-http-observatory/src/retriever/utils.js";
import { HTML_TYPES, Requests } from "@mdn/mdn-http-observatory/src/types.js";

// Headers Node's http module keeps only the first of when a response repeats them (the rest it joins
// with ", ", and Set-Cookie it keeps as a list).
const FIRST_ONLY = new Set([
  "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
  "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
  "proxy-authorization", "referer", "retry-after", "server", "user-agent",
]);

// A response as axios gives it to the Observatory under Node: lower-case header names, duplicates
// combined as Node combines them, and a request object without readable headers.
function response(fetched) {
  if (!fetched) return null;
  const merged = new Map();
  for (const [name, value] of fetched.headers) {
    const key = name.toLowerCase();
    if (key === "set-cookie") merged.set(key, [...(merged.get(key) ?? []), value]);
    else if (!merged.has(key)) merged.set(key, value);
    else if (!FIRST_ONLY.has(key)) merged.set(key, `${merged.get(key)}, ${value}`);
  }
  const headers = new AxiosHeaders();
  for (const [key, value] of merged) headers.set(key, value);
  return { status: fetched.status, headers, data: fetched.body, verified: fetched.verified, request: {} };
}

function history(chain) {
  return (chain ?? []).map((hop) => ({ url: new URL(hop.url), status: hop.status }));
}

export function requestsFrom(input) {
  const requests = new Requests(input.hostname);
  const http = response(input.http?.response);
  const https = response(input.https?.response);
  requests.responses.http = http;
  requests.responses.https = https;
  // As the Observatory's retriever does: the http session's redirects stand for both.
  requests.responses.httpRedirects = history(input.http?.chain);
  requests.responses.httpsRedirects = history(input.http?.chain);
  const chosen = https ? input.https : input.http;
  requests.responses.auto = https ?? http;
  const jar = new CookieJar();
  for (const { url, header } of input.cookies ?? []) {
    try {
      jar.setCookieSync(header, url, { ignoreError: true });
    } catch {
      // a cookie the jar refuses is not one a browser would keep either
    }
  }
  requests.session = { url: new URL(chosen.url), jar, redirectHistory: history(chosen.chain) };
  requests.resources.path = requests.responses.auto?.data ?? null;
  const cors = response(input.cors);
  requests.responses.cors = cors ? { ...cors, verified: requests.responses.auto?.verified ?? false } : null;
  const auto = requests.responses.auto;
  if (auto) {
    const type = auto.headers["content-type"]?.split(";")[0];
    auto.httpEquiv = HTML_TYPES.has(type) && requests.resources.path
      ? parseHttpEquivHeaders(requests.resources.path, chosen.url)
      : new Map();
  }
  return requests;
}

// The scoring of the Observatory's scanner (src/scanner/index.js), on these requests.
export function score(requests) {
  const results = ALL_TESTS.map((test) => test(requests));
  let passed = 0;
  let withExtraCredit = 100;
  let uncurved = 100;
  for (const result of results) {
    if (result.result) {
      result.scoreModifier = getScoreModifier(result.result);
      result.scoreDescription = getScoreDescription(result.result);
      result.recommendation = getRecommendation(result.result);
      passed += result.pass ? 1 : 0;
      withExtraCredit += result.scoreModifier;
      if (result.scoreModifier < 0) uncurved += result.scoreModifier;
    }
  }
  const final = getGradeForScore(uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? withExtraCredit : uncurved);
  const tests = Object.fromEntries(results.map((result) => [result.constructor.name, result]));
  return {
    scan: {
      algorithmVersion: ALGORITHM_VERSION,
      grade: final.grade,
      score: final.score,
      statusCode: requests.responses.auto?.status ?? null,
      testsPassed: passed,
      testsFailed: NUM_TESTS - passed,
      testsQuantity: NUM_TESTS,
    },
    tests,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write(JSON.stringify(score(requestsFrom(input))));
}
