// TypeScript, run by k6 as it is (no build step): types, an interface, a typed local module.
import http from 'k6/http';
import { statusIs, type Expectation } from './lib/checks.ts';

interface Target {
  url: string;
  expect: Expectation;
}

const target: Target = { url: `${__ENV.BASE_URL}/typed`, expect: { status: 200 } };

export const options = { vus: 2, iterations: 40 };

export default function (): void {
  const res = http.get(target.url);
  statusIs(res, target.expect);
}
